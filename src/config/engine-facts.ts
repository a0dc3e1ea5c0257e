/**
 * What the Docker Engine and its runtime (runc) do with a plugin config, as read in their source and checked on the
 * engine these tests run (Debian's dockerd 20.10.24 with runc 1.1.5). Rules cite these instead of repeating them.
 */

/**
 * Interface capabilities the engine looks plugins up by. A type is "<prefix>.<capability>/<version>"; the engine
 * splits it at the last "." before the first "/" (api/types PluginInterfaceType.UnmarshalJSON) and
 * v2.Plugin.FilterByCap matches `prefix == "docker"` and the capability exactly, against a lower-cased request.
 * Network and IPAM drivers, and the metrics collector, are registered by the whole string
 * "docker.<capability>/1.0" (plugin/store.go pluginType, Handle, RegisterRuntimeOpt), so for them any other
 * version means the engine never hands the plugin to its subsystem; the others ignore the version.
 */
export interface InterfaceTypeFact {
  /** Who asks for it. */
  usedBy: string;
  /** True when the engine matches the whole "docker.x/1.0" string, so the version must be exactly 1.0. */
  exactVersion: boolean;
  /** Set when current engines no longer use it. */
  removed?: string;
}

export const INTERFACE_TYPES: Record<string, InterfaceTypeFact> = {
  volumedriver: { usedBy: 'volumes (docker volume create -d)', exactVersion: false }, // volume/drivers extpoint "VolumeDriver"
  networkdriver: { usedBy: 'networks (docker network create -d)', exactVersion: true }, // libnetwork driverapi "NetworkDriver"
  ipamdriver: { usedBy: 'IP address management (docker network create --ipam-driver)', exactVersion: true }, // ipamapi "IpamDriver"
  authz: { usedBy: 'authorization (dockerd --authorization-plugin)', exactVersion: false }, // pkg/authorization AuthZApiImplements
  logdriver: { usedBy: 'logging (docker run --log-driver)', exactVersion: false }, // daemon/logger plugin "LogDriver"
  metricscollector: { usedBy: 'engine metrics (/run/docker/metrics.sock is mounted in)', exactVersion: true }, // daemon/metrics.go
  csicontroller: { usedBy: 'swarm cluster volumes (CSI controller)', exactVersion: false }, // swarmkit csi DockerCSIPluginCap
  csinode: { usedBy: 'swarm cluster volumes (CSI node)', exactVersion: false },
  secretprovider: { usedBy: 'swarm secrets from a driver (docker secret create --driver)', exactVersion: false }, // swarmkit drivers
  graphdriver: {
    usedBy: 'storage drivers',
    exactVersion: false,
    removed: 'graph driver plugins were deprecated in Docker 20.10 and current engines no longer load them',
  },
};

/**
 * The plugin's socket: the engine dials /run/docker/plugins/<64-hex plugin id>/<Socket> (the plugin sees it as
 * /run/docker/plugins/<Socket>). A unix socket path is at most 107 bytes for Go's dialer, which leaves 22 bytes for
 * the name. Seen on the engine here: a 22-byte name enabled; 23 failed with "connect: invalid argument"; 30 failed
 * with `Unix socket path "..." is too long` (regardless of --exec-root).
 */
export const PLUGIN_SOCKET_DIR = '/run/docker/plugins';
export const MAX_SOCKET_NAME_BYTES = 22;

export const PROTOCOL_SCHEMES = ['', 'moby.plugins.http/v1'] as const;

/**
 * The PATH the engine gives every plugin (plugin/v2/plugin_linux.go InitSpec: "PATH=" + oci.DefaultPathEnv), which
 * the runtime uses to find an Entrypoint given as a bare name.
 */
export const PLUGIN_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Network types. InitSpec removes the network namespace only for "host"; any other non-empty type gets a fresh
 * namespace with loopback only (its "bridge" is a TODO in the engine) plus the host's /etc/hosts and
 * /etc/resolv.conf. computePrivileges asks users to grant every type except "", "bridge" and "null".
 */
export const NETWORK_TYPES = ['host', 'bridge', 'none'] as const;

/** Linux capabilities by name (include/uapi/linux/capability.h, 0..40), as runc names them ("CAP_" + upper case). */
export const LINUX_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** What every plugin already has (moby oci/defaults.go DefaultCapabilities): listing these only adds a prompt. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/**
 * Mount options runc turns into mount flags (libcontainer/specconv/spec_linux.go: mountFlags, mountPropagationMapping,
 * recAttrFlags, extensionFlags, complexFlags). Anything else is passed to the filesystem as data, which a bind mount
 * ignores: seen on the engine here, a bind mount with option "r" enabled as a read-write mount.
 */
export const RUNC_MOUNT_OPTIONS = [
  // mountFlags
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion', 'lazytime', 'loud', 'mand',
  'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime',
  'nosuid', 'nosymfollow', 'rbind', 'relatime', 'remount', 'ro', 'rw', 'silent', 'strictatime', 'suid', 'sync',
  'symfollow',
  // propagation
  'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable',
  // recursive mount attributes (mount_setattr)
  'rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec', 'rnodiratime', 'rdiratime', 'rrelatime',
  'rnorelatime', 'rnoatime', 'ratime', 'rstrictatime', 'rnostrictatime', 'rnosymfollow', 'rsymfollow',
  // extensions
  'tmpcopyup', 'idmap', 'ridmap',
] as const;

/**
 * Which field `docker plugin set` may change, per kind (plugin/v2/settable.go allowedSettableFields*). The engine
 * compares exactly: "Value" or "destination" in Settable can never be set (seen: `"A.Value" is not settable`,
 * `"cache.destination" is not settable`).
 */
export const SETTABLE_FIELDS = { Env: 'value', Args: 'value', Mounts: 'source', Devices: 'path' } as const;
