/**
 * The logging template end to end, on a private engine: scaffold a project, check its Go (gofmt, vet, tests), build
 * its image, `dpk pack --enable` it, and use it as a user would: containers run with `--log-driver` the plugin, and
 * `docker logs` (served by the plugin's ReadLogs) gives back their lines in order with stdout and stderr apart, the
 * last lines with --tail, a restarted container's runs one after the other, and `-f` until the container exits. A
 * container printing 50,000 lines is not held up and every line is kept. Then `dpk push` publishes it to a loopback
 * registry and a second, separate engine installs it from there and serves a container's logs with it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { buildScratchImage, dpk, checkGo, scaffold } from '../scripts/lib/project.js';
import { importBusyboxImage, skipWithoutEngine, startEngine, startRegistry, type Engine, type Registry } from './helpers/engine.js';
import { pushAndInstallElsewhere } from './helpers/second-engine.js';

const skip = await skipWithoutEngine();

async function dockerOk(engine: Engine, args: string[], options: { timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await engine.docker(args, { stripFinalNewline: false, ...options });
  assert.equal(r.exitCode, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

/** `docker logs` with both streams into one pipe, in the order the CLI writes them. */
async function logsCombined(engine: Engine, container: string): Promise<string> {
  const r = await execa('sh', ['-c', `docker logs ${container} 2>&1`], { env: engine.env, stripFinalNewline: false });
  return r.stdout;
}

