/**
 * Broken inputs through the real CLI (node bin/dpk.js), for dpk validate and dpk pack alike: invalid JSON (line and
 * column), wrong types, an empty file, a config that is a directory, an unreadable file (another user's, read without
 * the capabilities that let root ignore modes), an archive that is not one, names that are not references, bad timeouts. Each: exit 1 (2 for usage), the
 * error on stderr as one line plus a hint, no stack trace unless --debug, and nothing written. Also --rootfs in each
 * of its forms (directory, docker save, OCI layout and archive, plain rootfs tar). No engine is used.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { dir, dockerSaveArchive, file, symlink, tarOf, writeOciLayout } from './helpers/layers.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));

let work: string;
let tmp: string;
let rootfsLayer: Buffer;
const config = { Description: 'd', Documentation: 'https://example.invalid', Entrypoint: ['/plugin.sh'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'fx.sock' }, PropagatedMount: '/data' };

before(async () => {
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(join(tmpdir(), 'dpk-inputs-'));
  tmp = join(work, 'tmp');
  await mkdir(tmp);
  const busybox = await readFile(existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox');
  rootfsLayer = tarOf([dir('bin/'), file('bin/busybox', busybox, { mode: 0o755 }), symlink('bin/sh', 'busybox'), file('plugin.sh', '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 })]);
  await writeFile(join(work, 'image.tar'), dockerSaveArchive([rootfsLayer]));
  await writeFile(join(work, 'config.json'), JSON.stringify(config));
  await writeFile(join(work, 'syntax.json'), '{\n  "Description": "x",\n  "Entrypoint": ["/plugin.sh"]\n  "Interface": {}\n}\n');
  await writeFile(join(work, 'types.json'), JSON.stringify({ ...config, Entrypoint: '/plugin.sh', Interface: { Types: ['docker.volumedriver/1.0'], Socket: 5 } }, null, 2));
  await writeFile(join(work, 'empty.json'), '');
  await mkdir(join(work, 'plugin-dir'));
  await writeFile(join(work, 'locked.json'), JSON.stringify(config), { mode: 0o600 });
  await chown(join(work, 'locked.json'), 65534, 65534);
  await writeFile(join(work, 'junk.tar'), 'this is not a tar archive, only text. '.repeat(40));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dpk(args: string[], options: { env?: NodeJS.ProcessEnv; withoutFileOverride?: boolean } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, NO_COLOR: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...options.env };
  delete env.DPK_DEBUG;
  // Root reads any file; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it is held to the modes of files it does
  // not own, like any user (and can still read the repository, wherever CI cloned it).
  const [command, argv] = options.withoutFileOverride
    ? ['setpriv', ['--bounding-set=-dac_override,-dac_read_search', process.execPath, bin, ...args]]
    : [process.execPath, [bin, ...args]];
  return new Promise((resolve) => {
    execFile(command as string, argv as string[], { cwd: work, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const pack = (...extra: string[]) => ['pack', '--archive', 'image.tar', '--name', 'me/plugin:1', '--output', 'out.tar', '--arch', 'amd64', ...extra];

/** The error line and its hint are the last lines of stderr; nothing that looks like a stack. */
function assertOneLineError(run: Run, pattern: RegExp, code: number, what: string): void {
  assert.equal(run.code, code, `${what}: exit ${run.code}\n${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  const at = lines.map((line) => line.startsWith('error: ')).lastIndexOf(true);
  assert.ok(at >= 0, `${what}: no error line in\n${run.stderr}`);
  assert.match(lines[at]!, pattern, what);
  const rest = lines.slice(at + 1);
  assert.ok(rest.length <= 1 && (rest[0] === undefined || rest[0].startsWith('  hint: ')), `${what}: more than one line and a hint:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, `${what}: a stack trace`);
}

async function assertNothingWritten(): Promise<void> {
  assert.ok(!existsSync(join(work, 'out.tar')), 'out.tar was written');
  assert.deepEqual((await readdir(work)).filter((n) => n.includes('dpk-tmp')), [], 'a temporary output was left');
  assert.deepEqual(await readdir(tmp), [], 'TMPDIR is not empty');
}

test('invalid JSON: line and column, in validate and in pack (which stops before reading the image)', async () => {
  const v = await dpk(['validate', 'syntax.json']);
  assert.equal(v.code, 1);
  assert.match(v.stdout, /^error: syntax\.json: line 4, column 3: unexpected "\\""; expected "," or "}" after the value of "Entrypoint" \(json-syntax\)$/m);
  const p = await dpk(pack('--config', 'syntax.json'));
  assert.match(p.stderr, /^error: syntax\.json: line 4, column 3: /m);
  assertOneLineError(p, /^error: syntax\.json: 1 error against the config alone \(the image was not read\); nothing was created$/, 1, 'pack');
  assert.doesNotMatch(p.stderr, /reading archive/, 'the image was not read');
  await assertNothingWritten();
});

