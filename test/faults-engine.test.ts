/**
 * Faults on a real private engine (started here), through the real CLI: the engine stops mid-export and
 * mid-create, hangs (SIGSTOP), the disk fills (a small tmpfs as TMPDIR and as the --output directory), the user
 * presses Ctrl-C mid-export. Afterwards: a clear error (or exit 130), no temporary copy in TMPDIR, no partial
 * output, no plugin or container left in the engine. Also `dpk validate --rootfs IMAGE` against the engine.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { makeBusyboxRootfs, importBusyboxImage, skipWithoutEngine, startEngine, type Engine } from './helpers/engine.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));
const skip = await skipWithoutEngine();

const BIG = 'dpk-test/big:1';
const BIG_MIB = 300;

let engine: Engine;
let work: string;
let dpkTmp: string;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(join(tmpdir(), 'dpk-faults-'));
  dpkTmp = join(work, 'dpk-tmp');
  await mkdir(dpkTmp);
  engine = await startEngine();
  await importBusyboxImage(engine, 'dpk-test/busybox:latest');
  // An image big enough that exporting and creating take a while: busybox plus incompressible data.
  const rootfs = join(work, 'big-rootfs');
  await makeBusyboxRootfs(rootfs);
  await execa('sh', ['-c', `head -c ${BIG_MIB}M /dev/urandom > ${join(rootfs, 'data.bin')}`]);
  const tar = execa('tar', ['-C', rootfs, '-c', '.'], { buffer: false });
  const imp = execa('docker', ['import', '-', BIG], { env: engine.env, stdin: 'pipe' });
  tar.stdout!.pipe(imp.stdin!);
  await Promise.all([tar, imp]);
  await rm(rootfs, { recursive: true });
  await writeFile(
    join(work, 'config.json'),
    JSON.stringify({ Description: 'faults', Documentation: 'https://example.invalid', Entrypoint: ['/bin/sh', '-c', 'sleep 1000'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'f.sock' }, PropagatedMount: '/data' }),
  );
});

after(async () => {
  if (skip) return;
  await engine?.destroy();
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...engine.env, TMPDIR: dpkTmp, NO_COLOR: '1', ...extra };
  delete e.DPK_DEBUG;
  return e;
}

function dpk(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: work, env: env(extra), maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** dpk in the background, with a way to wait for a moment in its run. */
function background(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: work, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

/** Resolves once dpk's temporary copy of the image in TMPDIR holds more than `bytes` (mid-export). */
async function exportUnderWay(root: string, bytes: number, exited: Promise<Run>): Promise<void> {
  let over: Run | undefined;
  void exited.then((run) => (over = run));
  for (;;) {
    if (over) throw new Error(`dpk finished before the export was under way: exit ${over.code}\n${over.stderr}`);
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const size = await stat(join(root, name, 'image.tar')).then((s) => s.size, () => 0);
      if (size > bytes) return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function until(condition: () => boolean, exited: Promise<Run>): Promise<void> {
  let over: Run | undefined;
  void exited.then((run) => (over = run));
  while (!condition()) {
    if (over) throw new Error(`dpk finished first: exit ${over.code}\n${over.stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function errorLine(run: Run): string {
  return run.stderr.split('\n').filter((l) => l.startsWith('error: ')).pop() ?? run.stderr;
}

async function dockerdPid(): Promise<number> {
  return Number((await readFile(join(dirname(engine.socketPath), 'dockerd.pid'), 'utf8')).trim());
}

async function assertNothingLeft(plugin: string): Promise<void> {
  assert.deepEqual(await readdir(dpkTmp), [], 'dpk left something in TMPDIR');
  const plugins = await engine.docker(['plugin', 'ls', '--format', '{{.Name}}']);
  assert.equal(plugins.exitCode, 0, plugins.stderr);
  assert.ok(!plugins.stdout.split('\n').some((n) => n.startsWith(plugin.split(':')[0]!)), `a plugin was left: ${plugins.stdout}`);
  assert.equal((await engine.docker(['ps', '-aq'])).stdout.trim(), '', 'a container was left');
}

test('validate --rootfs IMAGE reads the image from the engine; a missing image is one line; pack --image of a missing image too', { skip }, async () => {
  const ok = await dpk(['validate', 'config.json', '--rootfs', 'dpk-test/busybox:latest', '--arch', 'amd64']);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /config\.json: no problems found \(rootfs image dpk-test\/busybox:latest checked for amd64\)/);
  await writeFile(join(work, 'missing-entry.json'), JSON.stringify({ ...JSON.parse(await readFile(join(work, 'config.json'), 'utf8')), Entrypoint: ['/not-there'] }));
  const bad = await dpk(['validate', 'missing-entry.json', '--rootfs', 'dpk-test/busybox:latest', '--arch', 'amd64']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /Entrypoint\[0\]: \/not-there does not exist in the rootfs/);
  const missing = await dpk(['validate', 'config.json', '--rootfs', 'dpk-test/nope:1']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: --rootfs dpk-test\/nope:1: no such file, directory or image \(not found in the engine at unix:\/\/\S+\)\n {2}hint: /);
  const packMissing = await dpk(['pack', '--image', 'dpk-test/nope:1', '--name', 'dpk-test/nope:1']);
  assert.equal(packMissing.code, 1);
  assert.match(errorLine(packMissing), /^error: image dpk-test\/nope:1: not found in the engine at unix:\/\//);
  await assertNothingLeft('dpk-test/nope');
});

test('Ctrl-C mid-export: exit 130, the temporary copy removed, nothing created (pack and validate --rootfs)', { skip }, async () => {
  for (const args of [['pack', '--image', BIG, '--name', 'dpk-test/int:1'], ['validate', 'config.json', '--rootfs', BIG]]) {
    const run = background(args);
    await exportUnderWay(dpkTmp, 20 << 20, run.done);
    run.child.kill('SIGINT');
    const result = await run.done;
    assert.equal(result.code, 130, `${args[0]}: ${result.stderr}`);
    assert.match(errorLine(result), /^error: cancelled/, args[0]);
    await assertNothingLeft('dpk-test/int');
  }
});

test('the engine stops mid-export: a clear error, no temporary copy, nothing created after it restarts', { skip }, async (t) => {
  const run = background(['pack', '--image', BIG, '--name', 'dpk-test/stopped:1']);
  await exportUnderWay(dpkTmp, 20 << 20, run.done);
  await engine.stop();
  const result = await run.done;
  await engine.restart();
  assert.equal(result.code, 1, result.stderr);
  t.diagnostic(errorLine(result));
  assert.match(errorLine(result), /^error: (image dpk-test\/big:1: the engine at unix:\/\/\S+ stopped sending it after \d+ bytes|cannot reach the Docker engine|lost the connection to the engine)/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  await assertNothingLeft('dpk-test/stopped');
});

test('the engine stops mid-create: a clear error, and no half-created plugin after it restarts', { skip }, async (t) => {
  const run = background(['pack', '--image', BIG, '--name', 'dpk-test/halfway:1']);
  await until(() => /creating plugin/.test(run.stderr()), run.done);
  await new Promise((r) => setTimeout(r, 300));
  await engine.stop();
  const result = await run.done;
  await engine.restart();
  assert.equal(result.code, 1, result.stderr);
  t.diagnostic(errorLine(result));
  assert.match(errorLine(result), /^error: (lost the connection to the engine at unix:\/\/\S+ during POST \/plugins\/create|cannot reach the Docker engine|the engine refused POST \/plugins\/create)/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  await assertNothingLeft('dpk-test/halfway');
});

test('a hung engine (SIGSTOP): DPK_TIMEOUT and --timeout bound the wait, with an error that says so', { skip }, async (t) => {
  const pid = await dockerdPid();
  process.kill(pid, 'SIGSTOP');
  try {
    const started = Date.now();
    const result = await dpk(['pack', '--image', BIG, '--name', 'dpk-test/hung:1'], { DPK_TIMEOUT: '2' });
    assert.equal(result.code, 1, result.stderr);
    assert.match(errorLine(result), /^error: the engine at unix:\/\/\S+ sent nothing for 2s during GET \/_ping$/);
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // Hung mid-export: the copy stops growing, the timeout fires, the copy is removed. (Not 2 s here: the engine
  // itself may take longer than that to send the first byte of a 300 MiB export.)
  const run = background(['pack', '--image', BIG, '--name', 'dpk-test/hung:1', '--timeout', '10']);
  await exportUnderWay(dpkTmp, 20 << 20, run.done);
  process.kill(pid, 'SIGSTOP');
  let result: Run;
  try {
    result = await run.done;
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  assert.equal(result.code, 1, result.stderr);
  t.diagnostic(errorLine(result));
  assert.match(errorLine(result), /^error: the engine at unix:\/\/\S+ sent nothing for 10s during GET \/images\/dpk-test%2Fbig%3A1\/get$/);
  await assertNothingLeft('dpk-test/hung');
});

test('the disk fills: a small tmpfs as TMPDIR and as the --output directory; nothing is left on it', { skip }, async () => {
  const small = join(work, 'small');
  await mkdir(small);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', small]);
  try {
    const viaTmp = await dpk(['pack', '--image', BIG, '--name', 'dpk-test/full:1'], { TMPDIR: small });
    assert.equal(viaTmp.code, 1, viaTmp.stderr);
    assert.match(errorLine(viaTmp), new RegExp(`^error: image dpk-test/big:1: the disk is full in ${small} after \\d+ bytes of the image; nothing was kept$`));
    assert.deepEqual(await readdir(small), []);

    const archive = join(work, 'big.tar');
    const saved = await engine.docker(['save', '-o', archive, BIG]);
    assert.equal(saved.exitCode, 0, saved.stderr);
    const viaOutput = await dpk(['pack', '--archive', archive, '--name', 'dpk-test/full:1', '--output', join(small, 'plugin.tar'), '--arch', 'amd64']);
    assert.equal(viaOutput.code, 1, viaOutput.stderr);
    assert.match(errorLine(viaOutput), new RegExp(`^error: --output ${small}/plugin\\.tar: the disk is full; nothing was written$`));
    assert.deepEqual(await readdir(small), [], 'no partial output or temporary file on the full disk');
    await rm(archive);
  } finally {
    await execa('umount', [small], { reject: false });
  }
  await assertNothingLeft('dpk-test/full');
});
