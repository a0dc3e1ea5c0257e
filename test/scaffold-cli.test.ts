/**
 * create-docker-plugin as users run it without a terminal (stdin closed, as in CI): flags give every answer, missing
 * ones get defaults or a usage error naming the flag, and bad values or targets leave nothing behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkModule, nameFromDirectory, socketNameFor, SOCKET_NAME_MAX } from '../src/scaffold/answers.js';

const bin = fileURLToPath(new URL('../bin/create-docker-plugin.js', import.meta.url));

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'create-cli-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function create(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, NO_COLOR: '1', CI: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(); // stdin closed: no terminal to ask on
  });
}

/** Nothing but `expected` in work: no staging or backup directories left behind. */
async function assertOnly(dir: string, expected: string[]) {
  assert.deepEqual((await readdir(dir)).sort(), [...expected].sort());
}

test('all answers as flags: the project, its manifest, and next steps on stderr', async () => {
  const r = await create(['vol', '--type', 'network', '--name', 'localhost:5000/acme/vol:1.2.0', '--module', 'example.com/acme/vol', '--description', 'Says "hi" \\ there']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /created network plugin localhost:5000\/acme\/vol:1\.2\.0/);
  assert.match(r.stderr, /dpk pack --enable/);
  const manifest = JSON.parse(await readFile(join(work, 'vol/plugin.json'), 'utf8'));
  assert.equal(manifest.name, 'localhost:5000/acme/vol');
  assert.equal(manifest.tag, '1.2.0');
  assert.equal(manifest.type, 'network');
  assert.equal(manifest.module, 'example.com/acme/vol');
  assert.equal(manifest.image, 'vol-rootfs:1.2.0');
  // A description with quotes and backslashes stays valid JSON in config.json.
  const config = JSON.parse(await readFile(join(work, 'vol/config.json'), 'utf8'));
  assert.equal(config.Description, 'Says "hi" \\ there');
  assert.equal(config.Interface.Socket, 'vol.sock');
  assert.deepEqual(config.Entrypoint, ['/usr/bin/vol']);
  assert.match(await readFile(join(work, 'vol/go.mod'), 'utf8'), /^module example\.com\/acme\/vol$/m);
  assert.match(await readFile(join(work, 'vol/main.go'), 'utf8'), /"\/run\/docker\/plugins\/vol\.sock"/);
  for (const file of ['.gitignore', '.dockerignore', 'Dockerfile', 'README.md', '.github/workflows/ci.yml', 'go.sum']) {
    assert.ok(existsSync(join(work, 'vol', file)), `${file} generated`);
  }
  await assertOnly(work, ['vol']);
  await rm(join(work, 'vol'), { recursive: true });
});