test('wrong types name the field and the type, with a line', async () => {
  const v = await dpk(['validate', 'types.json', '--json']);
  assert.equal(v.code, 1);
  const found = JSON.parse(v.stdout).findings.filter((f: { ruleId: string }) => f.ruleId === 'json-type').map((f: { path: string; line: number }) => [f.path, typeof f.line]);
  assert.deepEqual(found.sort(), [['Entrypoint', 'number'], ['Interface.Socket', 'number']]);
  const p = await dpk(pack('--config', 'types.json'));
  assert.match(p.stderr, /^error: types\.json: Entrypoint: Entrypoint must be an array, not the string "\/plugin\.sh" \(json-type\)$/m);
  assertOneLineError(p, /^error: types\.json: 2 errors against the config alone/, 1, 'pack');
  await assertNothingWritten();
});

test('an empty config, a config that is a directory, a missing config', async () => {
  const cases: [string[], RegExp][] = [
    [pack('--config', 'empty.json'), /^error: empty\.json: 1 error against the config alone/],
    [['validate', 'plugin-dir'], /^error: plugin-dir: is a directory, not a config file$/],
    [pack('--config', 'plugin-dir'), /^error: plugin-dir: is a directory, not a config file$/],
    [['validate', 'missing.json'], /^error: missing\.json: no such file$/],
    [pack('--config', 'missing.json'), /^error: missing\.json: no such file$/],
  ];
  for (const [args, pattern] of cases) assertOneLineError(await dpk(args), pattern, 1, args.join(' '));
  const empty = await dpk(['validate', 'empty.json']);
  assert.match(empty.stdout, /empty\.json: the file is empty/);
  await assertNothingWritten();
});

test('an unreadable config or archive (files of another user, mode 0600; dpk without the capabilities that override modes)', async () => {
  const v = await dpk(['validate', 'locked.json'], { withoutFileOverride: true });
  assertOneLineError(v, /^error: locked\.json: cannot read: EACCES/, 1, 'validate');
  await writeFile(join(work, 'locked.tar'), dockerSaveArchive([rootfsLayer]), { mode: 0o600 });
  await chown(join(work, 'locked.tar'), 65534, 65534);
  // The config is readable, the archive is not.
  const p = await dpk(['pack', '--archive', 'locked.tar', '--config', 'config.json', '--name', 'me/x', '--output', join(tmp, 'out.tar')], { withoutFileOverride: true });
  assertOneLineError(p, /^error: \S*locked\.tar: not an image archive: EACCES|^error: \S*locked\.tar: cannot read: EACCES/, 1, 'pack');
  const r = await dpk(['validate', 'config.json', '--rootfs', 'locked.tar'], { withoutFileOverride: true });
  assertOneLineError(r, /locked\.tar.*EACCES/, 1, 'validate --rootfs');
  await assertNothingWritten();
});

