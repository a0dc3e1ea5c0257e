/**
 * Rootfs checks on directories built by the tests: the entrypoint is found as runc finds it, symlinks are followed
 * inside the rootfs and never on the host, and what the kernel would execute (ELF for the right machine with its
 * loader and libraries, or a script with its interpreter) is there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, realpath, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { EM } from '../src/elf.js';
import { hostArch } from '../src/config/rootfs-checks.js';
import { PLUGIN_PATH } from '../src/config/engine-facts.js';
import { validateConfig } from '../src/config/validate.js';
import type { Finding } from '../src/config/findings.js';
import { indexDirectory } from '../src/rootfs/dir.js';
import { lookPath, resolveInRootfs } from '../src/rootfs/resolve.js';
import { makeElf } from './elf-fixture.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dpk-validate-rootfs-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A rootfs from a map of path -> content (Buffer/string: file; {link}: symlink; {dir}: directory; {mode}: chmod). */
type Spec = Record<string, Buffer | string | { link: string } | { dir: true } | { file: Buffer | string; mode: number } | { copy: string; mode?: number }>;

let counter = 0;
async function makeRootfs(spec: Spec): Promise<string> {
  const root = join(work, `rootfs-${counter++}`);
  await mkdir(root);
  for (const [path, what] of Object.entries(spec)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    if (typeof what === 'string' || Buffer.isBuffer(what)) {
      await writeFile(full, what);
      await chmod(full, 0o755);
    } else if ('link' in what) await symlink(what.link, full);
    else if ('dir' in what) await mkdir(full, { recursive: true });
    else if ('copy' in what) {
      await copyFile(what.copy, full);
      await chmod(full, what.mode ?? 0o755);
    } else {
      await writeFile(full, what.file);
      await chmod(full, what.mode);
    }
  }
  return root;
}

const host = hostArch();
const hostMachine = { amd64: EM.X86_64, arm64: EM.AARCH64, arm: EM.ARM, '386': EM.I386, ppc64le: EM.PPC64, s390x: EM.S390, riscv64: EM.RISCV }[host] as number;
const hostClass = host === 'arm' || host === '386' ? 32 : 64;
const staticElf = makeElf({ machine: hostMachine, class: hostClass, endianness: host === 's390x' ? 'big' : 'little' });
const aarch64Elf = makeElf({ machine: EM.AARCH64 });

async function check(root: string, config: Record<string, unknown>, arch?: string): Promise<Finding[]> {
  const full = { Interface: { Types: ['docker.logdriver/1.0'], Socket: 'p.sock' }, ...config };
  const result = await validateConfig(JSON.stringify(full), { file: 'config.json', rootfs: await indexDirectory(root), arch });
  return result.findings;
}

function only(findings: Finding[], ruleId: string): Finding {
  const hits = findings.filter((f) => f.ruleId === ruleId);
  assert.equal(hits.length, 1, `expected one ${ruleId}, got ${JSON.stringify(findings.map((f) => [f.ruleId, f.message]))}`);
  return hits[0] as Finding;
}

test('a static binary for this machine at the entrypoint: clean', async () => {
  const root = await makeRootfs({ 'usr/bin/plugin': staticElf });
  assert.deepEqual(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), []);
});

test('entrypoint missing from the rootfs', async () => {
  const root = await makeRootfs({ 'usr/bin/other': staticElf });
  const f = only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'entrypoint-not-found');
  assert.equal(f.severity, 'error');
  assert.equal(f.path, 'Entrypoint[0]');
  assert.match(f.message, /\/usr\/bin\/plugin does not exist in the rootfs/);
});

test('entrypoint not executable', async () => {
  const root = await makeRootfs({ 'usr/bin/plugin': { file: staticElf, mode: 0o644 } });
  const f = only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'entrypoint-not-executable');
  assert.match(f.message, /mode 0644/);
  assert.match(f.hint ?? '', /chmod 0755/);
});