test('--json prints what was generated on stdout', async () => {
  const r = await create(['j1', '--type', 'network', '--yes', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const data = JSON.parse(r.stdout);
  assert.equal(data.manifest.name, 'j1');
  assert.equal(data.manifest.module, 'example.com/j1');
  assert.ok(data.files.includes('config.json') && data.files.includes('plugin.json'));
  await rm(join(work, 'j1'), { recursive: true });
});

test('the name alone gives the directory; the directory alone gives the name', async () => {
  let r = await create(['--type', 'network', '--name', 'acme/gatekeeper']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(work, 'gatekeeper/plugin.json')));
  r = await create(['My_Logger', '--type', 'network']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(await readFile(join(work, 'My_Logger/plugin.json'), 'utf8')).name, 'my_logger');
  await rm(join(work, 'gatekeeper'), { recursive: true });
  await rm(join(work, 'My_Logger'), { recursive: true });
});

test('answers with no safe default are usage errors naming the flag (exit 2), never a prompt', async () => {
  let r = await create(['x1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--type is required/);
  r = await create(['--type', 'network']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no project directory and no plugin name/);
  await assertOnly(work, []);
});

test('bad values: one line naming the flag, exit 2, nothing written', async () => {
  const cases: [string[], RegExp][] = [
    [['b1', '--type', 'storage'], /--type.*storage/i],
    [['b1', '--type', 'network', '--name', 'Acme/Vol'], /--name "Acme\/Vol": must be lowercase/],
    [['b1', '--type', 'network', '--name', 'acme/vol@sha256:abcd'], /--name .*digest/],
    [['b1', '--type', 'network', '--name', 'acme//vol'], /--name .*empty path component/],
    [['b1', '--type', 'network', '--module', 'github.com//x'], /--module "github.com\/\/x": has an empty path element/],
    [['b1', '--type', 'network', '--module', 'Example.COM/x'], /--module .*must be lowercase/],
    [['b1', '--type', 'network', '--module', 'example.com/a b'], /--module .*path element "a b"/],
    [['b1', '--type', 'network', '--description', 'two\nlines'], /--description: must be one line/],
    [['b1', '--type', 'network', '--module', 'example.com/nul'], /--module .*"nul" is a reserved file name on Windows/],
    [['b1', '--type', 'network', '--module', 'example.com/x~1'], /--module .*tilde and digits/],
    [['b1', '--type', 'network', '--module', '-foo'], /--module "-foo": starts with a dash/],
    [['b1', '--type', 'network', '--name', 'acme/con'], /module path derived from the plugin name \(pass --module\) "example.com\/acme\/con"/],
    [['/', '--type', 'network'], /directory "\/": name a new directory/],
  ];
  for (const [args, message] of cases) {
    const r = await create(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split('\n').filter((line) => line.startsWith('error:')).length, 1);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  await assertOnly(work, []);
});

test('a non-empty directory is refused unless --force, which replaces it and keeps .git', async () => {
  const dir = join(work, 'busy');
  await mkdir(join(dir, '.git'), { recursive: true });
  await writeFile(join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(dir, 'notes.txt'), 'mine');
  let r = await create(['busy', '--type', 'network']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /busy: exists and is not empty/);
  assert.match(r.stderr, /--force/);
  assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'mine');
  r = await create(['busy', '--type', 'network', '--force']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'plugin.json')));
  assert.ok(!existsSync(join(dir, 'notes.txt')));
  assert.equal(await readFile(join(dir, '.git/HEAD'), 'utf8'), 'ref: refs/heads/main\n');
  await assertOnly(work, ['busy']);
  await rm(dir, { recursive: true });
});

test('an empty directory is used; a symlink or a file is refused and left as it was', async () => {
  await mkdir(join(work, 'empty'));
  let r = await create(['empty', '--type', 'network']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(work, 'empty/plugin.json')));
  await rm(join(work, 'empty'), { recursive: true });

  const elsewhere = await mkdtemp(join(tmpdir(), 'create-elsewhere-'));
  await symlink(elsewhere, join(work, 'link'));
  r = await create(['link', '--type', 'network', '--force']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /link: is a symbolic link/);
  assert.deepEqual(await readdir(elsewhere), []);
  assert.ok((await lstat(join(work, 'link'))).isSymbolicLink());
  await rm(join(work, 'link'));
  await rm(elsewhere, { recursive: true });

  await writeFile(join(work, 'file'), 'x');
  r = await create(['file', '--type', 'network']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /file: exists and is not a directory/);
  await rm(join(work, 'file'));
  await assertOnly(work, []);
});

