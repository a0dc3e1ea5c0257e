/**
 * Semantic rules: what the engine and runtime will do with a config that decodes fine. Each rule has a stable id and
 * says, in its message, what the engine would do, and in its hint, what to change. A rule is an error only when the
 * setting is really ignored or broken at `docker plugin create`, `enable`, `set` or use; otherwise a warning.
 *
 * Rules run on the normalised config before or despite type errors, so they read it through the small guards below
 * and skip what is not the type they expect (the schema already reported that).
 */
import {
  DEFAULT_CAPABILITIES,
  INTERFACE_TYPES,
  LINUX_CAPABILITIES,
  MAX_SOCKET_NAME_BYTES,
  NETWORK_TYPES,
  PLUGIN_SOCKET_DIR,
  PROTOCOL_SCHEMES,
  RUNC_MOUNT_OPTIONS,
  SETTABLE_FIELDS,
} from './engine-facts.js';
import { error, joinPath, warning, type RuleFinding } from './findings.js';
import { closest } from './parse.js';

export interface Rule {
  /** Rule ids this rule can report. */
  ids: readonly string[];
  /** One line for documentation. */
  summary: string;
  check(config: Record<string, unknown>): RuleFinding[];
}

// --- guards ------------------------------------------------------------------------------------------------------

function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function strings(value: unknown): string[] {
  return arr(value).filter((v): v is string => typeof v === 'string');
}

/** Parse an interface type as the engine does (PluginInterfaceType.UnmarshalJSON). */
export function parseInterfaceType(text: string): { prefix: string; capability: string; version: string } {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  const dot = text.lastIndexOf('.', end - 1);
  const prefixIndex = dot < 0 ? 0 : dot;
  return {
    prefix: text.slice(0, prefixIndex),
    capability: text.slice(prefixIndex + 1, end),
    version: slash < 0 ? '' : text.slice(slash + 1),
  };
}

const CAPABILITY_ALIASES: Record<string, string> = {
  volume: 'volumedriver',
  volumes: 'volumedriver',
  network: 'networkdriver',
  ipam: 'ipamdriver',
  log: 'logdriver',
  logging: 'logdriver',
  logger: 'logdriver',
  loggingdriver: 'logdriver',
  metrics: 'metricscollector',
  authorization: 'authz',
  authzdriver: 'authz',
  secret: 'secretprovider',
  secrets: 'secretprovider',
  secretdriver: 'secretprovider',
  secret_driver: 'secretprovider',
  csi: 'csicontroller',
};

function types(config: Record<string, unknown>): string[] {
  return strings(rec(config.Interface)?.Types);
}

function hasType(config: Record<string, unknown>, capability: string): boolean {
  return types(config).some((t) => {
    const parsed = parseInterfaceType(t);
    return parsed.prefix === 'docker' && parsed.capability === capability;
  });
}

// --- interface ---------------------------------------------------------------------------------------------------

