/**
 * The generated multi-stage Dockerfile builds as users build it (`docker build -t IMAGE .`), on a real engine.
 * Docker Hub is out of reach here, so the `golang:<version>` base is made locally by docker import of this machine's
 * Go toolchain (with a busybox shell and the host's CA bundle; modules come through the machine's module proxy);
 * the Dockerfile itself is used as generated. The image is then packed with dpk and the plugin enabled.
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GO_VERSION } from '../src/commands/create.js';
import { PLUGIN_TYPES } from '../src/project/manifest.js';
import { dpk, scaffold } from '../scripts/lib/project.js';
import { makeBusyboxRootfs, skipWithoutEngine, startEngine, type Engine } from './helpers/engine.js';

const skip = await skipWithoutEngine();
let engine: Engine;
let work: string;

before(async () => {
  if (skip) return;
  engine = await startEngine();
  work = await mkdtemp(join(tmpdir(), 'dpk-dockerfile-'));
});
after(async () => {
  await engine?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * golang:<GO_VERSION> from the host's toolchain: /usr/local/go, busybox for RUN's /bin/sh, and the projects' modules
 * as a file proxy (downloaded on the host through the machine's module proxy), so the build needs no network.
 */
async function importGoImage(projects: string[]): Promise<string> {
  for (const dir of projects) await execa('go', ['mod', 'download'], { cwd: dir });
  const rootfs = join(work, 'go-rootfs');
  await makeBusyboxRootfs(rootfs);
  const goroot = (await execa('go', ['env', 'GOROOT'])).stdout.trim();
  const downloads = join((await execa('go', ['env', 'GOMODCACHE'])).stdout.trim(), 'cache/download');
  await execa('mkdir', ['-p', join(rootfs, 'usr/local')]);
  await execa('cp', ['-a', goroot, join(rootfs, 'usr/local/go')]);
  await execa('cp', ['-a', downloads, join(rootfs, 'goproxy')]);
  const image = `golang:${GO_VERSION}`;
  const env = ['PATH=/usr/local/go/bin:/bin', 'GOPATH=/go', 'GOPROXY=file:///goproxy', 'GOSUMDB=off', 'HOME=/root'];
  await execa('sh', ['-c', `tar -C "${rootfs}" -c . | docker import ${env.map((e) => `-c 'ENV ${e}'`).join(' ')} - ${image}`], { env: engine.env });
  return image;
}

test('the generated Dockerfile builds the plugin image, which dpk packs and the engine enables', { skip, timeout: 900_000 }, async () => {
  const projects = [];
  for (const type of PLUGIN_TYPES) {
    projects.push(await scaffold({ parent: work, dirName: `df-${type}`, type, name: `dpk-dockerfile/${type}:0.1.0`, env: engine.env }));
  }
  await importGoImage(projects.map((project) => project.dir));
  for (const project of projects) {
    const type = project.manifest.type;
    // --build runs `docker build -t <plugin.json image> .` on the generated Dockerfile, as a user would.
    // authz mounts a host policy directory that must exist before enable: point it at one of the test's own.
    const enableLater = type === 'authz';
    const pack = await dpk(['pack', '--build', ...(enableLater ? [] : ['--enable']), '--json'], { cwd: project.dir, env: engine.env, reject: false });
    assert.equal(pack.exitCode, 0, `${type}: dpk pack --build: ${String(pack.stderr).slice(-3000)}`);
    const ref = `${project.manifest.name}:${project.manifest.tag}`;
    assert.equal(JSON.parse(String(pack.stdout)).name, ref);
    if (enableLater) {
      const policyDir = await mkdtemp(join(work, 'policy-'));
      await engine.docker(['plugin', 'set', ref, `policy.source=${policyDir}`]);
      await engine.docker(['plugin', 'enable', ref]);
    }
    const enabled = await engine.docker(['plugin', 'inspect', '-f', '{{.Enabled}}', ref]);
    assert.equal(enabled.stdout.trim(), 'true', `${type}: plugin enabled`);
    await engine.docker(['plugin', 'rm', '-f', ref]);
  }
});
