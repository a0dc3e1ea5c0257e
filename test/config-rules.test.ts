/**
 * Every semantic rule: a config that breaks it (the finding, its severity, its path) and one that passes.
 * Where the engine's behaviour was seen on the engine here (dockerd 20.10 + runc 1.1), the rule's message says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RULES, parseInterfaceType } from '../src/config/rules.js';
import type { Finding, Severity } from '../src/config/findings.js';
import { validateConfig } from '../src/config/validate.js';

type Config = Record<string, unknown>;

const base: Config = {
  Description: 'test plugin',
  Entrypoint: ['/usr/bin/plugin'],
  Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'plugin.sock' },
  PropagatedMount: '/data',
};

function withInterface(extra: Config): Config {
  return { ...base, Interface: { ...(base.Interface as Config), ...extra } };
}

async function findings(config: Config): Promise<Finding[]> {
  return (await validateConfig(JSON.stringify(config), { file: 'config.json' })).findings;
}

interface Case {
  name: string;
  ruleId: string;
  severity: Severity;
  path: string;
  message?: RegExp;
  hint?: RegExp;
  breaks: Config;
  passes: Config;
}

const cases: Case[] = [
  {
    name: 'no interface types',
    ruleId: 'interface-types-missing',
    severity: 'error',
    path: 'Interface.Types',
    breaks: withInterface({ Types: [] }),
    passes: base,
  },
  {
    name: 'interface type without the docker prefix',
    ruleId: 'interface-type-invalid',
    severity: 'error',
    path: 'Interface.Types[0]',
    hint: /docker\.volumedriver\/1\.0/,
    breaks: withInterface({ Types: ['volumedriver/1.0'] }),
    passes: withInterface({ Types: ['docker.volumedriver/1.0'] }),
  },
  {
    name: 'interface capability in upper case',
    ruleId: 'interface-type-invalid',
    severity: 'error',
    path: 'Interface.Types[0]',
    message: /lower case/,
    breaks: withInterface({ Types: ['docker.VolumeDriver/1.0'] }),
    passes: withInterface({ Types: ['docker.volumedriver/1.0'] }),
  },
  {
    name: 'interface capability the engine does not have',
    ruleId: 'interface-type-unknown',
    severity: 'error',
    path: 'Interface.Types[0]',
    hint: /docker\.secretprovider\/1\.0/,
    breaks: withInterface({ Types: ['docker.secret_driver/1.0'] }),
    passes: withInterface({ Types: ['docker.secretprovider/1.0'] }),
  },
  {
    name: 'network driver with a version the engine does not register',
    ruleId: 'interface-type-version',
    severity: 'error',
    path: 'Interface.Types[0]',
    message: /exactly "docker\.networkdriver\/1\.0"/,
    breaks: withInterface({ Types: ['docker.networkdriver/2.0'] }),
    passes: withInterface({ Types: ['docker.networkdriver/1.0'] }),
  },
  {
    name: 'volume driver with another version (engine ignores it)',
    ruleId: 'interface-type-version',
    severity: 'warning',
    path: 'Interface.Types[0]',
    breaks: withInterface({ Types: ['docker.volumedriver/2.0'] }),
    passes: base,
  },
  {
    name: 'graph driver plugins are gone',
    ruleId: 'interface-type-removed',
    severity: 'warning',
    path: 'Interface.Types[0]',
    breaks: withInterface({ Types: ['docker.graphdriver/1.0'] }),
    passes: base,
  },
  {
    name: 'no socket',
    ruleId: 'socket-missing',
    severity: 'error',
    path: 'Interface.Socket',
    breaks: withInterface({ Socket: '' }),
    passes: base,
  },
  {
    name: 'socket given as a path',
    ruleId: 'socket-not-a-name',
    severity: 'error',
    path: 'Interface.Socket',
    hint: /"plugin\.sock"/,
    breaks: withInterface({ Socket: '/run/docker/plugins/plugin.sock' }),
    passes: base,
  },
  {
    name: 'socket name over 22 bytes (23 failed on the engine)',
    ruleId: 'socket-too-long',
    severity: 'error',
    path: 'Interface.Socket',
    message: /23 bytes/,
    breaks: withInterface({ Socket: `${'a'.repeat(18)}.sock` }),
    passes: withInterface({ Socket: `${'a'.repeat(17)}.sock` }),
  },
  {
    name: 'socket in the arguments differs from Interface.Socket',
    ruleId: 'socket-mismatch',
    severity: 'error',
    path: 'Entrypoint[2]',
    breaks: { ...base, Entrypoint: ['/usr/bin/plugin', '--socket', '/run/docker/plugins/other.sock'] },
    passes: { ...base, Entrypoint: ['/usr/bin/plugin', '--socket', '/run/docker/plugins/plugin.sock'] },
  },
  {
    name: 'socket in an env value differs',
    ruleId: 'socket-mismatch',
    severity: 'error',
    path: 'Env[0].Value',
    breaks: { ...base, Env: [{ Name: 'ENDPOINT', Value: 'unix:///run/docker/plugins/csi.sock' }] },
    passes: { ...base, Env: [{ Name: 'ENDPOINT', Value: 'unix:///run/docker/plugins/plugin.sock' }] },
  },
  {
    name: 'unknown protocol scheme',
    ruleId: 'protocol-scheme-unknown',
    severity: 'warning',
    path: 'Interface.ProtocolScheme',
    breaks: withInterface({ ProtocolScheme: 'grpc' }),
    passes: withInterface({ ProtocolScheme: 'moby.plugins.http/v1' }),
  },
  {
    name: 'no entrypoint',
    ruleId: 'entrypoint-missing',
    severity: 'error',
    path: 'Entrypoint',
    breaks: { ...base, Entrypoint: [] },
    passes: base,
  },
  {
    name: 'empty command',
    ruleId: 'entrypoint-missing',
    severity: 'error',
    path: 'Entrypoint[0]',
    breaks: { ...base, Entrypoint: ['', 'x'] },
    passes: base,
  },
  {
    name: 'relative WorkDir (runc: "Cwd must be an absolute path")',
    ruleId: 'workdir-not-absolute',
    severity: 'error',
    path: 'WorkDir',
    hint: /"\/app"/,
    breaks: { ...base, WorkDir: 'app' },
    passes: { ...base, WorkDir: '/app' },
  },
  {
    name: 'network type the engine does not know',
    ruleId: 'network-type-unknown',
    severity: 'error',
    path: 'Network.Type',
    breaks: { ...base, Network: { Type: 'plugin-net' } },
    passes: { ...base, Network: { Type: 'none' } },
  },
  {
    name: 'bridge network is loopback only',
    ruleId: 'network-type-isolated',
    severity: 'warning',
    path: 'Network.Type',
    message: /loopback only/,
    breaks: { ...base, Network: { Type: 'bridge' } },
    passes: { ...base, Network: { Type: '' } },
  },
  {
    name: 'mount without Source ("mount source is not specified" at enable)',
    ruleId: 'mount-source-missing',
    severity: 'error',
    path: 'Mounts[0].Source',
    breaks: { ...base, Mounts: [{ Name: 'state', Destination: '/state', Options: ['rbind'], Settable: ['source'] }] },
    passes: { ...base, Mounts: [{ Name: 'state', Source: '', Destination: '/state', Options: ['rbind'], Settable: ['source'] }] },
  },
  {
    name: 'bind mount with an empty Source nobody can set',
    ruleId: 'mount-source-missing',
    severity: 'error',
    path: 'Mounts[0].Source',
    breaks: { ...base, Mounts: [{ Source: '', Destination: '/state', Options: ['rbind'] }] },
    passes: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state', Options: ['rbind'] }] },
  },
  {
    name: 'mount without Destination',
    ruleId: 'mount-destination-invalid',
    severity: 'error',
    path: 'Mounts[0].Destination',
    breaks: { ...base, Mounts: [{ Source: '/var/lib/plugin', Options: ['rbind'] }] },
    passes: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state', Options: ['rbind'] }] },
  },
  {
    name: 'mount with a relative Destination',
    ruleId: 'mount-destination-invalid',
    severity: 'warning',
    path: 'Mounts[0].Destination',
    breaks: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: 'state', Options: ['rbind'] }] },
    passes: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state', Options: ['rbind'] }] },
  },
  {
    name: 'Type "bind" without a bind option ("no such device" at enable)',
    ruleId: 'mount-bind-option-missing',
    severity: 'error',
    path: 'Mounts[0].Options',
    breaks: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state', Type: 'bind' }] },
    passes: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state', Type: 'bind', Options: ['rbind'] }] },
  },
  {
    name: 'a real filesystem type needs no bind option',
    ruleId: 'mount-bind-option-missing',
    severity: 'error',
    path: 'Mounts[0].Options',
    breaks: { ...base, Mounts: [{ Source: '/var/lib/plugin', Destination: '/state' }] },
    passes: { ...base, Mounts: [{ Source: 'tmpfs', Destination: '/scratch', Type: 'tmpfs', Options: ['size=64m', 'mode=0755'] }] },
  },
  {
    name: 'bind option runc does not know (ignored: "r" stayed read-write on the engine)',
    ruleId: 'mount-option-unknown',
    severity: 'error',
    path: 'Mounts[0].Options[1]',
    hint: /did you mean "ro"\?/,
    breaks: { ...base, Mounts: [{ Source: '/etc/plugin', Destination: '/etc/plugin', Options: ['rbind', 'r'] }] },
    passes: { ...base, Mounts: [{ Source: '/etc/plugin', Destination: '/etc/plugin', Options: ['rbind', 'ro', 'rshared', 'nosuid'] }] },
  },
  {
    name: 'device without Path (the engine crashed the enable request)',
    ruleId: 'device-path-missing',
    severity: 'error',
    path: 'Linux.Devices[0].Path',
    breaks: { ...base, Linux: { Devices: [{ Name: 'fuse' }] } },
    passes: { ...base, Linux: { Devices: [{ Name: 'fuse', Path: '/dev/fuse' }] } },
  },
  {
    name: 'device path not absolute',
    ruleId: 'device-path-missing',
    severity: 'error',
    path: 'Linux.Devices[0].Path',
    breaks: { ...base, Linux: { Devices: [{ Path: 'fuse' }] } },
    passes: { ...base, Linux: { Devices: [{ Path: '', Name: 'disk', Settable: ['path'] }] } },
  },
  {
    name: 'settable field the engine refuses for a mount ("cache.destination" is not settable)',
    ruleId: 'settable-field-invalid',
    severity: 'error',
    path: 'Mounts[0].Settable[1]',
    breaks: { ...base, Mounts: [{ Name: 'cache', Source: '/tmp', Destination: '/c', Options: ['rbind'], Settable: ['source', 'destination'] }] },
    passes: { ...base, Mounts: [{ Name: 'cache', Source: '/tmp', Destination: '/c', Options: ['rbind'], Settable: ['source'] }] },
  },
  {
    name: 'settable field in the wrong case ("A.Value" is not settable)',
    ruleId: 'settable-field-invalid',
    severity: 'error',
    path: 'Env[0].Settable[0]',
    hint: /lower case/,
    breaks: { ...base, Env: [{ Name: 'A', Value: '1', Settable: ['Value'] }] },
    passes: { ...base, Env: [{ Name: 'A', Value: '1', Settable: ['value'] }] },
  },
  {
    name: 'settable Args without a name',
    ruleId: 'setting-name-invalid',
    severity: 'error',
    path: 'Args.Name',
    breaks: { ...base, Args: { Value: ['-v'], Settable: ['value'] } },
    passes: { ...base, Args: { Name: 'args', Value: ['-v'], Settable: ['value'] } },
  },
  {
    name: 'settable name with "=" cannot be addressed',
    ruleId: 'setting-name-invalid',
    severity: 'error',
    path: 'Mounts[0].Name',
    breaks: { ...base, Mounts: [{ Name: 'a=b', Source: '', Destination: '/c', Options: ['rbind'], Settable: ['source'] }] },
    passes: { ...base, Mounts: [{ Name: 'a_b', Source: '', Destination: '/c', Options: ['rbind'], Settable: ['source'] }] },
  },
  {
    name: 'settable name with "." needs the NAME.field form',
    ruleId: 'setting-name-invalid',
    severity: 'warning',
    path: 'Mounts[0].Name',
    breaks: { ...base, Mounts: [{ Name: 'a.b', Source: '', Destination: '/c', Options: ['rbind'], Settable: ['source'] }] },
    passes: { ...base, Mounts: [{ Name: 'a-b', Source: '', Destination: '/c', Options: ['rbind'], Settable: ['source'] }] },
  },
  {
    name: 'a settable name shadowed by an earlier one',
    ruleId: 'setting-name-duplicate',
    severity: 'error',
    path: 'Mounts[0].Name',
    breaks: { ...base, Env: [{ Name: 'state', Value: 'x' }], Mounts: [{ Name: 'state', Source: '', Destination: '/s', Options: ['rbind'], Settable: ['source'] }] },
    passes: { ...base, Env: [{ Name: 'STATE_DIR', Value: 'x' }], Mounts: [{ Name: 'state', Source: '', Destination: '/s', Options: ['rbind'], Settable: ['source'] }] },
  },
  {
    name: 'the same env variable twice',
    ruleId: 'setting-name-duplicate',
    severity: 'warning',
    path: 'Env[1].Name',
    breaks: { ...base, Env: [{ Name: 'A', Value: '1' }, { Name: 'A', Value: '2' }] },
    passes: { ...base, Env: [{ Name: 'A', Value: '1' }, { Name: 'a', Value: '2' }] },
  },
  {
    name: 'env without a name',
    ruleId: 'env-name-invalid',
    severity: 'error',
    path: 'Env[0].Name',
    breaks: { ...base, Env: [{ Value: '1' }] },
    passes: { ...base, Env: [{ Name: 'LOG_LEVEL' }] },
  },
  {
    name: 'capability without the CAP_ prefix (runc drops it silently)',
    ruleId: 'capability-unknown',
    severity: 'error',
    path: 'Linux.Capabilities[0]',
    hint: /"CAP_SYS_ADMIN"/,
    breaks: { ...base, Linux: { Capabilities: ['sys_admin'] } },
    passes: { ...base, Linux: { Capabilities: ['CAP_SYS_ADMIN'] } },
  },
  {
    name: 'capability that does not exist',
    ruleId: 'capability-unknown',
    severity: 'error',
    path: 'Linux.Capabilities[0]',
    breaks: { ...base, Linux: { Capabilities: ['CAP_NET_ADMINS'] } },
    passes: { ...base, Linux: { Capabilities: ['CAP_NET_ADMIN', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'] } },
  },
  {
    name: 'capability listed twice',
    ruleId: 'capability-duplicate',
    severity: 'warning',
    path: 'Linux.Capabilities[1]',
    breaks: { ...base, Linux: { Capabilities: ['CAP_NET_ADMIN', 'CAP_NET_ADMIN'] } },
    passes: { ...base, Linux: { Capabilities: ['CAP_NET_ADMIN'] } },
  },
  {
    name: 'capability every plugin already has',
    ruleId: 'capability-default',
    severity: 'warning',
    path: 'Linux.Capabilities[0]',
    breaks: { ...base, Linux: { Capabilities: ['CAP_MKNOD'] } },
    passes: { ...base, Linux: { Capabilities: ['CAP_NET_ADMIN'] } },
  },
  {
    name: 'relative PropagatedMount',
    ruleId: 'propagated-mount-not-absolute',
    severity: 'error',
    path: 'PropagatedMount',
    breaks: { ...base, PropagatedMount: 'data' },
    passes: base,
  },
  {
    name: 'volume driver without PropagatedMount',
    ruleId: 'volume-propagated-mount-missing',
    severity: 'warning',
    path: 'PropagatedMount',
    breaks: { ...base, PropagatedMount: undefined },
    passes: withInterface({ Types: ['docker.logdriver/1.0'], Socket: 'plugin.sock' }),
  },
  {
    name: 'User is ignored',
    ruleId: 'user-ignored',
    severity: 'warning',
    path: 'User',
    breaks: { ...base, User: { UID: 1000, GID: 1000 } },
    passes: { ...base, User: {} },
  },
];

for (const c of cases) {
  test(`${c.ruleId}: ${c.name}`, async () => {
    const broken = (await findings(c.breaks)).filter((f) => f.ruleId === c.ruleId);
    const hit = broken.find((f) => f.path === c.path);
    assert.ok(hit, `expected ${c.ruleId} at ${c.path}, got ${JSON.stringify(broken.map((f) => [f.path, f.message]))}`);
    assert.equal(hit.severity, c.severity);
    assert.equal(hit.file, 'config.json');
    assert.ok(hit.message.length > 0 && !hit.message.includes('\n'), 'one-line message');
    assert.ok(hit.hint && hit.hint.length > 0, 'every rule finding has a hint');
    if (c.message) assert.match(hit.message, c.message);
    if (c.hint) assert.match(hit.hint, c.hint);
    const passing = (await findings(c.passes)).filter((f) => f.ruleId === c.ruleId);
    assert.deepEqual(passing, [], `the passing config still reports ${c.ruleId}`);
  });
}

test('the base config of these cases is clean', async () => {
  assert.deepEqual(await findings(base), []);
});

test('every rule id a rule declares has a case here', () => {
  const covered = new Set(cases.map((c) => c.ruleId));
  for (const rule of RULES) for (const id of rule.ids) assert.ok(covered.has(id), `no test case for ${id}`);
});

test('interface types split as the engine splits them', () => {
  assert.deepEqual(parseInterfaceType('docker.volumedriver/1.0'), { prefix: 'docker', capability: 'volumedriver', version: '1.0' });
  assert.deepEqual(parseInterfaceType('com.example.docker.x/2'), { prefix: 'com.example.docker', capability: 'x', version: '2' });
  assert.deepEqual(parseInterfaceType('docker.authz'), { prefix: 'docker', capability: 'authz', version: '' });
});