test('entrypoint that is a directory, or a FIFO (checked without opening it)', async () => {
  const root = await makeRootfs({ 'usr/bin/plugin': { dir: true } });
  assert.match(only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'entrypoint-not-file').message, /is a directory/);
  const fifoRoot = await makeRootfs({ 'usr/bin/.keep': '' });
  execFileSync('mkfifo', [join(fifoRoot, 'usr/bin/plugin')]);
  await chmod(join(fifoRoot, 'usr/bin/plugin'), 0o755);
  assert.match(only(await check(fifoRoot, { Entrypoint: ['/usr/bin/plugin'] }), 'entrypoint-not-file').message, /FIFO/);
});

test('a symlink chain inside the rootfs is followed: relative, absolute, through a directory link', async () => {
  const root = await makeRootfs({
    'opt/plugin-1.2/bin/plugin': staticElf,
    'opt/current': { link: 'plugin-1.2' },
    'usr/lib/plugin': { link: '/opt/current/bin' },
    'usr/bin/plugin': { link: '../lib/plugin/plugin' },
  });
  assert.deepEqual(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), []);
  const index = await indexDirectory(root);
  const resolved = resolveInRootfs(index, '/usr/bin/plugin');
  assert.equal(resolved.ok && resolved.path, '/opt/plugin-1.2/bin/plugin');
  assert.equal(resolved.via.length, 3);
});

test('an absolute symlink resolves inside the rootfs, never on the host', async () => {
  // On the host /bin/ls exists and is executable; inside this rootfs it does not.
  const root = await makeRootfs({ 'usr/bin/plugin': { link: '/bin/ls' }, 'usr/bin/climber': { link: '../../../../../../bin/ls' } });
  for (const entry of ['/usr/bin/plugin', '/usr/bin/climber']) {
    const f = only(await check(root, { Entrypoint: [entry] }), 'entrypoint-not-found');
    assert.match(f.message, /leads nowhere in the rootfs: \/bin is missing \(\/usr\/bin\/\w+ -> /, f.message);
  }
  // And a target that exists only inside the rootfs is found, though the host has no such file.
  const inside = await makeRootfs({ 'dpk-only-in-rootfs/plugin': staticElf, 'usr/bin/plugin': { link: '/dpk-only-in-rootfs/plugin' } });
  assert.equal(existsSync('/dpk-only-in-rootfs'), false);
  assert.deepEqual(await check(inside, { Entrypoint: ['/usr/bin/plugin'] }), []);
});

test('a symlink loop is reported, not followed forever', async () => {
  const root = await makeRootfs({ 'usr/bin/a': { link: 'b' }, 'usr/bin/b': { link: '/usr/bin/a' } });
  assert.match(only(await check(root, { Entrypoint: ['/usr/bin/a'] }), 'entrypoint-not-found').message, /symlink loop/);
});

test('a bare entrypoint is found through the plugin PATH; a relative one from WorkDir', async () => {
  const root = await makeRootfs({
    'usr/local/bin/plugin': { file: staticElf, mode: 0o644 }, // first in PATH but not executable: skipped, like exec.LookPath
    'usr/bin/plugin': staticElf,
    'app/bin/server': staticElf,
  });
  assert.deepEqual(await check(root, { Entrypoint: ['plugin'] }), []);
  assert.deepEqual(await check(root, { Entrypoint: ['./bin/server'], WorkDir: '/app' }), []);
  const index = await indexDirectory(root);
  const found = lookPath(index, 'plugin', { path: PLUGIN_PATH });
  assert.equal(found.ok && found.path, '/usr/bin/plugin');
  const missing = only(await check(root, { Entrypoint: ['server'] }), 'entrypoint-not-found');
  assert.match(missing.message, /"server" is not in the plugin's PATH \(\/usr\/local\/sbin:/);
  const relative = only(await check(root, { Entrypoint: ['./bin/server'] }), 'entrypoint-not-found');
  assert.match(relative.message, /from WorkDir \//);
});

test('an ELF for another machine: wrong arch, unless that machine is the target', async () => {
  const root = await makeRootfs({ 'usr/bin/plugin': aarch64Elf });
  const target = host === 'arm64' ? 'amd64' : host;
  const wrong = only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }, target), 'elf-arch');
  assert.match(wrong.message, new RegExp(`built for arm64 \\(aarch64\\), but the plugin targets ${target}`));
  assert.match(wrong.hint ?? '', /--arch arm64/);
  assert.deepEqual(await check(root, { Entrypoint: ['/usr/bin/plugin'] }, 'linux/arm64/v8'), []);
});

