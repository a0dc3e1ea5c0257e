/**
 * What users will be asked to grant, and which of those grants amount to root on the host.
 *
 * privilegesOf mirrors moby plugin/backend_linux.go computePrivileges: the list `docker plugin install` prints
 * before "Do you grant the above permissions?". privilegeFindings calls out the grants that hand the plugin the host
 * (issue 6): they are warnings, and errors with --strict so CI can gate on them.
 */
import { error, joinPath, warning, type RuleFinding } from './findings.js';
import type { PluginPrivilege } from './types.js';

function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function privilegesOf(config: Record<string, unknown>): PluginPrivilege[] {
  const out: PluginPrivilege[] = [];
  const networkType = rec(config.Network)?.Type;
  if (typeof networkType === 'string' && networkType !== 'null' && networkType !== 'bridge' && networkType !== '') {
    out.push({ Name: 'network', Description: 'permissions to access a network', Value: [networkType] });
  }
  if (config.IpcHost === true) out.push({ Name: 'host ipc namespace', Description: 'allow access to host ipc namespace', Value: ['true'] });
  if (config.PidHost === true) out.push({ Name: 'host pid namespace', Description: 'allow access to host pid namespace', Value: ['true'] });
  for (const m of arr(config.Mounts)) {
    const source = rec(m)?.Source;
    if (typeof source === 'string') out.push({ Name: 'mount', Description: 'host path to mount', Value: [source] });
  }
  const linux = rec(config.Linux);
  for (const d of arr(linux?.Devices)) {
    const path = rec(d)?.Path;
    if (typeof path === 'string') out.push({ Name: 'device', Description: 'host device to access', Value: [path] });
  }
  if (linux?.AllowAllDevices === true) out.push({ Name: 'allow-all-devices', Description: "allow 'rwm' access to all devices", Value: ['true'] });
  const caps = arr(linux?.Capabilities).filter((c): c is string => typeof c === 'string');
  if (caps.length > 0) out.push({ Name: 'capabilities', Description: 'list of additional capabilities required', Value: caps });
  return out;
}

/** Capabilities that let a process take over the host (each is a known container escape on its own). */
const HOST_CAPABILITIES: Record<string, string> = {
  CAP_SYS_ADMIN: 'mount filesystems, use most namespaces and devices: close to full root on the host',
  CAP_SYS_MODULE: 'load kernel modules: full control of the host kernel',
  CAP_SYS_RAWIO: 'raw I/O to devices and memory',
  CAP_SYS_PTRACE: 'trace and inject into other processes it can see',
  CAP_SYS_BOOT: 'reboot the host and load a new kernel',
  CAP_DAC_READ_SEARCH: 'open host files by handle, outside its own root (open_by_handle_at)',
  CAP_BPF: 'load BPF programs into the host kernel',
  CAP_MAC_ADMIN: 'change the host\'s mandatory access control policy',
  CAP_MAC_OVERRIDE: 'bypass the host\'s mandatory access control',
};

/** Devices that bypass every file permission on the host. */
const HOST_DEVICES: [RegExp, string][] = [
  [/^\/dev\/(mem|kmem|port)$/, "raw access to the host's memory"],
  [/^\/dev\/(sd[a-z]+|hd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+|dm-\d+|md\d+|loop\d+)(p?\d+)?$/, "raw access to a host disk, below every file permission"],
];

/** Host paths whose mount hands over the engine (so root), by the path or any directory above it. */
const ENGINE_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock', '/var/run/containerd/containerd.sock'];
/** Host paths whose mount exposes the host itself. */
const HOST_PATHS: Record<string, string> = {
  '/etc': "the host's configuration (users, sudoers, cron)",
  '/proc': "the host's processes and kernel settings",
  '/sys': "the host's kernel and device settings",
  '/dev': "the host's devices",
  '/root': "root's home directory",
  '/boot': "the host's kernels and boot loader",
  '/var/lib/docker': "the engine's data: every image, container and volume",
  '/var/lib/containerd': "containerd's data: every image and container snapshot",
};
/** The engine's runtime directories: anything at, above or inside them reaches other plugins' sockets. */
const ENGINE_RUNTIME = ['/run/docker', '/var/run/docker'];