test('logging template: generated plugin keeps container logs and serves docker logs', { skip, timeout: 900_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dpk-e2e-logging-'));
  let engine: Engine | undefined;
  let second: Engine | undefined;
  let registry: Registry | undefined;
  let ref = '';
  const containers = ['small', 'burst', 'follow'];
  try {
    registry = await startRegistry();
    ref = `${registry.host}/dpk-e2e/e2e-logging:latest`;
    const project = await scaffold({ parent: work, dirName: 'e2e-logging', type: 'logging', name: `${registry.host}/dpk-e2e/e2e-logging` });
    assert.equal(`${project.manifest.name}:${project.manifest.tag}`, ref);

    assert.match(await checkGo(project), /^ok\s/m, 'gofmt, go vet and go test pass');

    engine = await startEngine();
    const busybox = await importBusyboxImage(engine);
    await buildScratchImage(project, engine.env);
    await dpk(['pack', '--enable'], { cwd: project.dir, env: engine.env });

    // A log driver needs no privileges at all.
    const inspect = (format: string) => dockerOk(engine!, ['plugin', 'inspect', '-f', format, ref]).then((r) => r.stdout.trim());
    assert.equal(await inspect('{{.Enabled}} {{json .Config.Interface.Types}}'), 'true ["docker.logdriver/1.0"]');
    assert.equal(await inspect('{{json .Config.Linux.Capabilities}} {{json .Config.Mounts}} network={{.Config.Network.Type}}'), 'null null network=');
    const pluginId = await inspect('{{.Id}}');

    // Known lines on both streams, a pause between them so their order across the streams is defined.
    const script = 'echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; echo err-2 >&2; sleep 0.2; echo out-3';
    await dockerOk(engine, ['run', '--name', 'small', '--log-driver', ref, busybox, 'sh', '-c', script]);
    const logs = await dockerOk(engine, ['logs', 'small']);
    assert.equal(logs.stdout, 'out-1\nout-2\nout-3\n', 'docker logs 2>/dev/null');
    assert.equal(logs.stderr, 'err-1\nerr-2\n', 'docker logs 1>/dev/null');
    assert.equal(await logsCombined(engine, 'small'), 'out-1\nerr-1\nout-2\nerr-2\nout-3\n');
    const tail = await dockerOk(engine, ['logs', '--tail', '2', 'small']);
    assert.deepEqual([tail.stdout, tail.stderr], ['out-3\n', 'err-2\n']);

    // docker logs came from the plugin's own file (the engine keeps no cache for a driver that can read logs).
    const smallId = (await dockerOk(engine, ['inspect', '-f', '{{.Id}}', 'small'])).stdout.trim();
    const logFile = join(engine.dataRoot, 'plugins', pluginId, 'rootfs', 'var', 'log', project.binaryName, `${smallId}.log`);
    assert.ok((await stat(logFile)).size > 0, `${logFile} is empty`);
    const containerFiles = await readdir(join(engine.dataRoot, 'containers', smallId));
    assert.ok(!containerFiles.includes('local-logs'), `the engine cached the logs itself: ${containerFiles.join(' ')}`);

    // -t shows the engine's timestamps, kept by the plugin; --since and --until select by them.
    const stamped = (await execa('sh', ['-c', 'docker logs -t small 2>&1'], { env: engine.env })).stdout.split('\n');
    assert.equal(stamped.length, 5);
    const times = stamped.map((line) => line.split(' ')[0]!);
    assert.ok(times.every((t) => /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(t)), `timestamps: ${times.join(' ')}`);
    const between = await execa('sh', ['-c', `docker logs --since ${times[1]} --until ${times[3]} small 2>&1`], { env: engine.env, stripFinalNewline: false });
    assert.equal(between.stdout, 'err-1\nout-2\nerr-2\n');

    // A restarted container's second run follows its first.
    await dockerOk(engine, ['start', '-a', 'small']);
    assert.equal((await dockerOk(engine, ['logs', 'small'])).stdout, 'out-1\nout-2\nout-3\nout-1\nout-2\nout-3\n');

    // A burst: the container must not wait on the driver, and no line may be lost.
    const lines = 50_000;
    const started = Date.now();
    await dockerOk(engine, ['run', '-d', '--name', 'burst', '--log-driver', ref, busybox, 'sh', '-c', `seq 1 ${lines}; seq 1 1000 >&2`]);
    assert.equal((await dockerOk(engine, ['wait', 'burst'], { timeout: 120_000 })).stdout.trim(), '0');
    const burstSeconds = (Date.now() - started) / 1000;
    const burst = await dockerOk(engine, ['logs', 'burst']);
    const out = burst.stdout.split('\n').slice(0, -1);
    assert.equal(out.length, lines, `stdout lines from docker logs`);
    assert.ok(out.every((line, i) => line === String(i + 1)), 'stdout lines out of order or changed');
    assert.equal(burst.stderr.split('\n').length - 1, 1000, 'stderr lines from docker logs');
    assert.ok(burstSeconds < 60, `a ${lines}-line burst took ${burstSeconds}s`);
    console.log(`${lines} lines logged and read back; the container ran ${burstSeconds.toFixed(1)}s`);

    // docker logs -f streams while the container runs and returns when it exits.
    await dockerOk(engine, ['run', '-d', '--name', 'follow', '--log-driver', ref, busybox, 'sh', '-c', 'echo before; sleep 2; echo after']);
    const followed = await dockerOk(engine, ['logs', '-f', 'follow'], { timeout: 60_000 });
    assert.equal(followed.stdout, 'before\nafter\n');

    // The logs live in the plugin's root filesystem: a plugin restart keeps them...
    await dockerOk(engine, ['plugin', 'disable', ref]);
    await dockerOk(engine, ['plugin', 'enable', ref]);
    assert.equal(await logsCombined(engine, 'follow'), 'before\nafter\n');
    const reread = await dockerOk(engine, ['logs', 'burst']);
    assert.deepEqual([reread.stdout.length, reread.stderr.length], [burst.stdout.length, burst.stderr.length]);

    // And so does an engine restart.
    await engine.restart();
    assert.equal((await dockerOk(engine, ['logs', 'small'])).stdout, 'out-1\nout-2\nout-3\nout-1\nout-2\nout-3\n');

    // The plugin's lines reach the engine's log.
    assert.match(await engine.log(), /logging started\W+container=[0-9a-f]{64}/);

    // Published with dpk push and installed on a second engine from the registry, it keeps and serves logs there.
    const installed = await pushAndInstallElsewhere({ projectDir: project.dir, pluginRef: ref, from: engine });
    second = installed.engine;
    const busybox2 = await importBusyboxImage(second);
    await dockerOk(second, ['run', '--name', 'elsewhere', '--log-driver', ref, busybox2, 'sh', '-c', 'echo there-1; echo there-err >&2; sleep 0.2; echo there-2']);
    const there = await dockerOk(second, ['logs', 'elsewhere']);
    assert.equal(there.stdout, 'there-1\nthere-2\n');
    assert.equal(there.stderr, 'there-err\n');
  } finally {
    if (engine) {
      await engine.docker(['rm', '-f', ...containers]);
      await engine.docker(['plugin', 'rm', '-f', ref]);
      await engine.destroy();
    }
    if (second) {
      await second.docker(['rm', '-f', 'elsewhere']);
      await second.docker(['plugin', 'rm', '-f', ref]);
      await second.destroy();
    }
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
});
