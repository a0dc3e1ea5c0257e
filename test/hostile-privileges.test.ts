/**
 * Privileged configs through the real CLI: each grant that hands a plugin the host is called out by `dpk validate`
 * (stdout report) and `dpk pack` (stderr, before its summary) as a warning, and fails both with --strict, so CI can
 * gate on it. With --strict, pack stops before reading the image and writes nothing. No engine is used.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dir, dockerSaveArchive, file, symlink, tarOf } from './helpers/layers.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));

let work: string;
const base = { Description: 'd', Documentation: 'https://example.invalid', Entrypoint: ['/plugin.sh'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'fx.sock' }, PropagatedMount: '/data' };

before(async () => {
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(join(tmpdir(), 'dpk-privileges-'));
  const busybox = await readFile(existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox');
  await writeFile(join(work, 'image.tar'), dockerSaveArchive([tarOf([dir('bin/'), file('bin/busybox', busybox, { mode: 0o755 }), symlink('bin/sh', 'busybox'), file('plugin.sh', '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 })])]));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dpk(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: work, NO_COLOR: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  delete env.DPK_DEBUG;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: work, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const mount = (source: string, destination = '/host') => ({ Mounts: [{ Type: 'bind', Source: source, Destination: destination, Options: ['rbind'] }] });

const cases: [string, Record<string, unknown>, string, RegExp][] = [
  ['CAP_SYS_ADMIN', { Linux: { Capabilities: ['CAP_SYS_ADMIN'] } }, 'Linux.Capabilities[0]', /CAP_SYS_ADMIN lets the plugin mount filesystems/],
  ['all devices', { Linux: { AllowAllDevices: true } }, 'Linux.AllowAllDevices', /every device of the host/],
  ['host pid', { PidHost: true }, 'PidHost', /host's PID namespace/],
  ['host ipc', { IpcHost: true }, 'IpcHost', /host's IPC namespace/],
  ['host network', { Network: { Type: 'host' } }, 'Network.Type', /host's network/],
  ['the docker socket', mount('/var/run/docker.sock', '/var/run/docker.sock'), 'Mounts[0].Source', /mounts \/var\/run\/docker\.sock: whoever talks to it controls the engine/],
  ['/run (holds the docker socket)', mount('/run'), 'Mounts[0].Source', /mounts \/run, which holds \/run\/docker\.sock/],
  ['the engine runtime directory', mount('/run/docker/plugins'), 'Mounts[0].Source', /in the engine's runtime directory \/run\/docker/],
  ['the host root', mount('/'), 'Mounts[0].Source', /mounts the whole host filesystem/],
  ['the host root, spelt /./', mount('/./'), 'Mounts[0].Source', /mounts the whole host filesystem/],
];

for (const [name, extra, path, message] of cases) {
  test(`privileged config via the CLI: ${name} is warned by validate and pack, and fails both with --strict`, async () => {
    const config = `${name.replace(/\W+/g, '-').replace(/^-+|-+$/g, '')}.json`;
    await writeFile(join(work, config), JSON.stringify({ ...base, ...extra }, null, 2));
    const line = new RegExp(`^warning: ${config.replace(/\./g, '\\.')}: ${path.replace(/[.[\]]/g, '\\$&')}: .*${message.source}.* \\(privilege-[a-z-]+\\)$`, 'm');

    const validate = await dpk(['validate', config]);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, line);
    const strict = await dpk(['validate', config, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, new RegExp(line.source.replace('^warning:', '^error:'), 'm'));
    assert.match(strict.stderr, /privileges count as errors with --strict/);

    const pack = await dpk(['pack', '--archive', 'image.tar', '--config', config, '--name', 'me/priv:1', '--output', 'out.tar', '--arch', 'amd64']);
    assert.equal(pack.code, 0, pack.stderr);
    assert.match(pack.stderr, line);
    assert.match(pack.stdout, /^ {2}warnings: +\d+ \(above\)$/m);
    await rm(join(work, 'out.tar'));
    const packStrict = await dpk(['pack', '--archive', 'image.tar', '--config', config, '--name', 'me/priv:1', '--output', 'out.tar', '--arch', 'amd64', '--strict', '--json']);
    assert.equal(packStrict.code, 1);
    assert.match(packStrict.stderr, new RegExp(line.source.replace('^warning:', '^error:'), 'm'));
    const json = JSON.parse(packStrict.stdout);
    assert.equal(json.ok, false);
    assert.ok(json.validation.findings.some((f: { ruleId: string; severity: string; path: string }) => f.ruleId.startsWith('privilege-') && f.severity === 'error' && f.path === path));
    assert.ok(!existsSync(join(work, 'out.tar')), '--strict wrote an artifact');
    assert.deepEqual((await readdir(work)).filter((n) => n.includes('dpk-tmp') || n.startsWith('dpk-image-')), []);
  });
}
