import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { PLUGIN_TYPES, type PluginType } from '../project/manifest.js';
import { parsePluginReference, shortName, type PluginReference } from '../reference.js';

/** What the generator needs to know; every field is a flag and a prompt. */
export interface Answers {
  directory: string;
  type: PluginType;
  /** Plugin reference as the user wrote it (tag optional). */
  name: string;
  module: string;
  description: string;
}

/** The engine looks for the socket under a path that must fit a unix socket address; ../config rules enforce 22. */
export const SOCKET_NAME_MAX = 22;

export function checkType(value: string, what = '--type'): PluginType {
  const type = value.trim().toLowerCase();
  if (!PLUGIN_TYPES.includes(type as PluginType)) {
    throw new UsageError(`${what} "${value}": not a plugin type this generator knows`, { hint: `use one of ${PLUGIN_TYPES.join(', ')}` });
  }
  return type as PluginType;
}

export function checkName(value: string, what = '--name'): PluginReference {
  return parsePluginReference(value.trim(), what);
}

// Go module paths (golang.org/x/mod/module.CheckImportPath): elements of letters, digits and - . _ ~, none empty,
// none starting or ending with a dot; the first element lowercase when it is a domain.
const MODULE_ELEMENT = /^[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]*[A-Za-z0-9_~-])?$/;

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i;

export function checkModule(value: string, what = '--module'): string {
  const module = value.trim();
  const fail = (reason: string): never => {
    throw new UsageError(`${what} "${value}": ${reason}`, { hint: 'a Go module path like github.com/acme/my-volume' });
  };
  if (module === '') fail('is empty');
  if (module.length > 500) fail('is too long');
  const elements = module.split('/');
  for (const element of elements) {
    if (element === '') fail('has an empty path element (check for doubled or trailing "/")');
    if (!MODULE_ELEMENT.test(element)) fail(`path element "${element}" may only hold letters, digits and - . _ ~, and may not start or end with "."`);
  }
  for (const element of elements) {
    // The go command refuses these too (x/mod/module.CheckImportPath), so go build would fail on the first try.
    if (/~[0-9]+$/.test(element)) fail(`path element "${element}" ends in a tilde and digits (a Windows short name)`);
    if (WINDOWS_RESERVED.test(element.split('.')[0]!)) fail(`path element "${element}" is a reserved file name on Windows`);
  }
  const first = elements[0]!;
  if (first.startsWith('-')) fail('starts with a dash');
  if (first.includes('.') && first !== first.toLowerCase()) fail(`domain "${first}" must be lowercase`);
  if (first === 'std' || first === 'cmd') fail(`"${first}" is reserved for the Go standard library`);
  return module;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkDescription(value: string, what = '--description'): string {
  const description = value.trim();
  if (description === '') throw new UsageError(`${what}: is empty`, { hint: 'one line saying what the plugin does' });
  if (CONTROL.test(description)) throw new UsageError(`${what}: must be one line without control characters`);
  if (description.length > 200) throw new UsageError(`${what}: is longer than 200 characters`, { hint: 'keep it to one short line; the README is for the rest' });
  return description;
}

/** The directory the project goes into; its last component is also the default plugin name. */
export function checkDirectory(value: string, what = 'directory'): string {
  if (value.trim() === '') throw new UsageError(`${what}: is empty`);
  if (CONTROL.test(value)) throw new UsageError(`${what} "${value}": contains control characters`);
  const last = basename(resolve(value));
  if (last === '') {
    throw new UsageError(`${what} "${value}": name a new directory for the project`, { hint: 'e.g. create-docker-plugin my-volume' });
  }
  return value;
}

/** The plugin name a directory suggests: its last component, lowercased, with what a reference refuses dropped. */
export function nameFromDirectory(directory: string): string | undefined {
  const candidate = basename(resolve(directory))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (candidate === '') return undefined;
  try {
    parsePluginReference(candidate);
    return candidate;
  } catch {
    return undefined;
  }
}

export function defaultModule(ref: PluginReference): string {
  // A module path is only a name until the code is published; example.com is reserved for exactly that.
  return `example.com/${ref.path.replace(/^library\//, '')}`;
}

export function defaultDescription(type: PluginType): string {
  const what: Record<PluginType, string> = {
    volume: 'volume driver: each volume is a directory on the host',
    network: 'network driver: containers on a network share a bridge',
    logging: 'logging driver: keeps each container\'s log so docker logs can read it',
    authz: 'authorization plugin: denies engine API requests that match a policy',
  };
  return `Docker ${what[type]}`;
}

/** The socket file name: from the binary name, cut so that it fits the engine's limit. */
export function socketNameFor(binaryName: string): string {
  const stem = binaryName.slice(0, SOCKET_NAME_MAX - '.sock'.length).replace(/[._-]+$/, '');
  return `${stem || 'plugin'}.sock`;
}