function cleanHostPath(source: string): string | undefined {
  if (!source.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const part of source.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function isAtOrAbove(mounted: string, target: string): boolean {
  return mounted === '/' || target === mounted || target.startsWith(`${mounted}/`);
}

export function privilegeFindings(config: Record<string, unknown>): RuleFinding[] {
  const out: RuleFinding[] = [];
  const grant = 'users must grant it at `docker plugin install`; keep it only if the plugin cannot work without it';
  const linux = rec(config.Linux);
  arr(linux?.Capabilities).forEach((cap, i) => {
    if (typeof cap === 'string' && HOST_CAPABILITIES[cap]) {
      out.push(warning('privilege-capability', joinPath('Linux.Capabilities', i), `${cap} lets the plugin ${HOST_CAPABILITIES[cap]}`, grant));
    }
  });
  if (linux?.AllowAllDevices === true) {
    out.push(warning('privilege-all-devices', 'Linux.AllowAllDevices', 'the plugin may read and write every device of the host (disks included)', 'list the devices it needs in Linux.Devices instead'));
  }
  arr(linux?.Devices).forEach((d, i) => {
    const device = rec(d)?.Path;
    if (typeof device !== 'string') return;
    const kind = HOST_DEVICES.find(([pattern]) => pattern.test(device));
    if (kind) out.push(warning('privilege-device', joinPath(joinPath('Linux.Devices', i), 'Path'), `${device} gives the plugin ${kind[1]}`, grant));
  });
  if (config.PidHost === true) out.push(warning('privilege-host-pid', 'PidHost', "the plugin shares the host's PID namespace: it sees every process of the host", grant));
  if (config.IpcHost === true) out.push(warning('privilege-host-ipc', 'IpcHost', "the plugin shares the host's IPC namespace (shared memory, semaphores, message queues)", grant));
  if (rec(config.Network)?.Type === 'host') {
    out.push(warning('privilege-host-network', 'Network.Type', "the plugin shares the host's network: every interface, and ports on the host's addresses", grant));
  }
  arr(config.Mounts).forEach((m, i) => {
    const source = rec(m)?.Source;
    if (typeof source !== 'string') return;
    const host = cleanHostPath(source);
    if (host === undefined) return;
    const path = joinPath(joinPath('Mounts', i), 'Source');
    if (host === '/') {
      out.push(warning('privilege-host-mount', path, 'mounts the whole host filesystem ("/")', 'mount only the directories the plugin needs'));
      return;
    }
    const socket = ENGINE_SOCKETS.find((s) => isAtOrAbove(host, s));
    if (socket) {
      out.push(warning('privilege-host-mount', path, `mounts ${host}${host === socket ? '' : `, which holds ${socket}`}: whoever talks to it controls the engine, so root on the host`, 'give the plugin a narrower API (e.g. a socket proxy that allows only the calls it makes)'));
      return;
    }
    const runtime = ENGINE_RUNTIME.find((p) => isAtOrAbove(host, p) || host.startsWith(`${p}/`));
    if (runtime) {
      out.push(warning('privilege-host-mount', path, `mounts ${host}, in the engine's runtime directory ${runtime}: the sockets of the engine's other plugins (and containerd's state) are there`, 'give the plugin only its own socket directory, which the engine provides'));
      return;
    }
    const sensitive = Object.keys(HOST_PATHS).find((p) => isAtOrAbove(host, p));
    if (sensitive) {
      out.push(warning('privilege-host-mount', path, `mounts ${host}${host === sensitive ? '' : `, which holds ${sensitive}`}: ${HOST_PATHS[sensitive]}`, 'mount only the subdirectory or file the plugin needs, read-only if it can be'));
    }
  });
  return out;
}

/** --strict: every privilege warning becomes an error. */
export function strictPrivileges(findings: RuleFinding[]): RuleFinding[] {
  return findings.map((f) => (f.ruleId.startsWith('privilege-') && f.severity === 'warning' ? { ...error(f.ruleId, f.path, f.message, f.hint) } : f));
}
