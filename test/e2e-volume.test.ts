/**
 * The volume template end to end, on a private engine: scaffold a project, check its Go (gofmt, vet, tests), build
 * its image, `dpk pack --enable` it, and use it as a user would: a container writes into a volume and a second one
 * reads it back; options set owner and mode, an unknown one is refused by name; a running container's mount is
 * counted and survives a plugin restart; volumes and data survive a plugin restart and an engine restart; removing
 * deletes the data from the plugin's propagated mount on the host, and so does removing the plugin. Then `dpk push`
 * publishes it to a loopback registry and a second, separate engine installs it from there and uses it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildScratchImage, dpk, checkGo, scaffold } from '../scripts/lib/project.js';
import { importBusyboxImage, skipWithoutEngine, startEngine, startRegistry, type Engine, type Registry } from './helpers/engine.js';
import { pushAndInstallElsewhere } from './helpers/second-engine.js';

const skip = await skipWithoutEngine();

async function dockerOk(engine: Engine, args: string[]): Promise<string> {
  const r = await engine.docker(args);
  assert.equal(r.exitCode, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The driver's Status for a volume, as `docker volume inspect` shows it. */
async function volumeStatus(engine: Engine, name: string): Promise<{ mounts: number; options?: Record<string, string> }> {
  return JSON.parse(await dockerOk(engine, ['volume', 'inspect', '-f', '{{json .Status}}', name]));
}

