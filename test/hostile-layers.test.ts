/**
 * The hostile-layer corpus, through the real CLI (node bin/dpk.js, built by `npm run build`): each case is a
 * `docker save` (or OCI) archive made here, run through `dpk pack --archive X --output out.tar` and
 * `dpk validate --rootfs X`. A refused case must exit 1 with one line naming the layer and the entry, leave no
 * out.tar (nor its temporary sibling) and nothing in TMPDIR; a harmless one must put the entry inside the rootfs,
 * where it is inert. In both, nothing may appear on the host outside the output the user named: each case runs in
 * its own sandbox whose every path is listed before and after, and hostile names aim at its "outside" directory.
 * No engine is used (DOCKER_HOST points at nothing).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { END_OF_ARCHIVE } from '../src/image/tar.js';
import {
  dataBlocks,
  dir,
  dockerSaveArchive,
  file,
  gnuLongHeader,
  hardlink,
  listTar,
  paxHeader,
  rawHeader,
  sha256,
  symlink,
  tarOf,
  writeOciLayout,
  type CompressedLayer,
  type ListedEntry,
} from './helpers/layers.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));

let root: string;
let base: Buffer;

before(async () => {
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  root = await mkdtemp(join(tmpdir(), 'dpk-hostile-'));
  const busybox = await readFile(existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox');
  // A plugin that validates: every hostile layer goes on top of it, so the refusal is the hostile layer's alone.
  base = tarOf([dir('bin/'), file('bin/busybox', busybox, { mode: 0o755 }), symlink('bin/sh', 'busybox'), file('plugin.sh', '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 })]);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Box {
  /** Everything the case may touch lives under here; it is listed before and after. */
  dir: string;
  /** The cwd of dpk: config.json, the archive, and out.tar when it succeeds. */
  work: string;
  /** dpk's TMPDIR: must be empty afterwards. */
  tmp: string;
  /** Where hostile names point: must stay empty. */
  outside: string;
}

let boxes = 0;
async function sandbox(): Promise<Box> {
  const box = join(root, `case-${++boxes}`);
  const b = { dir: box, work: join(box, 'work'), tmp: join(box, 'tmp'), outside: join(box, 'outside') };
  for (const d of [b.work, b.tmp, b.outside]) await mkdir(d, { recursive: true });
  const config = { Description: 'hostile fixture', Documentation: 'https://example.invalid', Entrypoint: ['/plugin.sh'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'fx.sock' }, PropagatedMount: '/data' };
  await writeFile(join(b.work, 'config.json'), JSON.stringify(config));
  return b;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dpk(args: string[], box: Box): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: box.tmp, NO_COLOR: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  delete env.DPK_DEBUG;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: box.work, env, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Every path under dir (lstat, never following), with its type: the host-side footprint of a run. */
async function footprint(dirPath: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dirPath)).sort()) {
    const info = await lstat(join(dirPath, name));
    const kind = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : 'special';
    out.push(`${prefix}${name} ${kind}`);
    if (info.isDirectory()) out.push(...(await footprint(join(dirPath, name), `${prefix}${name}/`)));
  }
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first line of a refusal: "error: layer N/M (sha256:…), entry "NAME": REASON". */
function refusal(layer: string, entry: string | undefined, reason: string): RegExp {
  const where = `layer ${escape(layer)} \\(sha256:[0-9a-f]{12}\\)${entry === undefined ? '' : `, entry "${escape(entry)}"`}`;
  return new RegExp(`^error: ${where}: ${reason}`);
}

interface HostileCase {
  name: string;
  /** Layers on top of the base layer (built per sandbox, so names can aim at its outside directory). */
  layers(box: Box): Buffer[];
  /** Write the archive some other way than a plain docker save of base + layers; returns its name in work/. */
  archive?(box: Box, layers: Buffer[]): Promise<string>;
  /** The first stderr line of a refusal. */
  refused?: (box: Box) => RegExp;
  /** For accepted cases: what out.tar must hold. */
  harmless?: (entries: Map<string, ListedEntry>, box: Box) => void;
}

const L = (entries: Parameters<typeof tarOf>[0]) => tarOf(entries);
const raw = (...parts: Buffer[]) => Buffer.concat([...parts, END_OF_ARCHIVE]);

