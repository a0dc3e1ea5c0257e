/**
 * The main job, as README's first command runs it: scaffold a volume plugin, test and build it, pack it into a real
 * engine with dpk, use it, and publish it with dpk push to a private registry on loopback. Uses the engine DOCKER_HOST (or /var/run/docker.sock) points at when one answers;
 * otherwise, as root, starts a private engine and stops it at the end.
 *
 *   npm run demo [-- --type volume|network|logging|authz] [--keep]
 */
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildScratchImage, dpk, goTest, scaffold } from './lib/project.js';
import { engineUnavailableReason, importBusyboxImage, startEngine, startRegistry, type Engine, type Registry } from '../test/helpers/engine.js';

const { values } = parseArgs({ options: { type: { type: 'string', default: 'volume' }, keep: { type: 'boolean', default: false } } });
const type = values.type!;
const step = (n: number, text: string) => process.stderr.write(`\n[${n}] ${text}\n`);

async function reachableEngineEnv(): Promise<NodeJS.ProcessEnv | undefined> {
  const probe = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false });
  return probe.exitCode === 0 ? { ...process.env } : undefined;
}

async function main(): Promise<void> {
  let engine: Engine | undefined;
  let env = await reachableEngineEnv();
  step(1, 'Docker Engine');
  if (env) {
    process.stderr.write(`    using the engine at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}\n`);
  } else {
    const reason = await engineUnavailableReason();
    if (reason) throw new Error(`no Docker Engine answers and none can be started: ${reason}. Set DOCKER_HOST to a running engine, or run as root after: bash scripts/setup.sh`);
    engine = await startEngine();
    env = engine.env;
    process.stderr.write(`    started a private engine: DOCKER_HOST=${engine.host}\n`);
  }
  const work = await mkdtemp(join(tmpdir(), 'dpk-demo-'));
  const suffix = Date.now().toString(36);
  let registry: Registry | undefined;
  let pluginRef = '';
  try {
    registry = await startRegistry();
    const pluginName = `${registry.host}/dpk-demo/${type}-${suffix}`;
    step(2, `create-docker-plugin: a ${type} plugin named ${pluginName}`);
    const project = await scaffold({ parent: work, dirName: `demo-${type}`, type, name: `${pluginName}:0.1.0`, env });
    pluginRef = `${project.manifest.name}:${project.manifest.tag}`;
    process.stderr.write(`    generated ${project.dir}\n`);

    step(3, 'go test ./... in the generated project');
    process.stderr.write(`${(await goTest(project)).replace(/^/gm, '    ')}\n`);

    step(4, `build the binary (CGO_ENABLED=0) and the image ${project.manifest.image} FROM scratch`);
    await buildScratchImage(project, env);

    step(5, 'dpk pack --enable');
    const pack = await dpk(['pack', '--enable', '--force'], { cwd: project.dir, env });
    process.stderr.write(`${String(pack.stderr).replace(/^/gm, '    ')}\n`);
    const ls = await execa('docker', ['plugin', 'ls', '--format', '{{.Name}} enabled={{.Enabled}}'], { env });
    process.stderr.write(`    docker plugin ls: ${ls.stdout.split('\n').filter((l) => l.includes(pluginName)).join(', ')}\n`);

    if (type === 'volume') {
      step(6, 'use it: docker volume create, a container writes, another reads');
      const busybox = await importBusyboxImage(engine ?? { env } as Engine, `dpk-demo/busybox:${suffix}`);
      const volume = `demo-${suffix}`;
      await execa('docker', ['volume', 'create', '-d', pluginRef, volume], { env });
      await execa('docker', ['run', '--rm', '--network', 'none', '-v', `${volume}:/data`, busybox, 'sh', '-c', 'echo "hello from a dpk-packed volume plugin" > /data/greeting'], { env });
      const read = await execa('docker', ['run', '--rm', '--network', 'none', '-v', `${volume}:/data`, busybox, 'cat', '/data/greeting'], { env });
      process.stderr.write(`    second container read: ${read.stdout}\n`);
      const vls = await execa('docker', ['volume', 'ls', '--filter', `driver=${pluginRef}`, '--format', '{{.Driver}}  {{.Name}}'], { env });
      process.stderr.write(`    docker volume ls: ${vls.stdout}\n`);
      await execa('docker', ['volume', 'rm', volume], { env });
      await execa('docker', ['image', 'rm', busybox], { env, reject: false });
      if (read.stdout.trim() !== 'hello from a dpk-packed volume plugin') throw new Error('the volume did not carry the file between containers');
    }
    step(7, `dpk push to a private registry on loopback (${registry.host})`);
    const push = await dpk(['push', '--json'], { cwd: project.dir, env });
    const pushed = JSON.parse(String(push.stdout)) as { via: string; pushed: { reference: string; digest?: string }[] };
    for (const p of pushed.pushed) process.stderr.write(`    pushed ${p.reference} ${p.digest ?? ""} (through the ${pushed.via})\n`);
    process.stdout.write(`\nOK: ${pluginRef} was scaffolded, packed by dpk, enabled${type === 'volume' ? ', used' : ''} and pushed.\n`);
  } finally {
    if (!values.keep) {
      if (pluginRef) await execa('docker', ['plugin', 'rm', '--force', pluginRef], { env, reject: false });
      await rm(work, { recursive: true, force: true });
    }
    await registry?.stop();
    if (engine) await engine.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