const interfaceTypes: Rule = {
  ids: ['interface-types-missing', 'interface-type-invalid', 'interface-type-unknown', 'interface-type-version', 'interface-type-removed'],
  summary: 'Interface.Types are types the engine looks plugins up by: docker.<capability>/1.0, lower case',
  check(config) {
    const list = arr(rec(config.Interface)?.Types);
    if (list.length === 0) {
      return [
        error(
          'interface-types-missing',
          'Interface.Types',
          'no interface types: the engine looks plugins up by type, so nothing would ever use this plugin',
          'add the type it implements, e.g. "docker.volumedriver/1.0"',
        ),
      ];
    }
    const out: RuleFinding[] = [];
    list.forEach((item, i) => {
      const path = joinPath('Interface.Types', i);
      if (typeof item !== 'string') return;
      const { prefix, capability, version } = parseInterfaceType(item);
      const lower = capability.toLowerCase();
      const known = INTERFACE_TYPES[lower];
      const suggestion = known ? lower : CAPABILITY_ALIASES[lower.replace(/-/g, '_')] ?? closest(lower, Object.keys(INTERFACE_TYPES));
      const fix = `docker.${suggestion ?? lower}/1.0`;
      if (prefix !== 'docker') {
        out.push(error('interface-type-invalid', path, `"${item}" is not "docker.<capability>/<version>": the engine only uses types with the "docker" prefix`, `write "${fix}"`));
        return;
      }
      if (capability !== lower) {
        out.push(error('interface-type-invalid', path, `"${item}": the engine matches the capability in lower case only, so it would never find this plugin`, `write "${fix}"`));
        return;
      }
      if (!known) {
        const known_ = Object.keys(INTERFACE_TYPES).filter((k) => !INTERFACE_TYPES[k]?.removed);
        out.push(
          error(
            'interface-type-unknown',
            path,
            `"${item}": the engine has no "${capability}" interface, so it would never call this plugin for it`,
            suggestion ? `did you mean "${fix}"?` : `known: ${known_.map((k) => `docker.${k}/1.0`).join(', ')}`,
          ),
        );
        return;
      }
      if (known.removed) {
        out.push(warning('interface-type-removed', path, `"${item}": ${known.removed}`, 'target a supported interface type'));
      }
      if (version !== '1.0') {
        const shown = version === '' ? 'no version' : `version "${version}"`;
        out.push(
          known.exactVersion
            ? error('interface-type-version', path, `"${item}" has ${shown}: the engine registers ${known.usedBy} only for exactly "docker.${capability}/1.0"`, `write "docker.${capability}/1.0"`)
            : warning('interface-type-version', path, `"${item}" has ${shown}: the only version of this interface is 1.0 (the engine ignores it today)`, `write "docker.${capability}/1.0"`),
        );
      }
    });
    return out;
  },
};

const socket: Rule = {
  ids: ['socket-missing', 'socket-not-a-name', 'socket-too-long'],
  summary: 'Interface.Socket is a bare file name of at most 22 bytes',
  check(config) {
    const value = rec(config.Interface)?.Socket;
    if (value !== undefined && typeof value !== 'string') return [];
    if (value === undefined || value === '') {
      return [
        error(
          'socket-missing',
          'Interface.Socket',
          'no socket name: the engine would dial /run/docker/plugins/<id>/ and fail at enable',
          'set Interface.Socket to the file name the plugin listens on, e.g. "plugin.sock"',
        ),
      ];
    }
    if (value.includes('/') || value === '.' || value === '..' || value.includes('\0')) {
      return [
        error(
          'socket-not-a-name',
          'Interface.Socket',
          `"${value}" is not a file name: the engine joins it to /run/docker/plugins/<id>/`,
          `give only the file name (the plugin listens on ${PLUGIN_SOCKET_DIR}/<name>), e.g. "${value.split('/').pop() || 'plugin.sock'}"`,
        ),
      ];
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_SOCKET_NAME_BYTES) {
      return [
        error(
          'socket-too-long',
          'Interface.Socket',
          `"${value}" is ${bytes} bytes: the engine dials ${PLUGIN_SOCKET_DIR}/<64-character id>/${value}, longer than a unix socket path may be, and enable fails ("connect: invalid argument")`,
          `use a name of at most ${MAX_SOCKET_NAME_BYTES} bytes, e.g. "plugin.sock"`,
        ),
      ];
    }
    return [];
  },
};