const cases: HostileCase[] = [
  {
    name: 'an entry named ../ leaves the root',
    layers: () => [L([file('../outside/evil', 'x')])],
    refused: () => refusal('2/2', '../outside/evil', 'the name leaves the image root'),
  },
  {
    name: 'an entry whose inner .. climbs out',
    layers: () => [L([dir('usr/'), file('usr/../../outside/evil', 'x')])],
    refused: () => refusal('2/2', 'usr/../../outside/evil', 'the name leaves the image root'),
  },
  {
    name: 'an absolute entry name lands inside the rootfs',
    layers: (box) => [L([file(`${box.outside}/abs-evil`, 'x'), symlink(`${box.outside}/abs-link`, '/etc/shadow')])],
    harmless: (entries, box) => {
      assert.equal(entries.get(`rootfs${box.outside}/abs-evil`)?.content, 'x');
      assert.equal(entries.get(`rootfs${box.outside}/abs-link`)?.linkname, '/etc/shadow', 'an absolute symlink keeps pointing where it pointed');
    },
  },
  {
    name: 'a symlink, then an entry written through it (same layer)',
    layers: (box) => [L([symlink('escape', box.outside), file('escape/evil', 'x')])],
    refused: () => refusal('2/2', 'escape/evil', 'it is written inside "escape", which this layer makes a symlink'),
  },
  {
    name: 'a symlink in one layer, an entry written through it in the next',
    layers: () => [L([symlink('up', '../../..')]), L([file('up/outside/evil', 'x')])],
    refused: () => refusal('3/3', 'up/outside/evil', 'it is written inside "up", which layer 2/3 \\(sha256:[0-9a-f]{12}\\) makes a symlink'),
  },
  {
    name: 'a hard link whose target climbs out',
    layers: () => [L([hardlink('passwd', '../../etc/passwd')])],
    refused: () => refusal('2/2', 'passwd', 'hard link target "\\.\\./\\.\\./etc/passwd" leaves the image root'),
  },
  {
    name: 'a hard link to a host path that is not in the image',
    layers: () => [L([hardlink('shadow', '/etc/shadow')])],
    refused: () => refusal('2/2', 'shadow', 'hard link to "/etc/shadow", which is not in the image'),
  },
  {
    name: 'a hard link to a later entry',
    layers: () => [L([hardlink('early', 'later'), file('later', 'x')])],
    refused: () => refusal('2/2', 'early', 'hard link to "later", which is not in the image at that point'),
  },
  {
    name: 'a whiteout naming ..',
    layers: () => [L([file('bin/.wh...')])],
    refused: () => refusal('2/2', 'bin/.wh...', 'a whiteout cannot name "\\.\\."'),
  },
  {
    name: 'a whiteout naming .',
    layers: () => [L([file('.wh..')])],
    refused: () => refusal('2/2', '.wh..', 'a whiteout cannot name "\\."'),
  },
  {
    name: 'symlink chains that climb out are kept as text, never followed',
    layers: (box) => [L([symlink('l1', 'l2'), symlink('l2', `../../..${box.outside}`), symlink('bin/tool', '/l1'), symlink('loop-a', 'loop-b'), symlink('loop-b', 'loop-a')])],
    harmless: (entries, box) => {
      assert.equal(entries.get('rootfs/l2')?.linkname, `../../..${box.outside}`);
      assert.equal(entries.get('rootfs/bin/tool')?.linkname, '/l1');
      assert.equal(entries.get('rootfs/loop-a')?.type, 'symlink');
    },
  },
  {
    name: 'duplicate entries: the later one wins, a file replaces a directory',
    layers: () => [L([file('dup', 'first'), file('dup', 'second'), dir('d/'), file('d/inner', 'i'), file('d', 'now a file')])],
    harmless: (entries) => {
      assert.equal(entries.get('rootfs/dup')?.content, 'second');
      assert.equal(entries.get('rootfs/d')?.content, 'now a file');
      assert.ok(!entries.has('rootfs/d/inner'));
    },
  },
  {
    name: 'a PAX size larger than the layer',
    layers: () => [raw(paxHeader({ size: '9999999' }), rawHeader({ name: 'liar', size: 3 }), dataBlocks('abc'))],
    refused: () => refusal('2/2', 'liar', 'archive is truncated'),
  },
  {
    name: 'a PAX size of 0 that smuggles an entry hidden in the content a ustar reader would skip',
    layers: () => [raw(paxHeader({ size: '0' }), rawHeader({ name: 'innocent', size: 1024 }), rawHeader({ name: '../outside/smuggled' }), Buffer.alloc(512))],
    refused: () => refusal('2/2', '../outside/smuggled', 'the name leaves the image root'),
  },
  {
    name: 'a PAX path that replaces an innocent ustar name',
    layers: () => [raw(paxHeader({ path: '../outside/pax-evil' }), rawHeader({ name: 'innocent' }))],
    refused: () => refusal('2/2', '../outside/pax-evil', 'the name leaves the image root'),
  },
  {
    name: 'a PAX linkpath that makes a hard link climb out',
    layers: () => [raw(paxHeader({ linkpath: '../../etc/shadow' }), rawHeader({ name: 'h', typeflag: '1', linkname: 'plugin.sh' }))],
    refused: () => refusal('2/2', 'h', 'hard link target "\\.\\./\\.\\./etc/shadow" leaves the image root'),
  },
  {
    name: 'a GNU sparse entry',
    layers: () => [raw(rawHeader({ name: 'sparse', typeflag: 'S' }))],
    refused: () => refusal('2/2', 'sparse', 'unsupported tar entry \\(GNU sparse file\\)'),
  },
  {
    name: 'a GNU sparse entry in PAX format',
    layers: () => [raw(paxHeader({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'sp' }), rawHeader({ name: 'GNUSparseFile.0/sp' }))],
    refused: () => refusal('2/2', 'GNUSparseFile.0/sp', 'unsupported tar entry \\(GNU sparse file in PAX format\\)'),
  },
  {
    name: 'a GNU long name that climbs out',
    layers: () => [raw(gnuLongHeader('L', `../../outside/${'x'.repeat(120)}`), rawHeader({ name: 'short' }))],
    refused: () => refusal('2/2', `../../outside/${'x'.repeat(120)}`, 'the name leaves the image root'),
  },
  {
    name: 'GNU long names and long link targets are read whole',
    layers: () => [raw(gnuLongHeader('L', `${'deep/'.repeat(40)}file`), rawHeader({ name: 'truncated-name', size: 1 }), dataBlocks('L'), gnuLongHeader('K', `/${'t'.repeat(150)}`), gnuLongHeader('L', 'long-link'), rawHeader({ name: 'll', typeflag: '2', linkname: 'short' }))],
    harmless: (entries) => {
      assert.equal(entries.get(`rootfs/${'deep/'.repeat(40)}file`)?.content, 'L');
      assert.equal(entries.get('rootfs/long-link')?.linkname, `/${'t'.repeat(150)}`);
      assert.ok(!entries.has('rootfs/truncated-name'));
    },
  },
  {
    name: 'a layer whose digest does not match the image config (docker save)',
    layers: () => [L([file('tampered', 'x')])],
    archive: async (box, layers) => {
      await writeFile(join(box.work, 'image.tar'), dockerSaveArchive(layers, { diffIds: [sha256(layers[0]!), `sha256:${'2'.repeat(64)}`] }));
      return 'image.tar';
    },
    refused: () => new RegExp(`^error: layer 2/2 \\(sha256:222222222222\\): uncompressed layer digest is sha256:[0-9a-f]{64}, but the image says sha256:2{64} \\(corrupt or tampered layer\\)`),
  },
  {
    name: 'a gzip layer blob that does not match its digest (OCI archive)',
    layers: () => [L([file('tampered', 'x'.repeat(1000))])],
    archive: async (box, layers) => {
      await writeOciLayout(join(box.dir, 'oci'), layers, { corruptLayer: 1 });
      await execa('tar', ['-C', join(box.dir, 'oci'), '-cf', join(box.work, 'image.tar'), '.']);
      await rm(join(box.dir, 'oci'), { recursive: true });
      return 'image.tar';
    },
    refused: () => /^error: layer 2\/2 \(sha256:[0-9a-f]{12}\): /,
  },
  {
    name: 'a truncated layer',
    layers: () => [tarOf([file('big', 'x'.repeat(5000))]).subarray(0, 2000)],
    refused: () => refusal('2/2', 'big', 'archive is truncated'),
  },
  {
    name: 'device nodes and FIFOs stay entries of the rootfs; none is made on the host',
    layers: (box) => [
      L([
        { name: 'dev/evil-mem', type: 'char', devmajor: 1, devminor: 1, mode: 0o666 },
        { name: 'dev/evil-sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o666 },
        { name: 'run/evil-fifo', type: 'fifo', mode: 0o666 },
        { name: `${box.outside}/node`, type: 'block', devmajor: 8, devminor: 0, mode: 0o666 },
      ]),
    ],
    harmless: (entries, box) => {
      assert.equal(entries.get('rootfs/dev/evil-mem')?.type, 'char');
      assert.equal(entries.get('rootfs/dev/evil-sda')?.type, 'block');
      assert.equal(entries.get('rootfs/run/evil-fifo')?.type, 'fifo');
      assert.equal(entries.get(`rootfs${box.outside}/node`)?.type, 'block');
    },
  },
  {
    name: 'a name that is not UTF-8',
    layers: () => [raw(rawHeader({ name: Buffer.from([0x65, 0x76, 0xff, 0x69, 0x6c]) }))],
    refused: () => refusal('2/2', 'ev\\xffil', 'entry name is not valid UTF-8'),
  },
  {
    name: 'a PAX name holding a NUL byte',
    layers: () => [raw(paxHeader({ path: Buffer.from('inno\0cent') }), rawHeader({ name: 'x' }))],
    refused: () => refusal('2/2', 'inno\\x00cent', 'entry name contains a NUL byte'),
  },
  {
    name: 'a symlink target that is not UTF-8',
    layers: () => [raw(paxHeader({ linkpath: Buffer.from([0x2f, 0xfe]) }), rawHeader({ name: 'link', typeflag: '2' }))],
    refused: () => refusal('2/2', 'link', 'link target is not valid UTF-8'),
  },
  {
    name: 'very deep directories flatten; a name longer than PATH_MAX is refused',
    layers: () => [L([file(`${'d/'.repeat(1500)}leaf`, 'x')]), L([file(`${'e/'.repeat(2100)}leaf`, 'x')])],
    refused: () => new RegExp(`^error: layer 3/3 \\(sha256:[0-9a-f]{12}\\), entry "(e/){100}.*": entry name is longer than 4096 bytes`),
  },
];

for (const c of cases) {
  test(`hostile layer: ${c.name}`, async () => {
    const box = await sandbox();
    const layers = [base, ...c.layers(box)];
    let archive = 'image.tar';
    if (c.archive) archive = await c.archive(box, layers);
    else await writeFile(join(box.work, archive), dockerSaveArchive(layers));
    const before = await footprint(box.dir);

    const pack = await dpk(['pack', '--archive', archive, '--name', 'hostile/fixture:1', '--output', 'out.tar', '--arch', 'amd64'], box);
    const validate = await dpk(['validate', 'config.json', '--rootfs', archive, '--arch', 'amd64'], box);
    assert.deepEqual(await readdir(box.tmp), [], 'dpk left something in TMPDIR');
    assert.deepEqual(await readdir(box.outside), [], 'something was written outside');

    if (c.refused) {
      const pattern = c.refused(box);
      for (const [what, run] of [['pack', pack], ['validate', validate]] as const) {
        assert.equal(run.code, 1, `${what}: ${run.stderr}`);
        // Progress lines may come first (pack says what it reads); then one error line and its hint, no stack.
        const lines = run.stderr.trimEnd().split('\n');
        const at = lines.findIndex((line) => line.startsWith('error: '));
        assert.match(lines[at] ?? run.stderr, pattern, what);
        const rest = lines.slice(at + 1);
        assert.ok(rest.length <= 1 && (rest[0] === undefined || rest[0].startsWith('  hint: ')), `${what}: one line and a hint, no stack:\n${run.stderr}`);
      }
      assert.equal(validate.stdout, '', 'validate prints no report when the rootfs cannot be read');
      assert.deepEqual(await footprint(box.dir), before, 'no out.tar, no temporary file, nothing else');
    } else {
      assert.equal(pack.code, 0, pack.stderr);
      assert.equal(validate.code, 0, validate.stderr + validate.stdout);
      assert.deepEqual(await footprint(box.dir), [...before, 'work/out.tar file'].sort(), 'only the named output appeared');
      const listed = await listTar((async function* () { yield await readFile(join(box.work, 'out.tar')); })());
      c.harmless!(new Map(listed.map((e) => [e.name, e])), box);
      // What a real extractor makes of it: everything lands under the directory it extracts into.
      const extract = join(box.dir, 'extract');
      await mkdir(extract);
      await execa('tar', ['-xf', join(box.work, 'out.tar'), '-C', extract, '--no-same-owner']);
      assert.deepEqual(await readdir(box.outside), [], 'extracting out.tar wrote outside its directory');
    }
  });
}

test('an archive that is itself truncated, or not an archive, is one line naming the file', async () => {
  const box = await sandbox();
  const whole = dockerSaveArchive([base]);
  await writeFile(join(box.work, 'cut.tar'), whole.subarray(0, 4096));
  await writeFile(join(box.work, 'junk.tar'), 'not a tar archive at all, only text. '.repeat(40));
  const before = await footprint(box.dir);
  const cut = await dpk(['pack', '--archive', 'cut.tar', '--name', 'hostile/cut:1', '--output', 'out.tar'], box);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /^error: \S*cut\.tar: not an image archive: archive is truncated\n {2}hint: /);
  const junk = await dpk(['validate', 'config.json', '--rootfs', 'junk.tar'], box);
  assert.equal(junk.code, 1);
  assert.match(junk.stderr, /^error: --rootfs junk\.tar: not a directory, an image archive or a rootfs tar \(.*tar header/);
  assert.deepEqual(await footprint(box.dir), before);
});

test('memory stays bounded: a gzip bomb and 100k entries go through pack with a small peak RSS', async (t) => {
  const box = await sandbox();
  const zeros = Buffer.alloc(64 << 20);
  const many = [];
  for (let i = 0; i < 100_000; i++) many.push(file(`many/d${i % 100}/f${i}`, ''));
  await writeOciLayout(join(box.work, 'oci'), [base, tarOf([file('zeros-1', zeros), file('zeros-2', zeros), file('zeros-3', zeros)]), tarOf(many)]);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: box.tmp, NO_COLOR: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  const run = await execa('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bin, 'pack', '--archive', 'oci', '--name', 'hostile/bomb:1', '--output', 'out.tar', '--arch', 'amd64', '--json'], { cwd: box.work, env, reject: false });
  assert.equal(run.exitCode, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.ok(result.output.size > 3 * (64 << 20), 'the 192 MiB of zeros were streamed to out.tar');
  assert.equal(result.rootfs.files, 3 + 100_000 + 2);
  const peakKiB = Number(/maxrss=(\d+)/.exec(run.stderr)?.[1]);
  t.diagnostic(`peak RSS ${peakKiB} KiB`);
  assert.ok(peakKiB > 0 && peakKiB < 400 * 1024, `peak RSS ${peakKiB} KiB while streaming 192 MiB and 100k entries`);
  assert.deepEqual(await readdir(box.tmp), []);
});

/** A gzip layer of `count` empty files, made in batches so the 512-byte headers are never all in memory at once. */
async function manyEntriesLayer(count: number): Promise<CompressedLayer> {
  const gzip = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => gzip.on('end', resolve));
  const hash = createHash('sha256');
  const put = async (data: Buffer) => {
    hash.update(data);
    if (!gzip.write(data)) await new Promise((resolve) => gzip.once('drain', resolve));
  };
  for (let start = 0; start < count; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 10_000); i++) batch.push(file(`d${i % 1000}/f${i}`, ''));
    await put(tarOf(batch, { end: false }));
  }
  await put(END_OF_ARCHIVE);
  gzip.end();
  await ended;
  return { gzip: Buffer.concat(out), diffId: `sha256:${hash.digest('hex')}` };
}