test("a dynamic binary (the host's /bin/ls): loader missing, then libraries missing, then complete", { skip: !existsSync('/bin/ls') && 'no /bin/ls' }, async () => {
  const ls = await realpath('/bin/ls');
  const ldd = execFileSync('ldd', [ls], { encoding: 'utf8' });
  const loader = /^\s*(\/\S+ld-linux\S*)\s/m.exec(ldd)?.[1];
  const libs = [...ldd.matchAll(/=>\s*(\/\S+)/g)].map((m) => m[1] as string);
  assert.ok(loader && libs.length > 0, ldd);

  const root = await makeRootfs({ 'usr/bin/plugin': { copy: ls } });
  const noLoader = only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'elf-interpreter-missing');
  assert.match(noLoader.message, new RegExp(`needs the loader ${loader.replace(/[.]/g, '\\.')}, which is not in the rootfs`));

  // Put the loader where PT_INTERP says, as the real file behind the host's symlink.
  await mkdir(join(root, dirname(loader)), { recursive: true });
  await copyFile(await realpath(loader), join(root, loader));
  const noLibs = only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'elf-library-missing');
  assert.match(noLibs.message, /libc\.so\.6/);

  for (const lib of libs) {
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await copyFile(await realpath(lib), join(root, lib));
  }
  assert.deepEqual(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), []);
});

test('libraries are found through RUNPATH $ORIGIN and ld.so.conf includes, and must match the machine', async () => {
  const program = makeElf({ machine: hostMachine, class: hostClass, interpreter: '/lib/ld.so', needed: ['libapp.so', 'libextra.so'], runpath: '$ORIGIN/../lib' });
  const lib = makeElf({ machine: hostMachine, class: hostClass, type: 3 });
  const root = await makeRootfs({
    'lib/ld.so': lib,
    'opt/app/bin/app': program,
    'opt/app/lib/libapp.so': lib,
    'opt/extra/lib/libextra.so': lib,
    'etc/ld.so.conf': 'include /etc/ld.so.conf.d/*.conf\n',
    'etc/ld.so.conf.d/extra.conf': '# extra libraries\n/opt/extra/lib\n',
  });
  assert.deepEqual(await check(root, { Entrypoint: ['/opt/app/bin/app'] }), []);

  await writeFile(join(root, 'opt/app/lib/libapp.so'), aarch64Elf);
  await unlink(join(root, 'etc/ld.so.conf'));
  const f = only(await check(root, { Entrypoint: ['/opt/app/bin/app'] }, host === 'arm64' ? 'amd64' : undefined), host === 'arm64' ? 'elf-arch' : 'elf-library-missing');
  if (host !== 'arm64') {
    assert.match(f.message, /libapp\.so; only \/opt\/app\/bin\/\.\.\/lib\/libapp\.so \(arm64 \(aarch64\)\) is there/);
    assert.match(f.message, /libextra\.so/);
  }
});

test('a library needed by a library is checked too', async () => {
  const lib = makeElf({ machine: hostMachine, class: hostClass, type: 3 });
  const root = await makeRootfs({
    'lib/ld.so': lib,
    'usr/bin/plugin': makeElf({ machine: hostMachine, class: hostClass, interpreter: '/lib/ld.so', needed: ['liba.so'] }),
    'usr/lib/liba.so': makeElf({ machine: hostMachine, class: hostClass, type: 3, needed: ['libb.so'] }),
  });
  assert.match(only(await check(root, { Entrypoint: ['/usr/bin/plugin'] }), 'elf-library-missing').message, /libb\.so \(needed by \/usr\/lib\/liba\.so\)/);
});

