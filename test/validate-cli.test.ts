/**
 * `dpk validate` as users run it (node bin/dpk.js, built by `npm run build`): exit codes, the report, --json,
 * --strict, --rootfs, and broken inputs (invalid JSON, empty file, a directory, a missing file, bad flags).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));

let work: string;
before(async () => {
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(join(tmpdir(), 'dpk-validate-cli-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dpk(args: string[], cwd = work): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', DPK_DEBUG: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const clean = { Description: 'd', Entrypoint: ['/plugin'], Interface: { Types: ['docker.logdriver/1.0'], Socket: 'log.sock' } };

async function file(name: string, content: string | object): Promise<string> {
  const path = join(work, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

test('a clean config: exit 0, "no problems found"', async () => {
  await file('clean.json', clean);
  const r = await dpk(['validate', 'clean.json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'clean.json: no problems found');
  assert.equal(r.stderr, '');
});

test('warnings only: exit 0, one line per finding with its hint, and what users will be asked to grant', async () => {
  await file('warn.json', { ...clean, Network: { Type: 'host' } });
  const r = await dpk(['validate', 'warn.json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^warning: warn\.json: Network\.Type: the plugin shares the host's network.* \(privilege-host-network\)$/m);
  assert.match(r.stdout, /^ {2}hint: /m);
  assert.match(r.stdout, /`docker plugin install` will ask users to grant:\n {2}- network: \["host"\]/);
  assert.match(r.stdout, /warn\.json: 0 errors, 1 warning$/m);
});

test('errors: exit 1, the report on stdout, a one-line summary on stderr, no stack trace', async () => {
  await file('bad.json', { ...clean, Interface: { Types: ['docker.logdriver/1.0'], Socket: 'a-very-long-socket-name.sock' }, mounts: [{ source: '/x', destination: '/x', type: 'bind' }] });
  const r = await dpk(['validate', 'bad.json']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^error: bad\.json: Interface\.Socket: "a-very-long-socket-name\.sock" is 28 bytes.* \(socket-too-long\)$/m);
  assert.match(r.stdout, /^error: bad\.json: Mounts\[0\]\.Options: no "bind" or "rbind" option.* \(mount-bind-option-missing\)$/m);
  assert.equal(r.stderr.trim(), 'error: bad.json: 2 errors');
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('--json: the result as data on stdout (findings, normalised config, privileges), exit code unchanged', async () => {
  await file('json.json', { ...clean, linux: { capabilities: ['sys_admin'] } });
  const r = await dpk(['validate', 'json.json', '--json']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.file, 'json.json');
  assert.equal(out.valid, false);
  assert.equal(out.errors, 1);
  assert.equal(out.warnings, 0);
  assert.deepEqual(out.findings.map((f: { ruleId: string; path: string; severity: string }) => [f.ruleId, f.path, f.severity]), [['capability-unknown', 'Linux.Capabilities[0]', 'error']]);
  assert.equal(typeof out.findings[0].line, 'number');
  assert.equal(out.findings[0].file, 'json.json');
  assert.deepEqual(out.config.Linux, { Capabilities: ['sys_admin'] });
  assert.deepEqual(out.privileges, [{ Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['sys_admin'] }]);
  const ok = await dpk(['validate', 'clean.json', '--json']);
  assert.equal(ok.code, 0);
  assert.equal(JSON.parse(ok.stdout).valid, true);
});

test('--strict: privilege warnings fail the run', async () => {
  await file('priv.json', { ...clean, PidHost: true, Linux: { Capabilities: ['CAP_SYS_ADMIN'] } });
  assert.equal((await dpk(['validate', 'priv.json'])).code, 0);
  const strict = await dpk(['validate', 'priv.json', '--strict']);
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, /^error: priv\.json: PidHost: /m);
  assert.match(strict.stderr, /privileges count as errors with --strict/);
});

test('invalid JSON: exit 1 with line and column', async () => {
  await file('syntax.json', '{\n  "Entrypoint": ["/plugin"],\n  # a comment\n}\n');
  const r = await dpk(['validate', 'syntax.json']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^error: syntax\.json: line 3, column 3: unexpected comment "#" \(JSON has no comments\).* \(json-syntax\)$/m);
});

test('an empty file: exit 1, says it is empty', async () => {
  await file('empty.json', '');
  const r = await dpk(['validate', 'empty.json']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /empty\.json: the file is empty/);
});

test('a config.json that is a directory, a missing file, an unreadable file: one-line errors, exit 1', async () => {
  await mkdir(join(work, 'plugin-dir/rootfs'), { recursive: true });
  await file('plugin-dir/config.json', clean);
  const dir = await dpk(['validate', 'plugin-dir']);
  assert.equal(dir.code, 1);
  assert.equal(dir.stdout, '');
  assert.match(dir.stderr, /^error: plugin-dir: is a directory, not a config file\n {2}hint: pass plugin-dir\/config\.json \(and --rootfs plugin-dir\/rootfs/);
  const missing = await dpk(['validate', 'nope.json']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: nope\.json: no such file\n/);
  const noArg = await dpk(['validate'], join(work, 'plugin-dir/rootfs'));
  assert.equal(noArg.code, 1);
  assert.match(noArg.stderr, /^error: config\.json: no such file/);
  if (process.getuid?.() !== 0) {
    const locked = await file('locked.json', clean);
    await chmod(locked, 0o000);
    const r = await dpk(['validate', 'locked.json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: locked\.json: cannot read/);
  }
});

test('the config plugin.json names is the default', async () => {
  const project = join(work, 'project');
  await file('project/plugin/config.json', clean);
  await file('project/plugin.json', { generator: 'create-docker-plugin@0.1.0', type: 'logging', name: 'localhost:5000/acme/log', tag: 'latest', image: 'acme/log:dev', config: 'plugin/config.json' });
  const r = await dpk(['validate'], project);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'plugin/config.json: no problems found');
});

test('usage mistakes exit 2: unknown flag, unknown --arch', async () => {
  const flag = await dpk(['validate', 'clean.json', '--bogus']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--bogus'/);
  const arch = await dpk(['validate', 'clean.json', '--arch', 'vax']);
  assert.equal(arch.code, 2);
  assert.match(arch.stderr, /^error: --arch vax: unknown architecture\n {2}hint: use one of amd64, arm64/);
});

test('--rootfs: a missing entrypoint fails; --rootfs that is neither a directory nor an archive is an error', async () => {
  const rootfs = join(work, 'rootfs-empty');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  const r = await dpk(['validate', 'clean.json', '--rootfs', rootfs]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^error: clean\.json: Entrypoint\[0\]: \/plugin does not exist in the rootfs .*\(entrypoint-not-found\)$/m);
  assert.match(r.stdout, /checked for \w+\)$/m);
  const notDir = await dpk(['validate', 'clean.json', '--rootfs', 'clean.json']);
  assert.equal(notDir.code, 1);
  assert.match(notDir.stderr, /^error: --rootfs clean\.json: not a directory, an image archive or a rootfs tar \(\d+ bytes is too short to be a tar archive\)$/m);
});

test('dpk validate --help lists the options', async () => {
  const r = await dpk(['validate', '--help']);
  assert.equal(r.code, 0);
  for (const option of ['--rootfs <dir|image|archive>', 'DPK_TIMEOUT', '--arch <arch>', '--strict', '--json']) assert.ok(r.stdout.includes(option), option);
});

test('control characters from a config are shown escaped, never sent to the terminal', async () => {
  await writeFile(join(work, 'escape.json'), JSON.stringify({ ...clean, 'Evil\u001b[2J\u009b': 1, Description: 'x\u0007' }));
  const r = await dpk(['validate', 'escape.json']);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stdout + r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  assert.match(r.stdout, /Evil\\x1b\[2J\\x9b/);
});

test('keys named like Object.prototype members are unknown keys like any other', async () => {
  await writeFile(join(work, 'proto.json'), `{"Description":"d","Entrypoint":["/p"],"Interface":{"Types":["docker.volumedriver/1.0"],"Socket":"a.sock"},"PropagatedMount":"/d","__proto__":{"x":1},"constructor":{"y":2}}`);
  const r = await dpk(['validate', 'proto.json', '--json']);
  assert.equal(r.code, 1);
  const findings = JSON.parse(r.stdout).findings as { ruleId: string; path: string; hint: string }[];
  assert.deepEqual(findings.map((f) => [f.ruleId, f.path]), [['unknown-key', '__proto__'], ['unknown-key', 'constructor']]);
  for (const f of findings) assert.match(f.hint, /^known keys here: Description/);
});

test('a plugin.json whose "config" is not a path is an error naming the field, not silently ignored', async () => {
  const dir = join(work, 'bad-manifest');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'plugin.json'), JSON.stringify({ name: 'acme/x', tag: '1', image: 'x:1', type: 'volume', config: 5 }));
  await writeFile(join(dir, 'config.json'), JSON.stringify(clean));
  const r = await dpk(['validate'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /plugin\.json: field "config" must be the config file's path/);
});