test('"." generates into the current directory when it is empty, and leaves it in place', async () => {
  const dir = join(work, 'here');
  await mkdir(dir);
  const r = await new Promise<Run>((resolve) => {
    const child = execFile(process.execPath, [bin, '.', '--type', 'network'], { cwd: dir, env: { ...process.env, NO_COLOR: '1', CI: 'true' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')).name, 'here');
  assert.ok(!(await readdir(dir)).some((name) => name.startsWith('.create-docker-plugin')), 'no staging left');
  await rm(dir, { recursive: true });
});

test('a failure while writing leaves nothing: a parent that is a file', async () => {
  await writeFile(join(work, 'plain'), 'x');
  const r = await create(['plain/sub/proj', '--type', 'network']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /plain\/sub\/proj: cannot inspect: ENOTDIR/);
  await rm(join(work, 'plain'));
  await assertOnly(work, []);
});

test('a signal at any moment leaves either the whole project or the directory as it was', async () => {
  // Run until interrupted at many points: before, during and after writing.
  const start = (args: string[], delay: number, signal: NodeJS.Signals) =>
    new Promise<Run>((resolve) => {
      const child = execFile(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, NO_COLOR: '1', CI: 'true' } }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end();
      setTimeout(() => child.kill(signal), delay);
    });
  for (let i = 0; i < 24; i++) {
    const delay = 100 + i * 10;
    // A signal after the project is in place may still end the process: the project is whole then, which is fine.
    const fresh = await start([`sig${i}/deep`, '--type', 'logging'], delay, i % 2 ? 'SIGINT' : 'SIGTERM');
    if (existsSync(join(work, `sig${i}`))) {
      const entries = await readdir(join(work, `sig${i}/deep`));
      assert.ok(entries.includes('plugin.json') && !entries.some((name) => name.startsWith('.create-docker-plugin')), `run ${i} (exit ${fresh.code}): left ${entries.join(',')}`);
    } else {
      assert.notEqual(fresh.code, 0, `run ${i}: exit 0 without a project`);
    }
    await rm(join(work, `sig${i}`), { recursive: true, force: true });

    const busy = join(work, `keep${i}`);
    await mkdir(busy);
    await writeFile(join(busy, 'precious.txt'), 'mine');
    const forced = await start([`keep${i}`, '--type', 'authz', '--force'], delay, 'SIGINT');
    const entries = (await readdir(busy)).sort();
    if (entries.includes('precious.txt')) assert.deepEqual(entries, ['precious.txt'], `run ${i} (exit ${forced.code}): the directory holds ${entries.join(',')}`);
    else assert.ok(entries.includes('plugin.json') && !entries.some((name) => name.startsWith('.create-docker-plugin')), `run ${i} (exit ${forced.code}): left ${entries.join(',')}`);
    if (forced.code === 0) assert.ok(entries.includes('plugin.json'), `run ${i}: exit 0 without a project`);
    await rm(busy, { recursive: true });
  }
  await assertOnly(work, []);
});

test('next steps quote a directory the shell would misread', async () => {
  const r = await create([`it's $(here)`, '--type', 'network', '--name', 'acme/odd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^  cd 'it'\\''s \$\(here\)'$/m);
  await rm(join(work, `it's $(here)`), { recursive: true });
});

test('--help and --version exit 0', async () => {
  const help = await create(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--type <type>/);
  const version = await create(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('socket names fit the engine limit; module paths and directory-derived names are checked', () => {
  assert.equal(socketNameFor('vol'), 'vol.sock');
  for (const name of ['a-very-long-plugin-name-indeed', 'abcdefghijklmnopq', 'abcdefghijklmnop-xyz']) {
    const socket = socketNameFor(name);
    assert.ok(socket.length <= SOCKET_NAME_MAX, socket);
    assert.match(socket, /^[a-z0-9][a-z0-9._-]*[a-z0-9]\.sock$/);
  }
  assert.equal(checkModule('github.com/acme/my-volume'), 'github.com/acme/my-volume');
  assert.equal(checkModule('myplugin'), 'myplugin');
  assert.throws(() => checkModule('github.com/acme/.hidden'), /path element/);
  assert.throws(() => checkModule('std/x'), /reserved/);
  assert.equal(nameFromDirectory('/tmp/My Plugin!'), 'my-plugin');
  assert.equal(nameFromDirectory('---'), undefined);
});
