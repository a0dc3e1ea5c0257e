/**
 * Registry credentials found the way the docker CLI finds them: the config file in $DOCKER_CONFIG (else
 * ~/.docker/config.json); a per-registry `credHelpers` entry first, then `credsStore`, then the file's own `auths`
 * (base64 "user:password", or an identity token). Helpers are the docker-credential-<name> programs on PATH, asked
 * with `get` and the server address on stdin.
 *
 * Secrets stay inside the returned object: nothing here puts one into a message, and `toJSON`/inspection of a
 * Credentials shows only where it came from.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { DpkError } from '../errors.js';

export type Secret = { kind: 'basic'; username: string; password: string } | { kind: 'identityToken'; username?: string; token: string };

export class Credentials {
  readonly #secret: Secret;
  constructor(
    secret: Secret,
    /** Where they came from, for messages: "auths in /root/.docker/config.json", "docker-credential-pass". */
    readonly source: string,
  ) {
    this.#secret = secret;
  }
  get kind(): Secret['kind'] {
    return this.#secret.kind;
  }
  /** The secret itself, for the one place that sends it (the auth flow, the engine's X-Registry-Auth). */
  reveal(): Secret {
    return this.#secret;
  }
  toJSON(): { source: string; kind: string } {
    return { source: this.source, kind: this.kind };
  }
  [inspect.custom](): string {
    return `Credentials(${this.kind} from ${this.source})`;
  }
}

/** Docker Hub's credentials live under this key, whatever host the API is reached at. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export interface CredentialOptions {
  env?: NodeJS.ProcessEnv;
  /** Give a credential helper this long to answer. */
  helperTimeoutMs?: number;
}

/** The docker client config file dpk reads. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG && env.DOCKER_CONFIG !== '' ? env.DOCKER_CONFIG : join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.docker');
  return join(dir, 'config.json');
}

/** The key docker uses for a registry in config.json and towards helpers: the host, or Docker Hub's URL. */
export function serverAddressOf(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io' ? DOCKER_HUB_AUTH_KEY : domain;
}

/** "https://host:5000/v1/" and "host:5000" name the same registry in config.json. */
function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

/** Credentials for a registry domain, or undefined when the config has none (anonymous access). */
export async function findCredentials(domain: string, options: CredentialOptions = {}): Promise<Credentials | undefined> {
  const env = options.env ?? process.env;
  const path = dockerConfigPath(env);
  const config = await readDockerConfig(path);
  if (!config) return undefined;
  const server = serverAddressOf(domain);
  const host = hostOfKey(server);

  const helperName = Object.entries(config.credHelpers ?? {}).find(([key]) => hostOfKey(key) === host)?.[1] ?? config.credsStore;
  if (helperName) return fromHelper(helperName, server, path, env, options.helperTimeoutMs ?? 30_000);

  const entry = Object.entries(config.auths ?? {}).find(([key]) => key === server) ?? Object.entries(config.auths ?? {}).find(([key]) => hostOfKey(key) === host);
  if (!entry) return undefined;
  const [key, auth] = entry;
  const source = `auths["${key}"] in ${path}`;
  if (auth.identitytoken) return new Credentials({ kind: 'identityToken', token: auth.identitytoken, username: auth.username }, source);
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new DpkError(`${path}: ${JSON.stringify(key)} has an "auth" value that is not base64 of user:password`, { hint: `run \`docker login ${domain}\` again` });
    return new Credentials({ kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }, source);
  }
  if (auth.username && auth.password) return new Credentials({ kind: 'basic', username: auth.username, password: auth.password }, source);
  return undefined;
}

async function readDockerConfig(path: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new DpkError(`${path}: cannot read: ${code ?? (error as Error).message}`, { hint: 'fix its permissions, or point DOCKER_CONFIG at another directory' });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // The parser's message can quote the file, and the file holds secrets: say where, not what.
    throw new DpkError(`${path}: not valid JSON`, { hint: 'fix it, or run `docker login` to rewrite it' });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new DpkError(`${path}: must be a JSON object`);
  const record = data as Record<string, unknown>;
  for (const field of ['auths', 'credHelpers'] as const) {
    const value = record[field];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) throw new DpkError(`${path}: field "${field}" must be an object`);
  }
  if (record.credsStore !== undefined && typeof record.credsStore !== 'string') throw new DpkError(`${path}: field "credsStore" must be a string`);
  return record as DockerConfigFile;
}

const HELPER_NAME = /^[A-Za-z0-9._-]+$/;

async function fromHelper(name: string, server: string, configPath: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Credentials | undefined> {
  if (!HELPER_NAME.test(name)) throw new DpkError(`${configPath}: credential helper name "${name}" is not valid`, { hint: 'it is the suffix of a docker-credential-<name> program' });
  const program = `docker-credential-${name}`;
  // execa is loaded on first use: it is ~100 modules, and most pushes never run a credential helper.
  const { execa } = await import('execa');
  const run = await execa(program, ['get'], { input: server, env, extendEnv: false, reject: false, timeout: timeoutMs, stripFinalNewline: true });
  if (run.failed && (run as { code?: string }).code === 'ENOENT') {
    throw new DpkError(`${configPath} names credential helper "${name}", but ${program} is not on PATH`, { hint: `install ${program}, or remove it from ${configPath}` });
  }
  if (run.timedOut) throw new DpkError(`${program} did not answer within ${Math.round(timeoutMs / 1000)}s`, { hint: 'is it waiting for a keychain unlock? run `docker login` once interactively' });
  const stdout = String(run.stdout ?? '');
  if (run.exitCode !== 0) {
    // Helpers say "credentials not found in native keychain" on stdout when they have nothing for this server.
    if (/credentials not found/i.test(stdout) || /credentials not found/i.test(String(run.stderr ?? ''))) return undefined;
    const why = String(run.stderr ?? '').trim().split('\n')[0]?.slice(0, 200) || `exit ${run.exitCode}`;
    throw new DpkError(`${program} get failed: ${why}`, { hint: `check the helper, or run \`docker login ${server}\`` });
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(stdout) as typeof answer;
  } catch {
    throw new DpkError(`${program} get answered something that is not JSON`, { hint: 'the helper must print {"ServerURL": ..., "Username": ..., "Secret": ...}' });
  }
  if (typeof answer.Secret !== 'string' || answer.Secret === '') return undefined;
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  // docker stores identity tokens in helpers under the username "<token>".
  if (username === '<token>') return new Credentials({ kind: 'identityToken', token: answer.Secret }, program);
  return new Credentials({ kind: 'basic', username, password: answer.Secret }, program);
}

/**
 * The engine's X-Registry-Auth header value for these credentials: its AuthConfig JSON in base64url WITH padding
 * (Go's base64.URLEncoding; without the padding the engine's decoder fails and it silently pushes anonymously).
 */
export function engineRegistryAuth(credentials: Credentials | undefined, domain: string): string {
  const server = serverAddressOf(domain);
  const secret = credentials?.reveal();
  const body =
    secret === undefined
      ? { serveraddress: server }
      : secret.kind === 'basic'
        ? { username: secret.username, password: secret.password, serveraddress: server }
        : { identitytoken: secret.token, serveraddress: server };
  return Buffer.from(JSON.stringify(body)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
