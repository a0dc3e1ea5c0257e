import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImageArchive } from '../src/image/archive.js';
import { flattenImage } from '../src/image/flatten.js';
import { dir, file, listTar, opaque, tarOf, whiteout, writeDockerSaveDir, writeOciLayout } from './helpers/layers.js';

async function withTmp<T>(fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), 'dpk-image-'));
  try {
    return await fn(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const LAYERS = () => [
  tarOf([dir('etc/'), file('etc/a', 'A'), dir('opt/'), file('opt/old', 'old'), file('gone', 'g')]),
  tarOf([whiteout('gone'), dir('opt/'), opaque('opt'), file('opt/new', 'new', { mode: 0o755 })]),
];

async function names(path: string, options = {}): Promise<string[]> {
  const source = await openImageArchive(path, options);
  try {
    const image = await flattenImage(source);
    return (await listTar(image.stream())).map((e) => e.name);
  } finally {
    await source.close();
  }
}

test('a docker save archive (tar file) is read without an engine and flattened', () =>
  withTmp(async (tmp) => {
    await writeDockerSaveDir(join(tmp, 'save'), LAYERS(), { repoTags: ['me/plugin:1.0'] });
    await execa('tar', ['-C', join(tmp, 'save'), '-cf', join(tmp, 'image.tar'), '.']);
    assert.deepEqual(await names(join(tmp, 'image.tar')), ['etc/', 'opt/', 'etc/a', 'opt/new']);
    const source = await openImageArchive(join(tmp, 'image.tar'));
    assert.equal(source.layers.length, 2);
    assert.equal(source.config.architecture, 'amd64');
    assert.match(source.layers[0]!.description, /^layer 1\/2 \(sha256:[0-9a-f]{12}\)$/);
  }));

test('an OCI layout directory and an OCI archive with gzip layers are read and verified', () =>
  withTmp(async (tmp) => {
    await writeOciLayout(join(tmp, 'oci'), LAYERS(), { refName: '1.0' });
    assert.deepEqual(await names(join(tmp, 'oci')), ['etc/', 'opt/', 'etc/a', 'opt/new']);
    await execa('tar', ['-C', join(tmp, 'oci'), '-cf', join(tmp, 'oci.tar'), '.']);
    assert.deepEqual(await names(join(tmp, 'oci.tar'), { ref: 'x:1.0' }), ['etc/', 'opt/', 'etc/a', 'opt/new']);
  }));

test('a layer blob that does not match its digest is refused, naming the layer', () =>
  withTmp(async (tmp) => {
    await writeOciLayout(join(tmp, 'oci'), LAYERS(), { corruptLayer: 1 });
    await assert.rejects(names(join(tmp, 'oci')), /layer 2\/2 \(sha256:[0-9a-f]{12}\)/);
  }));

test('a docker save layer that does not match the config diff_id is refused', () =>
  withTmp(async (tmp) => {
    const layers = LAYERS();
    await writeDockerSaveDir(join(tmp, 'save'), layers, { diffIds: [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`] });
    await execa('tar', ['-C', join(tmp, 'save'), '-cf', join(tmp, 'image.tar'), '.']);
    await assert.rejects(names(join(tmp, 'image.tar')), /^DpkError: layer 1\/2 \(sha256:111111111111\): uncompressed layer digest is sha256:[0-9a-f]{64}, but the image says sha256:1{64}/);
  }));

test('files that are not image archives give one clear line', () =>
  withTmp(async (tmp) => {
    await writeFile(join(tmp, 'junk.tar'), 'hello, not a tar'.repeat(100));
    await assert.rejects(openImageArchive(join(tmp, 'junk.tar')), /junk\.tar: not an image archive: .*checksum/);
    await assert.rejects(openImageArchive(join(tmp, 'missing.tar')), /missing\.tar: cannot read: ENOENT/);
    await mkdir(join(tmp, 'plain'));
    await writeFile(join(tmp, 'plain', 'x'), 'x');
    await execa('tar', ['-C', join(tmp, 'plain'), '-cf', join(tmp, 'plain.tar'), '.']);
    await assert.rejects(openImageArchive(join(tmp, 'plain.tar')), /neither a docker save archive \(no manifest\.json\) nor an OCI image layout/);
    await writeFile(join(tmp, 'empty.tar'), '');
    await assert.rejects(openImageArchive(join(tmp, 'empty.tar')), /neither a docker save archive/);
  }));

test('a truncated archive is refused when indexed', () =>
  withTmp(async (tmp) => {
    await writeDockerSaveDir(join(tmp, 'save'), LAYERS());
    await execa('tar', ['-C', join(tmp, 'save'), '-cf', join(tmp, 'image.tar'), '.']);
    await execa('truncate', ['-s', '3000', join(tmp, 'image.tar')]);
    await assert.rejects(openImageArchive(join(tmp, 'image.tar')), /not an image archive: archive is truncated/);
  }));

test('a gzip bomb layer streams through in bounded memory', () =>
  withTmp(async (tmp) => {
    const zeros = Buffer.alloc(64 << 20);
    const layer = tarOf([file('a', 'x'), file('zeros-1', zeros), file('zeros-2', zeros), file('zeros-3', zeros)]);
    await writeOciLayout(join(tmp, 'oci'), [layer]);
    const source = await openImageArchive(join(tmp, 'oci'));
    const before = process.memoryUsage().rss;
    const image = await flattenImage(source);
    let bytes = 0;
    for await (const chunk of image.stream()) bytes += (chunk as Buffer).length;
    assert.ok(bytes > 3 * (64 << 20));
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 96 << 20, `RSS grew by ${grown} bytes while streaming 192 MiB`);
  }));
