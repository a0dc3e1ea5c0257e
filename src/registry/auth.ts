/**
 * Registry authentication as the distribution spec has it: the registry answers 401 with a WWW-Authenticate
 * challenge; "Basic" wants the credentials on every request; "Bearer realm=...,service=...,scope=..." wants a token
 * from the realm (GET with basic credentials, or POST grant_type=refresh_token with an identity token), whose JSON
 * carries it as `token` or `access_token`.
 *
 * Scopes: a registry may challenge with the plugin form `repository(plugin):NAME:pull` (Docker Hub does for plugin
 * repositories); its resource type is then kept as asked, so the token covers what the registry checks. Otherwise
 * dpk asks for `repository:NAME:pull,push`.
 */
import { DpkError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { headerValue, type HttpAnswer } from './http.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse a WWW-Authenticate value (one challenge; registries send one). */
export function parseChallenge(value: string): Challenge | undefined {
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(value);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(match[2] ?? '')) !== null) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

/** The scope dpk asks for: push and pull on the repository, in the resource type the registry named. */
export function pushScope(repository: string, challengeScope?: string): string {
  for (const scope of (challengeScope ?? '').split(' ')) {
    const [type, name] = scope.split(':');
    if (name === repository && type && /^repository(\([a-z0-9]+\))?$/.test(type)) return `${type}:${repository}:pull,push`;
  }
  return `repository:${repository}:pull,push`;
}

export type TokenFetcher = (url: URL, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: Buffer }) => Promise<HttpAnswer>;

export interface AuthContext {
  /** Registry host for messages. */
  registry: string;
  repository: string;
  credentials?: Credentials;
  fetchToken: TokenFetcher;
  /** Where dpk looked for credentials, for the hint when it found none. */
  configPath: string;
}

/** What to send as Authorization after a challenge; throws a DpkError saying what to do when it cannot. */
export async function authorize(challengeHeader: string | undefined, context: AuthContext): Promise<string> {
  const challenge = challengeHeader ? parseChallenge(challengeHeader) : undefined;
  if (!challenge) throw new DpkError(`${context.registry} answered 401 without an authentication challenge`, { hint: 'is this a Docker registry (distribution API v2)?' });
  const secret = context.credentials?.reveal();
  if (challenge.scheme === 'basic') {
    if (!secret) throw noCredentials(context);
    if (secret.kind !== 'basic') throw new DpkError(`${context.registry} wants a user name and password, but ${context.credentials!.source} holds an identity token`, { hint: `run \`docker login ${context.registry}\`` });
    return `Basic ${Buffer.from(`${secret.username}:${secret.password}`).toString('base64')}`;
  }
  if (challenge.scheme !== 'bearer') throw new DpkError(`${context.registry} asks for "${challenge.scheme}" authentication, which dpk does not speak`, { hint: 'dpk speaks Basic and Bearer (token) authentication' });
  const realm = challenge.params.realm;
  if (!realm) throw new DpkError(`${context.registry} sent a Bearer challenge without a realm`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new DpkError(`${context.registry} sent a Bearer challenge whose realm is not a URL`);
  }
  const scope = pushScope(context.repository, challenge.params.scope);
  const service = challenge.params.service;
  let answer: HttpAnswer;
  if (secret?.kind === 'identityToken') {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: secret.token, client_id: 'dpk', scope });
    if (service) form.set('service', service);
    answer = await context.fetchToken(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()) });
  } else {
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (secret?.kind === 'basic') {
      url.searchParams.set('account', secret.username);
      headers.Authorization = `Basic ${Buffer.from(`${secret.username}:${secret.password}`).toString('base64')}`;
    }
    answer = await context.fetchToken(url, { method: 'GET', headers });
  }
  const where = `the token server ${url.origin}${url.pathname}`;
  if (answer.status === 401 || answer.status === 403) {
    if (!secret) throw noCredentials(context);
    throw new DpkError(`${where} refused the credentials from ${context.credentials!.source} (HTTP ${answer.status})`, {
      hint: `check the user name and password: run \`docker login ${context.registry}\` again`,
    });
  }
  if (answer.status !== 200) throw new DpkError(`${where} answered HTTP ${answer.status}${errorSummary(answer)}`, { hint: 'try again later, or check the registry status' });
  let token: unknown;
  try {
    const data = JSON.parse(answer.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = data.token ?? data.access_token;
  } catch {
    throw new DpkError(`${where} answered something that is not JSON`);
  }
  if (typeof token !== 'string' || token === '') throw new DpkError(`${where} answered without a token (neither "token" nor "access_token")`);
  return `Bearer ${token}`;
}

function noCredentials(context: AuthContext): DpkError {
  return new DpkError(`${context.registry} needs a login to push ${context.repository}, and there are no credentials for it`, {
    hint: `run \`docker login ${context.registry}\` (dpk reads ${context.configPath}; DOCKER_CONFIG points elsewhere)`,
  });
}

/** "; <registry's own error message>" from a distribution error body, or nothing. */
export function errorSummary(answer: HttpAnswer): string {
  const type = headerValue(answer.headers, 'content-type') ?? '';
  const text = answer.body.toString('utf8').trim();
  if (text === '') return '';
  if (type.includes('json')) {
    try {
      const data = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; details?: string };
      const first = data.errors?.[0];
      if (first) return `: ${[first.code, first.message].filter(Boolean).join(' ')}`;
    } catch {
      /* fall through */
    }
  }
  return `: ${text.split('\n')[0]!.slice(0, 200)}`;
}
