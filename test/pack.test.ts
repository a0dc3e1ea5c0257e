/**
 * dpk pack as a library call, on fixture archives (no engine): defaults from plugin.json, the --output artifact,
 * validation against the flattened rootfs, and the one-line errors for broken inputs and an unreachable engine.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pack, PackValidationError } from '../src/commands/pack.js';
import { createEngineClient } from '../src/engine/client.js';
import { DpkError } from '../src/errors.js';
import { dir, file, listTar, symlink, tarOf, whiteout, writeOciLayout } from './helpers/layers.js';

let work: string;
let busybox: Buffer;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dpk-pack-'));
  busybox = await readFile(existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox');
  await writeOciLayout(join(work, 'oci'), [
    tarOf([dir('bin/'), file('bin/busybox', busybox, { mode: 0o755 }), symlink('bin/sh', 'busybox'), file('plugin.sh', '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 }), file('tmpfile', 'x')]),
    tarOf([whiteout('tmpfile'), dir('run/')]),
  ]);
  await writeFile(join(work, 'config.json'), JSON.stringify(config()));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}) {
  return { Description: 'fixture', Documentation: 'https://example.invalid', Entrypoint: ['/plugin.sh'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'fx.sock' }, PropagatedMount: '/data', ...extra };
}

test('--output alone writes the plugin artifact from an OCI layout, with no engine', async () => {
  const result = await pack({ cwd: work, archive: 'oci', name: 'localhost:5000/me/fixture:2.0', output: 'out.tar', arch: 'amd64', engine: unreachable() });
  assert.equal(result.name, 'localhost:5000/me/fixture:2.0');
  assert.equal(result.plugin, undefined);
  assert.equal(result.rootfs.layers, 2);
  assert.equal(result.rootfs.files, 2);
  const entries = await listTar((async function* () { yield await readFile(join(work, 'out.tar')); })());
  assert.deepEqual(entries.map((e) => e.name), ['config.json', 'rootfs/', 'rootfs/bin/', 'rootfs/run/', 'rootfs/bin/busybox', 'rootfs/bin/sh', 'rootfs/plugin.sh']);
  assert.deepEqual(JSON.parse(entries[0]!.content!), config());
  assert.equal((await readdir(work)).filter((n) => n.endsWith('.dpk-tmp')).length, 0);
  // Same input, same artifact: the --output tar is reproducible.
  const again = await pack({ cwd: work, archive: 'oci', name: 'localhost:5000/me/fixture:2.0', output: 'out2.tar', arch: 'amd64', engine: unreachable() });
  assert.equal(again.digests.artifact, result.digests.artifact);
});

test('defaults come from plugin.json: name:tag and config', async () => {
  const project = join(work, 'project');
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'plugin.json'), JSON.stringify({ generator: 'x', type: 'volume', name: 'acme/vol', tag: '1.2.3', image: 'acme/vol-rootfs:1.2.3', config: 'plugin/config.json' }));
  await mkdir(join(project, 'plugin'));
  await writeFile(join(project, 'plugin', 'config.json'), JSON.stringify(config()));
  const result = await pack({ cwd: project, archive: join(work, 'oci'), output: 'p.tar', arch: 'amd64' });
  assert.equal(result.name, 'acme/vol:1.2.3');
  assert.equal(result.config, 'plugin/config.json');
});

test('config errors against the flattened rootfs stop pack and write nothing', async () => {
  await writeFile(join(work, 'bad.json'), JSON.stringify(config({ Entrypoint: ['/tmpfile'] })));
  await assert.rejects(
    pack({ cwd: work, archive: 'oci', name: 'me/bad', config: 'bad.json', output: 'bad.tar', arch: 'amd64', engine: unreachable() }),
    (error: unknown) => {
      assert.ok(error instanceof PackValidationError);
      assert.match(error.message, /^bad\.json: \d+ errors? against archive .*oci; nothing was created$/);
      assert.ok(error.result.findings.some((f) => f.severity === 'error' && f.path.startsWith('Entrypoint')), JSON.stringify(error.result.findings));
      return true;
    },
  );
  assert.ok(!existsSync(join(work, 'bad.tar')));
});

test('broken inputs are one-line errors with the right exit code', async () => {
  const cases: [Parameters<typeof pack>[0], RegExp, number][] = [
    [{ cwd: work, archive: 'oci', output: 'x.tar' }, /no plugin name: pass --name/, 2],
    [{ cwd: work, archive: 'oci', output: 'x.tar', name: 'Bad Name' }, /--name "Bad Name": contains whitespace/, 2],
    [{ cwd: work, archive: 'oci', output: 'x.tar', name: 'me/x', config: 'oci' }, /^oci: is a directory, not a config file$/, 1],
    [{ cwd: work, archive: 'oci', output: 'x.tar', name: 'me/x', config: 'nope.json' }, /^nope\.json: no such file$/, 1],
    [{ cwd: work, archive: 'missing.tar', output: 'x.tar', name: 'me/x' }, /missing\.tar: cannot read: ENOENT/, 1],
    [{ cwd: work, archive: 'config.json', output: 'x.tar', name: 'me/x' }, /config\.json: not an image archive/, 1],
    [{ cwd: work, archive: 'oci', output: 'nodir/x.tar', name: 'me/x', arch: 'amd64' }, /directory .*nodir does not exist/, 1],
    [{ cwd: work, image: 'x', archive: 'oci', build: true, name: 'me/x' }, /--build and --archive exclude each other/, 2],
  ];
  for (const [options, pattern, exitCode] of cases) {
    await assert.rejects(pack({ engine: unreachable(), ...options }), (error: unknown) => {
      assert.ok(error instanceof DpkError, String(error));
      assert.match(error.message, pattern);
      assert.equal(error.exitCode, exitCode, error.message);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  }
  assert.ok(!existsSync(join(work, 'x.tar')));
});

test('an engine that cannot be reached, or a DOCKER_HOST that is not a unix socket, is a clear error', async () => {
  await assert.rejects(pack({ cwd: work, archive: 'oci', name: 'me/x', engine: unreachable() }), /cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock: ENOENT/);
  assert.throws(() => createEngineClient({ host: 'tcp://127.0.0.1:2375' }), (error: DpkError) => error.exitCode === 2 && /unix socket only/.test(error.message));
  assert.throws(() => createEngineClient({ host: 'unix://relative.sock' }), /must be absolute/);
  assert.equal(createEngineClient({ env: {} }).host, 'unix:///var/run/docker.sock');
});

function unreachable() {
  return createEngineClient({ host: 'unix:///nonexistent/docker.sock' });
}