async function volumeNames(engine: Engine, driver: string): Promise<string[]> {
  const out = await dockerOk(engine, ['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
  return out
    .split('\n')
    .filter((line) => line.startsWith(`${driver} `))
    .map((line) => line.slice(driver.length + 1))
    .sort();
}

test('volume template: generated plugin stores volumes as directories that survive plugin and engine restarts', { skip, timeout: 900_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dpk-e2e-volume-'));
  let engine: Engine | undefined;
  let second: Engine | undefined;
  let registry: Registry | undefined;
  let ref = '';
  try {
    registry = await startRegistry();
    ref = `${registry.host}/dpk-e2e/e2e-volume:latest`;
    const project = await scaffold({ parent: work, dirName: 'e2e-volume', type: 'volume', name: `${registry.host}/dpk-e2e/e2e-volume` });
    assert.equal(`${project.manifest.name}:${project.manifest.tag}`, ref);

    assert.match(await checkGo(project), /^ok\s/m, 'gofmt, go vet and go test pass');

    engine = await startEngine();
    const busybox = await importBusyboxImage(engine);
    await buildScratchImage(project, engine.env);
    await dpk(['pack', '--enable'], { cwd: project.dir, env: engine.env });

    // The plugin asks for no privileges: a propagated mount, nothing else.
    assert.equal(await dockerOk(engine, ['plugin', 'inspect', '-f', '{{.Enabled}}', ref]), 'true');
    assert.equal(await dockerOk(engine, ['plugin', 'inspect', '-f', '{{json .Config.Linux.Capabilities}} {{.Config.PropagatedMount}} network={{.Config.Network.Type}}', ref]), 'null /data network=');
    const pluginId = await dockerOk(engine, ['plugin', 'inspect', '-f', '{{.Id}}', ref]);
    const hostVolumes = join(engine.dataRoot, 'plugins', pluginId, 'propagated-mount', 'volumes');

    // One container writes, the next reads.
    assert.equal(await dockerOk(engine, ['volume', 'create', '-d', ref, 'v1']), 'v1');
    await dockerOk(engine, ['run', '--rm', '-v', 'v1:/v', busybox, 'sh', '-c', 'echo written-by-the-first > /v/greeting']);
    assert.equal(await dockerOk(engine, ['run', '--rm', '-v', 'v1:/v', busybox, 'cat', '/v/greeting']), 'written-by-the-first');
    assert.equal(await readFile(join(hostVolumes, 'v1', 'greeting'), 'utf8'), 'written-by-the-first\n', 'the data is on the host under the propagated mount');
    assert.deepEqual(await volumeNames(engine, ref), ['v1']);
    const inspected = JSON.parse(await dockerOk(engine, ['volume', 'inspect', 'v1']))[0];
    assert.equal(inspected.Driver, ref);
    assert.equal(inspected.Scope, 'local');
    assert.equal(inspected.Mountpoint, '/data/volumes/v1');
    assert.deepEqual(inspected.Status, { mounts: 0 });

    // Options: owner and mode apply; an unknown option is refused by name and creates nothing.
    await dockerOk(engine, ['volume', 'create', '-d', ref, '-o', 'uid=1000', '-o', 'gid=1001', '-o', 'mode=0750', 'v2']);
    assert.equal(await dockerOk(engine, ['run', '--rm', '-v', 'v2:/v', busybox, 'stat', '-c', '%u %g %a', '/v']), '1000 1001 750');
    assert.deepEqual((await volumeStatus(engine, 'v2')).options, { uid: '1000', gid: '1001', mode: '0750' });
    const refused = await engine.docker(['volume', 'create', '-d', ref, '-o', 'size=1G', 'v3']);
    assert.notEqual(refused.exitCode, 0, 'a volume with an unknown option was created');
    assert.match(refused.stderr, /unknown option "size": this driver accepts gid, mode, uid/);
    assert.deepEqual(await volumeNames(engine, ref), ['v1', 'v2']);
    assert.deepEqual((await readdir(hostVolumes)).sort(), ['v1', 'v2']);

    // A running container's mount is counted, refuses removal, and survives a plugin restart.
    await dockerOk(engine, ['run', '-d', '--name', 'holder', '-v', 'v1:/v', busybox, 'sleep', '600']);
    assert.equal((await volumeStatus(engine, 'v1')).mounts, 1);
    const inUse = await engine.docker(['volume', 'rm', 'v1']);
    assert.notEqual(inUse.exitCode, 0, 'a volume in use was removed');
    assert.match(inUse.stderr, /in use/);
    // Volumes hold the plugin: disabling needs -f, as the README says.
    assert.notEqual((await engine.docker(['plugin', 'disable', ref])).exitCode, 0, 'plugin disabled while volumes use it');
    await dockerOk(engine, ['plugin', 'disable', '-f', ref]);
    await dockerOk(engine, ['plugin', 'enable', ref]);
    assert.deepEqual(await volumeNames(engine, ref), ['v1', 'v2']);
    assert.equal((await volumeStatus(engine, 'v1')).mounts, 1, 'the restarted plugin forgot the running container');
    assert.equal(await dockerOk(engine, ['exec', 'holder', 'sh', '-c', 'echo more >> /v/greeting && cat /v/greeting']), 'written-by-the-first\nmore');
    await dockerOk(engine, ['rm', '-f', 'holder']);
    assert.equal((await volumeStatus(engine, 'v1')).mounts, 0, 'removing the container did not unmount');

    // An engine restart keeps volumes, their options and their data.
    await engine.restart();
    assert.equal(await dockerOk(engine, ['plugin', 'inspect', '-f', '{{.Enabled}}', ref]), 'true');
    assert.deepEqual(await volumeNames(engine, ref), ['v1', 'v2']);
    assert.deepEqual((await volumeStatus(engine, 'v2')).options, { uid: '1000', gid: '1001', mode: '0750' });
    assert.equal(await dockerOk(engine, ['run', '--rm', '-v', 'v1:/v', busybox, 'cat', '/v/greeting']), 'written-by-the-first\nmore');

    // Removing deletes the volume and its data; the state file is left with nothing.
    await dockerOk(engine, ['volume', 'rm', 'v1', 'v2']);
    assert.deepEqual(await volumeNames(engine, ref), []);
    assert.deepEqual(await readdir(hostVolumes), []);
    const state = JSON.parse(await readFile(join(hostVolumes, '..', 'state.json'), 'utf8'));
    assert.deepEqual(state, { volumes: {} });

    // The plugin's lines reach the engine's log.
    const log = await engine.log();
    assert.match(log, /created volume\W+name=v1/);
    assert.match(log, /removed volume\W+name=v2/);

    // Published with dpk push (through this engine) and installed on a second engine from the registry, it works there.
    const installed = await pushAndInstallElsewhere({ projectDir: project.dir, pluginRef: ref, from: engine });
    second = installed.engine;
    const busybox2 = await importBusyboxImage(second);
    assert.equal(await dockerOk(second, ['volume', 'create', '-d', ref, 'w1']), 'w1');
    await dockerOk(second, ['run', '--rm', '-v', 'w1:/v', busybox2, 'sh', '-c', 'echo on-the-second-engine > /v/f']);
    assert.equal(await dockerOk(second, ['run', '--rm', '-v', 'w1:/v', busybox2, 'cat', '/v/f']), 'on-the-second-engine');
    assert.deepEqual(await volumeNames(second, ref), ['w1']);
    await dockerOk(second, ['volume', 'rm', 'w1']);

    // `docker plugin rm -f` takes the data of volumes still there with it, as the README warns.
    await dockerOk(engine, ['volume', 'create', '-d', ref, 'v3']);
    await dockerOk(engine, ['run', '--rm', '-v', 'v3:/v', busybox, 'sh', '-c', 'echo doomed > /v/f']);
    await dockerOk(engine, ['plugin', 'rm', '-f', ref]);
    assert.equal(existsSync(join(engine.dataRoot, 'plugins', pluginId)), false, 'the plugin directory (with propagated-mount) outlived docker plugin rm');
  } finally {
    if (engine) {
      await engine.docker(['rm', '-f', 'holder']);
      await engine.docker(['volume', 'rm', '-f', 'v1', 'v2', 'v3']);
      await engine.docker(['plugin', 'rm', '-f', ref]);
      await engine.destroy();
    }
    if (second) {
      await second.docker(['volume', 'rm', '-f', 'w1']);
      await second.docker(['plugin', 'rm', '-f', ref]);
      await second.destroy();
    }
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
});
