/**
 * Privileged configs (issue 6): each grant that hands the plugin the host is a warning, an error with --strict; the
 * privilege list mirrors what `docker plugin install` asks (moby computePrivileges).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../src/config/validate.js';

const base = {
  Entrypoint: ['/plugin'],
  Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'p.sock' },
  PropagatedMount: '/data',
};

async function run(extra: Record<string, unknown>, strict = false) {
  return validateConfig(JSON.stringify({ ...base, ...extra }), { file: 'config.json', strict });
}

const privileged: [string, Record<string, unknown>, string, string][] = [
  ['CAP_SYS_ADMIN', { Linux: { Capabilities: ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'] } }, 'privilege-capability', 'Linux.Capabilities[1]'],
  ['all devices', { Linux: { AllowAllDevices: true } }, 'privilege-all-devices', 'Linux.AllowAllDevices'],
  ['host pid', { PidHost: true }, 'privilege-host-pid', 'PidHost'],
  ['host ipc', { IpcHost: true }, 'privilege-host-ipc', 'IpcHost'],
  ['host network', { Network: { Type: 'host' } }, 'privilege-host-network', 'Network.Type'],
  ['the docker socket', { Mounts: [{ Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', Options: ['rbind'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['a directory holding the docker socket', { Mounts: [{ Source: '/var/run/', Destination: '/var/run', Options: ['rbind'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['/', { Mounts: [{ Source: '/', Destination: '/host', Options: ['rbind'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['/etc', { Mounts: [{ Source: '/etc/', Destination: '/host/etc', Options: ['rbind', 'ro'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['the engine runtime directory (other plugins\' sockets)', { Mounts: [{ Source: '/run/docker/plugins', Destination: '/plugins', Options: ['rbind'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['the containerd socket', { Mounts: [{ Source: '/run/containerd/containerd.sock', Destination: '/c.sock', Options: ['rbind'] }] }, 'privilege-host-mount', 'Mounts[0].Source'],
  ['a raw disk', { Linux: { Devices: [{ Path: '/dev/sda' }] } }, 'privilege-device', 'Linux.Devices[0].Path'],
];

for (const [name, extra, ruleId, path] of privileged) {
  test(`${name} is a ${ruleId} warning, and an error with --strict`, async () => {
    const relaxed = await run(extra);
    const warning = relaxed.findings.find((f) => f.ruleId === ruleId && f.path === path);
    assert.equal(warning?.severity, 'warning', JSON.stringify(relaxed.findings));
    assert.equal(relaxed.valid, true, 'warnings alone keep the config valid');
    const strict = await run(extra, true);
    const error = strict.findings.find((f) => f.ruleId === ruleId && f.path === path);
    assert.equal(error?.severity, 'error');
    assert.equal(strict.valid, false);
  });
}

test('ordinary grants are listed as privileges but are not privilege findings, even with --strict', async () => {
  const config = {
    Network: { Type: 'none' },
    Linux: { Capabilities: ['CAP_NET_ADMIN'], Devices: [{ Path: '/dev/fuse' }] },
    Mounts: [{ Name: 'state', Source: '/var/lib/my-plugin', Destination: '/state', Options: ['rbind'], Settable: ['source'] }],
  };
  const result = await run(config, true);
  assert.equal(result.valid, true, JSON.stringify(result.findings));
  assert.deepEqual(result.findings.filter((f) => f.ruleId.startsWith('privilege-')), []);
  assert.deepEqual(result.privileges, [
    { Name: 'network', Description: 'permissions to access a network', Value: ['none'] },
    { Name: 'mount', Description: 'host path to mount', Value: ['/var/lib/my-plugin'] },
    { Name: 'device', Description: 'host device to access', Value: ['/dev/fuse'] },
    { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_NET_ADMIN'] },
  ]);
});

test('privileges follow the engine: no prompt for bridge networks or mounts without Source', async () => {
  const result = await run({ Network: { Type: 'bridge' }, Mounts: [{ Destination: '/x', Options: ['rbind'] }] });
  assert.deepEqual(result.privileges, []);
  const host = await run({ Network: { Type: 'host' }, PidHost: true, IpcHost: true, Linux: { AllowAllDevices: true } });
  assert.deepEqual(host.privileges.map((p) => p.Name), ['network', 'host ipc namespace', 'host pid namespace', 'allow-all-devices']);
});

test('a clean unprivileged config has no privileges', async () => {
  const result = await run({}, true);
  assert.deepEqual(result.findings, []);
  assert.deepEqual(result.privileges, []);
});