test('an archive that is not one, for pack --archive and validate --rootfs', async () => {
  assertOneLineError(await dpk(pack().map((a) => (a === 'image.tar' ? 'junk.tar' : a))), /^error: \S*junk\.tar: not an image archive: .*tar header/, 1, 'pack');
  assertOneLineError(await dpk(['validate', 'config.json', '--rootfs', 'junk.tar']), /^error: --rootfs junk\.tar: not a directory, an image archive or a rootfs tar \(.*tar header/, 1, 'validate');
  assertOneLineError(await dpk(['validate', 'config.json', '--rootfs', 'missing.tar']), /^error: --rootfs missing\.tar: no such file or directory$/, 1, 'validate missing');
  // `docker save | gzip` is common: say what it is rather than "bad checksum".
  await writeFile(join(work, 'image.tar.gz'), gzipSync(await readFile(join(work, 'image.tar'))));
  assertOneLineError(await dpk(pack().map((a) => (a === 'image.tar' ? 'image.tar.gz' : a))), /^error: \S*image\.tar\.gz: not an image archive: it is gzip-compressed; dpk reads the tar itself/, 1, 'pack gzip');
  assertOneLineError(await dpk(['validate', 'config.json', '--rootfs', 'image.tar.gz']), /^error: --rootfs image\.tar\.gz: not a directory, an image archive or a rootfs tar \(it is gzip-compressed/, 1, 'validate gzip');
  await assertNothingWritten();
});

test('names that are not references are usage errors (exit 2); a valid one with no engine says so', async () => {
  assertOneLineError(await dpk(pack().map((a) => (a === 'me/plugin:1' ? 'Me/Plugin' : a))), /^error: --name "Me\/Plugin": must be lowercase$/, 2, 'pack --name');
  assertOneLineError(await dpk(['pack', '--image', 'bad image', '--name', 'me/x']), /^error: --image "bad image": contains whitespace$/, 2, 'pack --image');
  assertOneLineError(await dpk(['validate', 'config.json', '--rootfs', 'me/UPPER:1']), /^error: --rootfs "me\/UPPER:1": must be lowercase$/, 2, 'validate --rootfs ref');
  assertOneLineError(await dpk(['validate', 'config.json', '--rootfs', 'me/x@sha256:12']), /^error: --rootfs "me\/x@sha256:12": the digest is not sha256: and 64 hex digits$/, 2, 'validate --rootfs digest');
  assertOneLineError(
    await dpk(['validate', 'config.json', '--rootfs', 'me/not-here:1']),
    /^error: --rootfs me\/not-here:1: no such file or directory, and no engine to look for an image of that name \(cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock: ENOENT\)$/,
    1,
    'validate --rootfs with no engine',
  );
});

test('timeouts: --timeout and DPK_TIMEOUT must be positive numbers of seconds (exit 2), and --help documents them', async () => {
  assertOneLineError(await dpk(['pack', '--image', 'me/x', '--name', 'me/x', '--timeout', 'soon']), /^error: --timeout "soon": not a positive number of seconds/, 2, '--timeout');
  assertOneLineError(await dpk(['pack', '--image', 'me/x', '--name', 'me/x'], { env: { DPK_TIMEOUT: '-1' } }), /^error: DPK_TIMEOUT "-1": not a positive number of seconds/, 2, 'DPK_TIMEOUT');
  for (const command of ['pack', 'validate']) {
    const help = await dpk([command, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /DPK_TIMEOUT +seconds the engine may stay silent/, command);
  }
});

test('no stack trace unless --debug', async () => {
  const plain = await dpk(pack().map((a) => (a === 'image.tar' ? 'junk.tar' : a)));
  assert.doesNotMatch(plain.stderr, /\n\s+at /);
  const debug = await dpk(['--debug', ...pack().map((a) => (a === 'image.tar' ? 'junk.tar' : a))]);
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /\n\s+at .*store\.(js|ts):\d+/, 'the cause is shown with --debug');
});

test('--rootfs reads a directory, a docker save archive, an OCI layout and archive, and a plain rootfs tar alike', async () => {
  const rootfsDir = join(work, 'rootfs-dir');
  await mkdir(rootfsDir);
  await execa('tar', ['-xf', '-', '-C', rootfsDir], { input: rootfsLayer });
  await writeOciLayout(join(work, 'oci'), [tarOf([dir('bin/'), file('bin/tmp', 'x')]), rootfsLayer]);
  await execa('tar', ['-C', join(work, 'oci'), '-cf', join(work, 'oci.tar'), '.']);
  await writeFile(join(work, 'export.tar'), rootfsLayer);
  const forms: [string, RegExp][] = [
    [rootfsDir, /\(rootfs \S*rootfs-dir checked for amd64\)/],
    ['image.tar', /\(rootfs archive \S*image\.tar checked for amd64\)/],
    ['oci', /\(rootfs archive \S*oci checked for amd64\)/],
    ['oci.tar', /\(rootfs archive \S*oci\.tar checked for amd64\)/],
    ['export.tar', /\(rootfs rootfs archive export\.tar checked for amd64\)/],
  ];
  for (const [rootfs, summary] of forms) {
    const ok = await dpk(['validate', 'config.json', '--rootfs', rootfs, '--arch', 'amd64']);
    assert.equal(ok.code, 0, `${rootfs}: ${ok.stderr}${ok.stdout}`);
    assert.match(ok.stdout, summary, rootfs);
    // The same rootfs checks run whatever the form: a missing entrypoint is found in each.
    await writeFile(join(work, 'missing-entry.json'), JSON.stringify({ ...config, Entrypoint: ['/not-there'] }));
    const bad = await dpk(['validate', 'missing-entry.json', '--rootfs', rootfs, '--arch', 'amd64']);
    assert.equal(bad.code, 1, rootfs);
    assert.match(bad.stdout, /Entrypoint\[0\]: \/not-there does not exist in the rootfs/, rootfs);
  }
  assert.deepEqual(await readdir(tmp), []);
});