test('huge entry counts: an image of more than a million entries is refused, naming the layer, in bounded memory', async (t) => {
  const box = await sandbox();
  await writeOciLayout(join(box.work, 'oci'), [base, await manyEntriesLayer(1_000_001)]);
  const before = await footprint(box.dir);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: box.tmp, NO_COLOR: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  const run = await execa('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bin, 'pack', '--archive', 'oci', '--name', 'hostile/many:1', '--output', 'out.tar', '--arch', 'amd64'], { cwd: box.work, env, reject: false });
  assert.equal(run.exitCode, 1, run.stderr);
  assert.match(run.stderr, /^error: layer 2\/2 \(sha256:[0-9a-f]{12}\): the image has more than 1000000 entries\n {2}hint: /m);
  const peakKiB = Number(/maxrss=(\d+)/.exec(run.stderr)?.[1]);
  t.diagnostic(`peak RSS ${peakKiB} KiB`);
  assert.ok(peakKiB > 0 && peakKiB < 700 * 1024, `peak RSS ${peakKiB} KiB while refusing a million entries`);
  assert.deepEqual(await footprint(box.dir), before);
});

test('a docker save archive whose layer member is a symlink climbing out of the archive reads nothing outside it', async () => {
  const box = await sandbox();
  await writeFile(join(box.outside, 'secret'), 'host secret');
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['x:1'], Layers: ['layer/layer.tar'] }]);
  const imageConfig = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.from('host secret'))] } });
  await writeFile(join(box.work, 'image.tar'), tarOf([file('manifest.json', manifest), file('config.json', imageConfig), dir('layer/'), symlink('layer/layer.tar', `../../..${box.outside}/secret`)]));
  const pack = await dpk(['pack', '--archive', 'image.tar', '--name', 'hostile/link:1', '--output', 'out.tar', '--arch', 'amd64'], box);
  assert.equal(pack.code, 1);
  assert.match(pack.stderr, /^error: archive \S*image\.tar: manifest\.json names layer layer\/layer\.tar, which the archive does not hold$/m);
  assert.ok(!existsSync(join(box.work, 'out.tar')));
  assert.deepEqual(await readdir(box.tmp), []);
});
