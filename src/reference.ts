import { UsageError } from './errors.js';

/**
 * Plugin references, parsed the way the engine parses them (distribution/reference): an optional registry host[:port],
 * lowercase path components, an optional tag. Plugins are addressed by tag, so a digest is refused.
 */
export interface PluginReference {
  /** Registry host[:port], "docker.io" when none was given. */
  domain: string;
  /** Repository path inside the registry; "library/" is prefixed for single-component Docker Hub names. */
  path: string;
  tag: string;
  /** The name as written by the user, without tag ("localhost:5000/me/x"). */
  name: string;
  /** name:tag as the engine shows it in `docker plugin ls`. */
  familiar: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const NAME_TOTAL_LENGTH_MAX = 255;
export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

/** Parse a plugin reference; `what` names the flag or field in the error ("--name", "plugin.json name"). */
export function parsePluginReference(input: string, what = 'plugin name'): PluginReference {
  const fail = (reason: string, hint?: string): never => {
    throw new UsageError(`${what} "${input}": ${reason}`, {
      hint: hint ?? 'use lowercase letters, digits and . _ - separated by /, e.g. "myorg/my-volume:1.0.0" or "localhost:5000/my-volume"',
    });
  };
  if (input.trim() === '') fail('is empty');
  if (/\s/.test(input)) fail('contains whitespace');
  if (input.includes('@')) fail('has a digest; plugins are installed by tag', 'write name:tag instead of name@sha256:...');

  let remainder = input;
  let tag = DEFAULT_TAG;
  const lastSlash = remainder.lastIndexOf('/');
  const colon = remainder.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = remainder.slice(colon + 1);
    remainder = remainder.slice(0, colon);
    if (!TAG.test(tag)) fail(`tag "${tag}" is not valid`, 'a tag is up to 128 letters, digits, _ . - and does not start with . or -');
  }
  if (remainder.length > NAME_TOTAL_LENGTH_MAX) fail(`name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);

  const parts = remainder.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0] ?? '';
  const firstIsDomain =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first);
  if (firstIsDomain) {
    if (!DOMAIN.test(first)) fail(`registry "${first}" is not a valid host[:port]`);
    domain = first;
    parts.shift();
  }
  if (parts.length === 0) fail('has no repository name');
  for (const part of parts) {
    if (part === '') fail('has an empty path component (check for doubled or trailing "/")');
    if (part.toLowerCase() !== part && PATH_COMPONENT.test(part.toLowerCase())) fail('must be lowercase');
    if (!PATH_COMPONENT.test(part)) fail(`path component "${part}" is not valid`);
  }
  let path = parts.join('/');
  if (domain === DEFAULT_DOMAIN && parts.length === 1) path = `library/${path}`;
  const name = remainder;
  return { domain, path, tag, name, familiar: `${name}:${tag}` };
}

/** The last path component, used as a default binary/directory name ("localhost:5000/me/sshfs:1" -> "sshfs"). */
export function shortName(ref: PluginReference): string {
  const parts = ref.path.split('/');
  return parts[parts.length - 1] ?? ref.path;
}