test('a script: interpreter missing, Windows line endings, env lookups, and a working one', async () => {
  const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox';
  const root = await makeRootfs({
    'bin/busybox': { copy: busybox },
    'bin/sh': { link: 'busybox' },
    'usr/bin/env': { link: '/bin/busybox' },
    'start.sh': '#!/bin/sh\nexec /usr/bin/plugin\n',
    'start-bash.sh': '#!/bin/bash\nexec /usr/bin/plugin\n',
    'start-crlf.sh': '#!/bin/sh\r\nexec /usr/bin/plugin\r\n',
    'start-env.sh': '#!/usr/bin/env python3\nprint(1)\n',
    'start-env-ok.sh': '#!/usr/bin/env sh\nexit 0\n',
    'data.txt': 'not a program\n',
  });
  assert.deepEqual(await check(root, { Entrypoint: ['/start.sh'] }), []);
  assert.deepEqual(await check(root, { Entrypoint: ['/start-env-ok.sh'] }), []);
  const bash = only(await check(root, { Entrypoint: ['/start-bash.sh'] }), 'script-interpreter-missing');
  assert.match(bash.message, /script for "\/bin\/bash", which is not in the rootfs/);
  const crlf = only(await check(root, { Entrypoint: ['/start-crlf.sh'] }), 'script-interpreter-missing');
  assert.match(crlf.hint ?? '', /Windows line endings/);
  const env = only(await check(root, { Entrypoint: ['/start-env.sh'] }), 'script-interpreter-missing');
  assert.match(env.message, /"python3" is not found in the plugin's PATH/);
  assert.match(only(await check(root, { Entrypoint: ['/data.txt'] }), 'entrypoint-format').message, /neither an ELF binary nor a "#!" script/);
});

test("a script's interpreter is checked like a program: a wrong-arch shell is reported", async () => {
  const root = await makeRootfs({ 'bin/sh': aarch64Elf, 'start.sh': '#!/bin/sh\n' });
  const f = only(await check(root, { Entrypoint: ['/start.sh'] }, host === 'arm64' ? 'amd64' : undefined), 'elf-arch');
  assert.match(f.message, /\/bin\/sh, the interpreter of \/start\.sh/);
});

test('WorkDir missing is a warning (runc creates it); WorkDir that is a file is an error', async () => {
  const root = await makeRootfs({ 'usr/bin/plugin': staticElf, 'srv/file': 'x' });
  const missing = only(await check(root, { Entrypoint: ['/usr/bin/plugin'], WorkDir: '/app' }), 'workdir-missing');
  assert.equal(missing.severity, 'warning');
  assert.match(missing.message, /runc creates it/);
  const file = only(await check(root, { Entrypoint: ['/usr/bin/plugin'], WorkDir: '/srv/file' }), 'workdir-not-a-directory');
  assert.equal(file.severity, 'error');
  assert.deepEqual(await check(root, { Entrypoint: ['/usr/bin/plugin'], WorkDir: '/srv' }), []);
});

test('the directory index records entries as they are and reads only the files it listed', async () => {
  const root = await makeRootfs({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'bin/tool': staticElf, 'bin/link': { link: '/etc/passwd' } });
  const index = await indexDirectory(root);
  assert.equal(index.entries.get('bin/link')?.type, 'symlink');
  assert.equal(index.entries.get('bin/link')?.linkname, '/etc/passwd');
  assert.equal(index.entries.get('bin/tool')?.mode, 0o755);
  assert.equal(index.entries.get('bin')?.type, 'dir');
  assert.equal(await index.readFile('bin/link', 100), undefined, 'a symlink is never read through');
  assert.equal((await index.readFile('etc/passwd', 4))?.toString(), 'root');
  // A file swapped for a symlink to a host file after indexing is refused, not followed.
  await unlink(join(root, 'bin/tool'));
  await symlink('/etc/hostname', join(root, 'bin/tool'));
  assert.equal(await index.readFile('bin/tool', 100), undefined);
});

test('--rootfs that is not a directory is a clear error', async () => {
  await assert.rejects(indexDirectory(join(work, 'nope')), /no such directory/);
  const file = join(work, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(indexDirectory(file), /not a directory/);
});
