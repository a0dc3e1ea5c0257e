/**
 * The network template end to end, on a private engine: scaffold a project, check its Go (gofmt, vet, tests), build
 * its image, `dpk pack --enable` it, and use it as a user would: containers on a network of the driver get an address
 * from its subnet (or the one given with --ip) and reach each other by address and by name, and nothing else (no
 * default route, no way to another network of the driver); on the host, the network's bridge and each container's
 * veth end exist while they are in use and are deleted on disconnect, container removal and `docker network rm`;
 * `-o` options are refused by name. Then `dpk push` publishes it to a loopback registry and a second, separate engine
 * installs it from there and gives a container an address with it.
 *
 * The private engines share this host's network namespace with everything else, so the test only ever looks at or
 * deletes links named after its own networks and endpoints (as the driver names them: links.go).
 */
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { buildScratchImage, dpk, checkGo, scaffold } from '../scripts/lib/project.js';
import { importBusyboxImage, skipWithoutEngine, startEngine, startRegistry, type Engine, type Registry } from './helpers/engine.js';
import { pushAndInstallElsewhere } from './helpers/second-engine.js';

const skip = await skipWithoutEngine();

async function dockerOk(engine: Engine, args: string[]): Promise<string> {
  const r = await engine.docker(args);
  assert.equal(r.exitCode, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

// The driver's link names (links.go): a prefix plus the start of the engine's ID, 15 characters in all.
const bridgeOf = (networkId: string) => `plbr${networkId.slice(0, 11)}`;
const hostVethOf = (endpointId: string) => `plh${endpointId.slice(0, 12)}`;

/** Whether a link of that name exists in the host's network namespace (the one the plugin runs in). */
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);
const isBridge = (name: string) => existsSync(`/sys/class/net/${name}/bridge`);
/** The bridge a link is attached to, or undefined. */
function masterOf(name: string): string | undefined {
  try {
    return basename(readlinkSync(`/sys/class/net/${name}/master`));
  } catch {
    return undefined;
  }
}

async function endpointId(engine: Engine, container: string, network: string): Promise<string> {
  return dockerOk(engine, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").EndpointID}}`, container]);
}

async function addressOf(engine: Engine, container: string, network: string): Promise<string> {
  return dockerOk(engine, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
}

/** The IPv4 addresses (with prefix length) inside a container, from busybox's `ip -4 addr`. */
async function containerAddresses(engine: Engine, container: string): Promise<string[]> {
  const out = await dockerOk(engine, ['exec', container, 'ip', '-4', 'addr']);
  return [...out.matchAll(/inet (\S+)/g)].map((m) => m[1]!).filter((a) => !a.startsWith('127.'));
}

test('network template: generated plugin joins containers on one host bridge per network, and nothing else', { skip, timeout: 900_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dpk-e2e-network-'));
  let engine: Engine | undefined;
  let second: Engine | undefined;
  let registry: Registry | undefined;
  let ref = '';
  // Every network and endpoint the test made, so that a failed run deletes exactly their links and no one else's.
  const networkIds: string[] = [];
  const endpointIds: string[] = [];
  const containers = ['c1', 'c2', 'c3', 'c4'];
  try {
    registry = await startRegistry();
    ref = `${registry.host}/dpk-e2e/e2e-network:latest`;
    const project = await scaffold({ parent: work, dirName: 'e2e-network', type: 'network', name: `${registry.host}/dpk-e2e/e2e-network` });
    assert.equal(`${project.manifest.name}:${project.manifest.tag}`, ref);

    assert.match(await checkGo(project), /^ok\s/m, 'gofmt, go vet and go test pass');

    engine = await startEngine();
    const busybox = await importBusyboxImage(engine);
    await buildScratchImage(project, engine.env);
    await dpk(['pack', '--enable'], { cwd: project.dir, env: engine.env });

    // The plugin asks for what it needs to make links on the host: host network and CAP_NET_ADMIN, nothing more.
    assert.equal(await dockerOk(engine, ['plugin', 'inspect', '-f', '{{.Enabled}} {{json .Config.Interface.Types}}', ref]), 'true ["docker.networkdriver/1.0"]');
    assert.equal(
      await dockerOk(engine, ['plugin', 'inspect', '-f', '{{json .Config.Linux.Capabilities}} {{json .Config.Mounts}} network={{.Config.Network.Type}}', ref]),
      '["CAP_NET_ADMIN"] null network=host',
    );

    // A network is a bridge on the host, named after the network's ID.
    const n1 = await dockerOk(engine, ['network', 'create', '-d', ref, '--subnet', '10.99.0.0/24', 'n1']);
    networkIds.push(n1);
    assert.match(n1, /^[0-9a-f]{64}$/);
    const bridge1 = bridgeOf(n1);
    assert.ok(isBridge(bridge1), `no bridge ${bridge1} on the host for network n1`);

    // Containers get their address from the subnet, or the one given with --ip.
    await dockerOk(engine, ['run', '-d', '--name', 'c1', '--network', 'n1', '--ip', '10.99.0.50', busybox, 'sleep', '600']);
    await dockerOk(engine, ['run', '-d', '--name', 'c2', '--network', 'n1', busybox, 'sleep', '600']);
    const ep1 = await endpointId(engine, 'c1', 'n1');
    const ep2 = await endpointId(engine, 'c2', 'n1');
    endpointIds.push(ep1, ep2);
    assert.equal(await addressOf(engine, 'c1', 'n1'), '10.99.0.50');
    const c2Address = await addressOf(engine, 'c2', 'n1');
    assert.match(c2Address, /^10\.99\.0\.\d+$/);
    assert.notEqual(c2Address, '10.99.0.50');
    assert.deepEqual(await containerAddresses(engine, 'c1'), ['10.99.0.50/24']);
    assert.deepEqual(await containerAddresses(engine, 'c2'), [`${c2Address}/24`]);
    assert.match(await dockerOk(engine, ['exec', 'c1', 'ip', 'link', 'show', 'eth0']), /eth0@\S+: <[^>]*\bUP\b[^>]*LOWER_UP/);

    // On the host: each container's veth end is on the network's bridge.
    assert.equal(masterOf(hostVethOf(ep1)), bridge1, `host veth of c1 not on ${bridge1}`);
    assert.equal(masterOf(hostVethOf(ep2)), bridge1, `host veth of c2 not on ${bridge1}`);

    // They reach each other by address and by name (the engine's DNS at 127.0.0.11).
    await dockerOk(engine, ['exec', 'c1', 'ping', '-c1', '-W2', c2Address]);
    await dockerOk(engine, ['exec', 'c2', 'ping', '-c1', '-W2', '10.99.0.50']);
    assert.match(await dockerOk(engine, ['exec', 'c2', 'ping', '-c1', '-W2', 'c1']), /10\.99\.0\.50/);
    assert.match(await dockerOk(engine, ['exec', 'c1', 'ping', '-c1', '-W2', 'c2']), new RegExp(c2Address.replace(/\./g, '\\.')));
    // TCP too: c1 serves a line, c2 fetches it by name.
    await dockerOk(engine, ['exec', '-d', 'c1', 'sh', '-c', 'echo hello-over-the-bridge | nc -l -p 8080']);
    assert.equal(await dockerOk(engine, ['exec', 'c2', 'sh', '-c', 'for i in 1 2 3 4 5; do nc -w 2 c1 8080 && exit 0; sleep 0.2; done; exit 1']), 'hello-over-the-bridge');

    // Nothing else: no gateway, no default route, so anything outside the subnet is unreachable.
    const routes = await dockerOk(engine, ['exec', 'c1', 'ip', 'route']);
    assert.doesNotMatch(routes, /default/, `a default route in the container: ${routes}`);
    assert.match(routes, /^10\.99\.0\.0\/24 dev eth0/m);
    const out = await engine.docker(['exec', 'c1', 'ping', '-c1', '-W2', '10.98.0.1']);
    assert.notEqual(out.exitCode, 0, 'a container reached an address outside its network');
    assert.match(out.stderr, /Network is unreachable/);

    // Another network of the driver is a separate bridge; its containers cannot reach n1's.
    const n2 = await dockerOk(engine, ['network', 'create', '-d', ref, '--subnet', '10.98.0.0/24', 'n2']);
    networkIds.push(n2);
    assert.ok(isBridge(bridgeOf(n2)), `no bridge ${bridgeOf(n2)} on the host for network n2`);
    await dockerOk(engine, ['run', '-d', '--name', 'c3', '--network', 'n2', busybox, 'sleep', '600']);
    const ep3 = await endpointId(engine, 'c3', 'n2');
    endpointIds.push(ep3);
    assert.equal(masterOf(hostVethOf(ep3)), bridgeOf(n2));
    const across = await engine.docker(['exec', 'c3', 'ping', '-c1', '-W2', '10.99.0.50']);
    assert.notEqual(across.exitCode, 0, 'a container on n2 reached one on n1');
    assert.match(across.stderr, /Network is unreachable/);

    // -o options are refused by name, and no network is left behind.
    const refused = await engine.docker(['network', 'create', '-d', ref, '--subnet', '10.97.0.0/24', '-o', 'mtu=1400', 'n3']);
    assert.notEqual(refused.exitCode, 0, 'a network with an -o option was created');
    assert.match(refused.stderr, /unknown driver option mtu: this driver takes no -o options/);
    assert.equal(await dockerOk(engine, ['network', 'ls', '-q', '--filter', 'name=^n3$']), '');

    // A plugin restart keeps everything: links are found again by name, running containers still talk, new ones join.
    await dockerOk(engine, ['plugin', 'disable', '-f', ref]);
    await dockerOk(engine, ['plugin', 'enable', ref]);
    await dockerOk(engine, ['exec', 'c1', 'ping', '-c1', '-W2', c2Address]);
    await dockerOk(engine, ['run', '-d', '--name', 'c4', '--network', 'n1', busybox, 'sleep', '600']);
    const ep4 = await endpointId(engine, 'c4', 'n1');
    endpointIds.push(ep4);
    assert.equal(masterOf(hostVethOf(ep4)), bridge1);
    assert.match(await dockerOk(engine, ['exec', 'c4', 'ping', '-c1', '-W2', 'c1']), /10\.99\.0\.50/);

    // Clean up as promised: disconnect and removal delete the veth pairs, network rm the bridge.
    await dockerOk(engine, ['network', 'disconnect', 'n1', 'c4']);
    assert.equal(linkExists(hostVethOf(ep4)), false, 'host veth of c4 outlived docker network disconnect');
    assert.deepEqual(await containerAddresses(engine, 'c4'), [], 'c4 kept an address after disconnect');

    // An engine restart after a host reboot (the engine stopped, the bridge gone with the reboot): the containers start
    // again on n1, the bridge is re-created by the first Join, and they reach each other by name.
    await engine.stop();
    await execa('ip', ['link', 'del', bridge1], { reject: false });
    assert.equal(linkExists(bridge1), false);
    await engine.restart();
    await dockerOk(engine, ['start', 'c1', 'c2']);
    const ep1After = await endpointId(engine, 'c1', 'n1');
    const ep2After = await endpointId(engine, 'c2', 'n1');
    endpointIds.push(ep1After, ep2After);
    assert.ok(isBridge(bridge1), `bridge ${bridge1} not re-created when a container started on n1 again`);
    assert.equal(masterOf(hostVethOf(ep1After)), bridge1);
    assert.deepEqual(await containerAddresses(engine, 'c1'), ['10.99.0.50/24']);
    assert.match(await dockerOk(engine, ['exec', 'c2', 'ping', '-c1', '-W2', 'c1']), /10\.99\.0\.50/);

    await dockerOk(engine, ['rm', '-f', 'c1', 'c2', 'c3', 'c4']);
    for (const ep of endpointIds) assert.equal(linkExists(hostVethOf(ep)), false, `host veth ${hostVethOf(ep)} outlived its container`);
    assert.ok(isBridge(bridge1), 'the bridge went with the last container; it belongs to the network');
    await dockerOk(engine, ['network', 'rm', 'n1', 'n2']);
    assert.equal(linkExists(bridge1), false, `bridge ${bridge1} outlived docker network rm`);
    assert.equal(linkExists(bridgeOf(n2)), false, `bridge ${bridgeOf(n2)} outlived docker network rm`);

    // The plugin's lines reach the engine's log.
    const log = await engine.log();
    assert.match(log, new RegExp(`network created\\W+network=${n1.slice(0, 12)}\\W+bridge=${bridge1}`));
    assert.match(log, new RegExp(`network deleted\\W+network=${n1.slice(0, 12)}`));

    // Published with dpk push (through this engine) and installed on a second engine from the registry, it works there.
    const installed = await pushAndInstallElsewhere({ projectDir: project.dir, pluginRef: ref, from: engine });
    second = installed.engine;
    const busybox2 = await importBusyboxImage(second);
    const m1 = await dockerOk(second, ['network', 'create', '-d', ref, '--subnet', '10.99.0.0/24', 'n1']);
    networkIds.push(m1);
    assert.ok(isBridge(bridgeOf(m1)), `no bridge ${bridgeOf(m1)} on the host for the second engine's network`);
    await dockerOk(second, ['run', '-d', '--name', 'c1', '--network', 'n1', busybox2, 'sleep', '600']);
    endpointIds.push(await endpointId(second, 'c1', 'n1'));
    const [onSecond] = await containerAddresses(second, 'c1');
    assert.match(onSecond ?? '', /^10\.99\.0\.\d+\/24$/);
    await dockerOk(second, ['rm', '-f', 'c1']);
    await dockerOk(second, ['network', 'rm', 'n1']);
    assert.equal(linkExists(bridgeOf(m1)), false, `bridge ${bridgeOf(m1)} outlived docker network rm on the second engine`);
  } finally {
    for (const e of [engine, second]) {
      if (!e) continue;
      await e.docker(['rm', '-f', ...containers]);
      await e.docker(['network', 'rm', 'n1', 'n2', 'n3']);
      await e.docker(['plugin', 'rm', '-f', ref]);
      await e.destroy();
    }
    // Links a failed run left on the host: only those named after this test's own networks and endpoints.
    for (const name of [...endpointIds.map(hostVethOf), ...networkIds.map(bridgeOf)]) {
      if (linkExists(name)) await execa('ip', ['link', 'del', name], { reject: false });
    }
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
});