const socketMismatch: Rule = {
  ids: ['socket-mismatch'],
  summary: 'a socket path in Entrypoint, Args or Env matches Interface.Socket',
  check(config) {
    const socketName = str(rec(config.Interface)?.Socket);
    if (!socketName || socketName.includes('/')) return [];
    const places: [string, unknown][] = [
      ...arr(config.Entrypoint).map((v, i): [string, unknown] => [joinPath('Entrypoint', i), v]),
      ...arr(rec(config.Args)?.Value).map((v, i): [string, unknown] => [joinPath('Args.Value', i), v]),
      ...arr(config.Env).map((e, i): [string, unknown] => [joinPath(joinPath('Env', i), 'Value'), rec(e)?.Value]),
    ];
    const out: RuleFinding[] = [];
    for (const [path, value] of places) {
      if (typeof value !== 'string') continue;
      for (const match of value.matchAll(/(?:\/var)?\/run\/docker\/plugins\/([^\s"'`,;:=)]+)/g)) {
        const named = match[1] as string;
        if (named !== socketName && !named.endsWith('/')) {
          out.push(
            error(
              'socket-mismatch',
              path,
              `the plugin is told to listen on ${match[0]}, but Interface.Socket is "${socketName}": the engine would wait for ${PLUGIN_SOCKET_DIR}/${socketName} and enable fails`,
              `make them the same: Interface.Socket "${named}" or ${PLUGIN_SOCKET_DIR}/${socketName} here`,
            ),
          );
        }
      }
    }
    return out;
  },
};

const protocolScheme: Rule = {
  ids: ['protocol-scheme-unknown'],
  summary: 'Interface.ProtocolScheme is empty or moby.plugins.http/v1',
  check(config) {
    const scheme = rec(config.Interface)?.ProtocolScheme;
    if (typeof scheme !== 'string' || (PROTOCOL_SCHEMES as readonly string[]).includes(scheme)) return [];
    return [
      warning(
        'protocol-scheme-unknown',
        'Interface.ProtocolScheme',
        `"${scheme}" is not a scheme the engine knows: it creates its HTTP client only for "moby.plugins.http/v1" (the default), which volume, network, IPAM, authz and log drivers need`,
        'leave ProtocolScheme out unless the plugin speaks another protocol on purpose',
      ),
    ];
  },
};

// --- process -----------------------------------------------------------------------------------------------------

const entrypoint: Rule = {
  ids: ['entrypoint-missing'],
  summary: 'Entrypoint names the command to run',
  check(config) {
    if (config.Entrypoint !== undefined && !Array.isArray(config.Entrypoint)) return [];
    const list = arr(config.Entrypoint);
    const args = arr(rec(config.Args)?.Value);
    if (list.length === 0 && args.length === 0) {
      return [error('entrypoint-missing', 'Entrypoint', 'no Entrypoint: the runtime has no command to start and enable fails', 'set Entrypoint, e.g. ["/usr/bin/my-plugin"]')];
    }
    if (list.length === 0) {
      return [warning('entrypoint-missing', 'Entrypoint', 'no Entrypoint: the engine runs Args.Value as the command, which users can replace with `docker plugin set`', 'put the command in Entrypoint and only its arguments in Args')];
    }
    if (list[0] === '') return [error('entrypoint-missing', 'Entrypoint[0]', 'the command is an empty string: the runtime cannot start it', 'put the program path first, e.g. "/usr/bin/my-plugin"')];
    return [];
  },
};

const workDir: Rule = {
  ids: ['workdir-not-absolute'],
  summary: 'WorkDir is absolute',
  check(config) {
    const dir = str(config.WorkDir);
    if (!dir || dir.startsWith('/')) return [];
    return [error('workdir-not-absolute', 'WorkDir', `"${dir}" is relative: runc refuses to start the plugin ("Cwd must be an absolute path")`, `write "/${dir.replace(/^\.\/?/, '')}"`)];
  },
};

const network: Rule = {
  ids: ['network-type-unknown', 'network-type-isolated'],
  summary: 'Network.Type is host, bridge or none, and does what the author expects',
  check(config) {
    const type = str(rec(config.Network)?.Type);
    if (type === undefined || type === '' || type === 'host' || type === 'none') return [];
    if (type === 'bridge') {
      return [
        warning(
          'network-type-isolated',
          'Network.Type',
          '"bridge" does not connect the plugin to a bridge: the engine gives it its own network namespace with loopback only',
          'use "host" if the plugin must reach anything outside itself; "none" (or no Network) if it needs no network',
        ),
      ];
    }
    return [
      error(
        'network-type-unknown',
        'Network.Type',
        `"${type}" is not a network type the engine knows (${NETWORK_TYPES.join(', ')}): the plugin gets loopback only${type === 'null' ? '' : `, and users are asked to grant network "${type}"`}`,
        'use "host" if the plugin needs the network (it then shares the host\'s), "none" if it does not',
      ),
    ];
  },
};

// --- mounts and devices ------------------------------------------------------------------------------------------

function settableList(entry: Record<string, unknown>): string[] {
  return strings(entry.Settable);
}

const mounts: Rule = {
  ids: ['mount-source-missing', 'mount-destination-invalid', 'mount-bind-option-missing', 'mount-option-unknown'],
  summary: 'every mount has a Source (or a settable one), an absolute Destination, and options runc understands',
  check(config) {
    const out: RuleFinding[] = [];
    arr(config.Mounts).forEach((item, i) => {
      const m = rec(item);
      if (!m) return;
      const path = joinPath('Mounts', i);
      const options = strings(m.Options);
      const bind = options.includes('bind') || options.includes('rbind');
      const sourceSettable = settableList(m).includes('source');
      const source = m.Source;
      if (source === undefined) {
        out.push(
          error(
            'mount-source-missing',
            joinPath(path, 'Source'),
            'no Source: `docker plugin enable` fails with "mount source is not specified" (and `docker plugin set` cannot fill it in)',
            sourceSettable ? 'write "Source": "" so users can set it' : 'set Source to the host path, or "" with "Settable": ["source"] if users must choose it',
          ),
        );
      } else if (typeof source === 'string' && bind && !source.startsWith('/')) {
        if (source === '' && !sourceSettable) {
          out.push(error('mount-source-missing', joinPath(path, 'Source'), 'Source is empty and users cannot set it: a bind mount needs a host path', 'set Source, or add "Settable": ["source"] so users can'));
        } else if (source !== '') {
          out.push(error('mount-source-missing', joinPath(path, 'Source'), `"${source}" is relative: runc resolves a relative bind source against its own bundle directory, not a host path you chose`, `write the absolute host path, e.g. "/${source}"`));
        }
      }
      const destination = m.Destination;
      if (destination === undefined || destination === '') {
        out.push(error('mount-destination-invalid', joinPath(path, 'Destination'), 'no Destination: the runtime does not know where to mount it', 'set Destination to an absolute path inside the plugin'));
      } else if (typeof destination === 'string' && !destination.startsWith('/')) {
        out.push(warning('mount-destination-invalid', joinPath(path, 'Destination'), `"${destination}" is relative: runc warns and treats it as "/${destination}", and says it will refuse this in a future release`, `write "/${destination}"`));
      }
      const type = str(m.Type) ?? '';
      if (!bind && (type === '' || type === 'bind' || type === 'rbind' || type === 'none')) {
        out.push(
          error(
            'mount-bind-option-missing',
            joinPath(path, 'Options'),
            `no "bind" or "rbind" option: runc then mounts filesystem type "${type}", which fails at enable ("no such device")`,
            'add "rbind" (or "bind") to Options; for bind mounts Type is ignored',
          ),
        );
      }
      if (bind) {
        // For any other type, an unknown option is filesystem data (size=, mode=), which dpk cannot judge.
        arr(m.Options).forEach((option, j) => {
          if (typeof option !== 'string' || (RUNC_MOUNT_OPTIONS as readonly string[]).includes(option)) return;
          const near = closest(option, RUNC_MOUNT_OPTIONS);
          out.push(
            error(
              'mount-option-unknown',
              joinPath(joinPath(path, 'Options'), j),
              `"${option}" is not a mount option runc knows: on a bind mount it is ignored`,
              near ? `did you mean "${near}"?` : 'remove it; runc knows bind, rbind, ro, rw, nosuid, nodev, noexec, the propagation modes (rshared, rslave, rprivate, ...) and a few more',
            ),
          );
        });
      }
    });
    return out;
  },
};

const devices: Rule = {
  ids: ['device-path-missing'],
  summary: 'every device has an absolute Path (or a settable one)',
  check(config) {
    const out: RuleFinding[] = [];
    arr(rec(config.Linux)?.Devices).forEach((item, i) => {
      const d = rec(item);
      if (!d) return;
      const path = joinPath(joinPath('Linux.Devices', i), 'Path');
      const settable = settableList(d).includes('path');
      if (d.Path === undefined) {
        out.push(
          error(
            'device-path-missing',
            path,
            'no Path: `docker plugin enable` crashes in the engine (nil pointer; seen: the enable request ends with EOF)',
            settable ? 'write "Path": "" so users can set it' : 'set Path, e.g. "/dev/fuse"',
          ),
        );
      } else if (typeof d.Path === 'string' && d.Path === '' && !settable) {
        out.push(error('device-path-missing', path, 'Path is empty and users cannot set it: enable fails to find the device', 'set Path, or add "Settable": ["path"]'));
      } else if (typeof d.Path === 'string' && d.Path !== '' && !d.Path.startsWith('/')) {
        out.push(error('device-path-missing', path, `"${d.Path}" is not an absolute device path`, `write "/dev/${d.Path.replace(/^dev\//, '')}"`));
      }
    });
    return out;
  },
};

// --- settings: names and settable fields -------------------------------------------------------------------------

interface Setting {
  kind: keyof typeof SETTABLE_FIELDS;
  path: string;
  entry: Record<string, unknown>;
}

function settings(config: Record<string, unknown>): Setting[] {
  const out: Setting[] = [];
  // The order `docker plugin set` searches in (plugin/v2/plugin.go Set): env, mounts, devices, args.
  arr(config.Env).forEach((e, i) => rec(e) && out.push({ kind: 'Env', path: joinPath('Env', i), entry: rec(e) as Record<string, unknown> }));
  arr(config.Mounts).forEach((m, i) => rec(m) && out.push({ kind: 'Mounts', path: joinPath('Mounts', i), entry: rec(m) as Record<string, unknown> }));
  arr(rec(config.Linux)?.Devices).forEach(
    (d, i) => rec(d) && out.push({ kind: 'Devices', path: joinPath('Linux.Devices', i), entry: rec(d) as Record<string, unknown> }),
  );
  const args = rec(config.Args);
  if (args) out.push({ kind: 'Args', path: 'Args', entry: args });
  return out;
}

const settable: Rule = {
  ids: ['settable-field-invalid'],
  summary: 'Settable lists only the field the engine lets users set for that kind',
  check(config) {
    const out: RuleFinding[] = [];
    for (const s of settings(config)) {
      const allowed = SETTABLE_FIELDS[s.kind];
      arr(s.entry.Settable).forEach((field, j) => {
        if (typeof field !== 'string' || field === allowed) return;
        const what = s.kind === 'Env' ? 'an env variable' : s.kind === 'Args' ? 'Args' : s.kind === 'Mounts' ? 'a mount' : 'a device';
        out.push(
          error(
            'settable-field-invalid',
            joinPath(joinPath(s.path, 'Settable'), j),
            `"${field}" can never be set: on ${what} the engine only lets users set "${allowed}" (\`docker plugin set\` answers "not settable")`,
            field.toLowerCase() === allowed ? `write "${allowed}" in lower case` : `use ["${allowed}"]`,
          ),
        );
      });
    }
    return out;
  },
};

const settingNames: Rule = {
  ids: ['setting-name-invalid', 'setting-name-duplicate', 'env-name-invalid'],
  summary: 'names users address with `docker plugin set` are present, unique and free of "." and "="',
  check(config) {
    const out: RuleFinding[] = [];
    const seen = new Map<string, Setting>();
    for (const s of settings(config)) {
      const name = s.entry.Name;
      const isSettable = arr(s.entry.Settable).length > 0;
      const namePath = joinPath(s.path, 'Name');
      if (s.kind === 'Env' && (typeof name !== 'string' || name === '' || name.includes('='))) {
        if (name === undefined || typeof name === 'string') {
          out.push(error('env-name-invalid', namePath, name ? `"${name}" contains "=": the plugin would see a different variable` : 'no Name: the plugin would get "=<value>" in its environment', 'set Name to the variable name, e.g. "LOG_LEVEL"'));
        }
        continue;
      }
      if (typeof name !== 'string' || name === '') {
        if (isSettable && (name === undefined || typeof name === 'string')) {
          out.push(error('setting-name-invalid', namePath, 'settable but has no Name: users cannot address it with `docker plugin set`', 'give it a Name'));
        }
        continue;
      }
      if (isSettable && name.includes('=')) {
        out.push(error('setting-name-invalid', namePath, `"${name}" contains "=": \`docker plugin set ${name}=...\` splits at the first "=", so users cannot set it`, 'use letters, digits, "_" and "-"'));
      } else if (isSettable && name.includes('.')) {
        out.push(warning('setting-name-invalid', namePath, `"${name}" contains ".": \`docker plugin set ${name}=...\` reads the part after the last "." as a field, so users must write ${name}.${SETTABLE_FIELDS[s.kind]}=...`, `rename it without "." (e.g. "${name.replace(/\./g, '_')}")`));
      }
      const first = seen.get(name);
      if (first) {
        const shadowed = isSettable;
        const message = `"${name}" is also the name of ${first.path}: \`docker plugin set ${name}=...\` always changes ${first.path}${shadowed ? ', so this one can never be set' : ''}`;
        out.push((shadowed ? error : warning)('setting-name-duplicate', namePath, message, 'give every env variable, mount, device and Args a different Name'));
      } else {
        seen.set(name, s);
      }
    }
    return out;
  },
};

// --- capabilities ------------------------------------------------------------------------------------------------

const capabilities: Rule = {
  ids: ['capability-unknown', 'capability-duplicate', 'capability-default'],
  summary: 'Linux.Capabilities are real capability names, CAP_-prefixed, upper case, listed once',
  check(config) {
    const out: RuleFinding[] = [];
    const seen = new Set<string>();
    arr(rec(config.Linux)?.Capabilities).forEach((cap, i) => {
      if (typeof cap !== 'string') return;
      const path = joinPath('Linux.Capabilities', i);
      if (!(LINUX_CAPABILITIES as readonly string[]).includes(cap)) {
        const upper = cap.toUpperCase().replace(/-/g, '_');
        const fixed = [upper, `CAP_${upper}`].find((c) => (LINUX_CAPABILITIES as readonly string[]).includes(c)) ?? closest(upper.startsWith('CAP_') ? upper : `CAP_${upper}`, LINUX_CAPABILITIES);
        out.push(
          error(
            'capability-unknown',
            path,
            `"${cap}" is not a capability name runc knows: it drops it without failing, so the plugin runs without it`,
            fixed ? `write "${fixed}"` : 'see capabilities(7) for the names; runc wants "CAP_" + the upper-case name',
          ),
        );
        return;
      }
      if (seen.has(cap)) {
        out.push(warning('capability-duplicate', path, `"${cap}" is listed twice`, 'list it once'));
        return;
      }
      seen.add(cap);
      if ((DEFAULT_CAPABILITIES as readonly string[]).includes(cap)) {
        out.push(warning('capability-default', path, `"${cap}" is one of the capabilities every plugin already has: listing it only adds it to what users are asked to grant`, 'remove it'));
      }
    });
    return out;
  },
};

// --- volumes -----------------------------------------------------------------------------------------------------

const propagatedMount: Rule = {
  ids: ['propagated-mount-not-absolute', 'volume-propagated-mount-missing'],
  summary: 'PropagatedMount is absolute, and a volume driver has one',
  check(config) {
    const value = str(config.PropagatedMount);
    if (value !== undefined && value !== '' && !value.startsWith('/')) {
      return [error('propagated-mount-not-absolute', 'PropagatedMount', `"${value}" is relative: the engine mounts it as a mount destination inside the plugin, which must be absolute`, `write "/${value}"`)];
    }
    if ((value === undefined || value === '') && hasType(config, 'volumedriver')) {
      return [
        warning(
          'volume-propagated-mount-missing',
          'PropagatedMount',
          'a volume driver without PropagatedMount: mounts it makes inside its own mount namespace are not visible to the engine or to containers',
          'set PropagatedMount to the directory the plugin mounts volumes under, e.g. "/data" (and CAP_SYS_ADMIN to mount)',
        ),
      ];
    }
    return [];
  },
};

const user: Rule = {
  ids: ['user-ignored'],
  summary: 'User is not read by the engine',
  check(config) {
    const u = rec(config.User);
    if (!u || Object.keys(u).length === 0 || (!u.UID && !u.GID)) return [];
    return [warning('user-ignored', 'User', 'the engine ignores User: the plugin process always runs as root (InitSpec never reads it)', 'remove User; drop privileges inside the plugin if it must not run as root')];
  },
};

export const RULES: readonly Rule[] = [
  interfaceTypes,
  socket,
  socketMismatch,
  protocolScheme,
  entrypoint,
  workDir,
  network,
  mounts,
  devices,
  settable,
  settingNames,
  capabilities,
  propagatedMount,
  user,
];

export function runRules(config: Record<string, unknown>): RuleFinding[] {
  return RULES.flatMap((rule) => rule.check(config));
}
