/**
 * A registry client for exactly what publishing a plugin needs (distribution API v2): ask whether a blob is there
 * (HEAD), upload a blob monolithically (POST an upload, PUT the content with ?digest=), check the digest the
 * registry reports, and put a manifest by tag.
 *
 * Failures: 408, 429, 5xx and dropped connections are retried with exponential backoff (Retry-After honoured, up to a
 * bound); a blob upload is retried from the POST, since a dead connection may have taken the upload session with it.
 * 401 runs the auth flow once (auth.ts); 401 after that, 403 and 404 are errors that say what to do. Nothing the
 * client logs or throws contains a credential.
 */
import type { Readable } from 'node:stream';
import { DpkError } from '../errors.js';
import { silentLogger, type Logger } from '../ui/logger.js';
import { authorize, errorSummary, parseChallenge } from './auth.js';
import { dockerConfigPath, type Credentials } from './credentials.js';
import { headerValue, NetworkError, send, type HttpAnswer, type HttpCall, type HttpTimeouts } from './http.js';

export const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const MANIFEST_LISTS = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);

export interface RetryPolicy {
  /** Attempts per operation, the first included. */
  attempts: number;
  /** First backoff; doubled each time. */
  baseDelayMs: number;
  /** No single wait is longer than this, Retry-After included. */
  maxDelayMs: number;
}

export interface RegistryClientOptions {
  /** Registry host[:port] as in the reference ("docker.io" is reached at registry-1.docker.io). */
  domain: string;
  /** Repository path ("acme/my-volume"). */
  repository: string;
  credentials?: Credentials;
  /** Plain HTTP. Default: only for loopback registries (localhost, 127.0.0.0/8, ::1), as the engine does. */
  insecure?: boolean;
  timeouts?: Partial<HttpTimeouts>;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Waits between retries; tests may shorten them. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface BlobSource {
  digest: string;
  size: number;
  /** Opens the content afresh (each attempt reads it again). */
  open(): Readable;
}

export interface BlobOutcome {
  digest: string;
  size: number;
  /** The registry had it already; nothing was sent. */
  existed: boolean;
}

export interface RegistryClient {
  readonly baseUrl: string;
  hasBlob(digest: string): Promise<boolean>;
  /** HEAD first: a blob the registry has is not sent again. */
  pushBlob(blob: BlobSource, onProgress?: (sent: number) => void): Promise<BlobOutcome>;
  /** PUT a manifest by tag; returns the digest the registry reports. A manifest list is refused. */
  putManifest(tag: string, manifest: Buffer, mediaType: string): Promise<string>;
  /** GET a manifest (for checks); undefined when the tag does not exist. */
  getManifest(tag: string): Promise<{ mediaType: string; digest?: string; body: Buffer } | undefined>;
  getBlob(digest: string): Promise<Buffer>;
}

export function isLoopback(domain: string): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

export function registryBaseUrl(domain: string, insecure?: boolean): string {
  const host = domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
  return `${(insecure ?? isLoopback(domain)) ? 'http' : 'https'}://${host}`;
}

const RETRY_STATUS = (status: number) => status === 408 || status === 429 || status >= 500;

class RetryableAnswer extends Error {
  constructor(readonly answer: HttpAnswer) {
    super(`HTTP ${answer.status}`);
  }
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DpkError('cancelled', { exitCode: 130 }));
    }, { once: true });
  });

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const logger = options.logger ?? silentLogger;
  const base = registryBaseUrl(options.domain, options.insecure);
  const name = options.repository;
  const registry = options.domain;
  const timeouts: HttpTimeouts = { connectMs: options.timeouts?.connectMs ?? 15_000, idleMs: options.timeouts?.idleMs ?? 60_000 };
  const retry: RetryPolicy = { attempts: options.retry?.attempts ?? 5, baseDelayMs: options.retry?.baseDelayMs ?? 500, maxDelayMs: options.retry?.maxDelayMs ?? 30_000 };
  const sleep = options.sleep ?? defaultSleep;
  const signal = options.signal;
  let authorization: string | undefined;

  const url = (path: string) => new URL(path, base);

  /** One exchange, with the auth flow run (once) on a 401. */
  const exchange = async (call: HttpCall, what: string): Promise<HttpAnswer> => {
    const withAuth = (): HttpCall => ({ ...call, signal, headers: { ...call.headers, ...(authorization ? { Authorization: authorization } : {}) } });
    let answer = await send(withAuth(), timeouts);
    logger.debug(`registry: ${call.method} ${call.url.pathname} -> ${answer.status}`);
    if (answer.status === 401) {
      const hadAuth = authorization !== undefined;
      authorization = await authorize(headerValue(answer.headers, 'www-authenticate'), {
        registry,
        repository: name,
        credentials: options.credentials,
        configPath: dockerConfigPath(options.env),
        fetchToken: async (tokenUrl, init) => {
          const tokenAnswer = await withRetries(`getting a token from ${tokenUrl.host}`, () => send({ method: init.method, url: tokenUrl, headers: init.headers, body: init.body, signal }, timeouts));
          logger.debug(`registry: token ${init.method} ${tokenUrl.origin}${tokenUrl.pathname} -> ${tokenAnswer.status}`);
          return tokenAnswer;
        },
      });
      if (hadAuth) logger.debug('registry: token renewed');
      answer = await send(withAuth(), timeouts);
      logger.debug(`registry: ${call.method} ${call.url.pathname} -> ${answer.status} (authenticated)`);
      if (answer.status === 401) {
        const source = options.credentials ? ` from ${options.credentials.source}` : '';
        // A token server may issue a token with less than was asked (pull only): the registry then says so.
        const again = parseChallenge(headerValue(answer.headers, 'www-authenticate') ?? '');
        if (again?.params.error === 'insufficient_scope') {
          throw new DpkError(`${registry} denied ${what}: the token issued for the account${source} does not allow pushing to ${name}`, {
            hint: `ask for push access to ${name} on ${registry}, or log in as another user (docker login ${registry})`,
          });
        }
        throw new DpkError(`${registry} refused the credentials${source} while ${what} (HTTP 401)`, {
          hint: `check the user name and password: run \`docker login ${registry}\` again`,
        });
      }
    }
    if (RETRY_STATUS(answer.status)) throw new RetryableAnswer(answer);
    if (answer.status === 403) {
      throw new DpkError(`${registry} denied ${what}: the account${options.credentials ? ` from ${options.credentials.source}` : ''} may not push to ${name}${errorSummary(answer)}`, {
        hint: `ask for push access to ${name} on ${registry}, or log in as another user (docker login ${registry})`,
      });
    }
    return answer;
  };

  /** Run an operation, retrying network failures and retryable statuses with backoff. */
  const withRetries = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (signal?.aborted || (error as Error).name === 'AbortError') throw new DpkError('cancelled', { exitCode: 130, cause: error });
        const retryable = error instanceof NetworkError || error instanceof RetryableAnswer;
        if (!retryable) throw error;
        const why = error instanceof RetryableAnswer ? `HTTP ${error.answer.status}${errorSummary(error.answer)}` : error.message;
        if (attempt >= retry.attempts) {
          const unreachable = error instanceof NetworkError && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(error.code);
          throw new DpkError(`${what} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${why}`, {
            hint: unreachable
              ? `is the registry at ${base} running? (blobs already uploaded stay; pushing again sends only what is missing)`
              : 'the registry or the network is failing; try again later (blobs already uploaded are not sent again)',
          });
        }
        let delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        delay = Math.round(delay / 2 + Math.random() * (delay / 2));
        if (error instanceof RetryableAnswer) {
          const after = retryAfterMs(headerValue(error.answer.headers, 'retry-after'));
          if (after !== undefined) delay = Math.min(retry.maxDelayMs, Math.max(delay, after));
        }
        logger.warn(`${what}: ${why}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${attempt + 1} of ${retry.attempts})`);
        await sleep(delay, signal);
      }
    }
  };

  const notFound = (answer: HttpAnswer, what: string): DpkError =>
    new DpkError(`${registry} answered 404 while ${what}${errorSummary(answer)}`, {
      hint: `check the registry address and repository name (${base}/v2/${name}); some registries need the repository created first`,
    });

  const unexpected = (answer: HttpAnswer, what: string): DpkError => new DpkError(`${registry} answered HTTP ${answer.status} while ${what}${errorSummary(answer)}`);

  const hasBlob = (digest: string) =>
    withRetries(`checking blob ${digest.slice(0, 19)} on ${registry}`, async () => {
      const answer = await exchange({ method: 'HEAD', url: url(`/v2/${name}/blobs/${digest}`) }, `checking for blob ${digest.slice(0, 19)}`);
      if (answer.status === 200) return true;
      if (answer.status === 404) return false;
      throw unexpected(answer, `checking for blob ${digest.slice(0, 19)}`);
    });

  const uploadOnce = async (blob: BlobSource, onProgress?: (sent: number) => void): Promise<void> => {
    const what = `uploading blob ${blob.digest.slice(0, 19)}`;
    const started = await exchange({ method: 'POST', url: url(`/v2/${name}/blobs/uploads/`) }, what);
    if (started.status === 404) throw notFound(started, what);
    if (started.status !== 202) throw unexpected(started, what);
    const location = headerValue(started.headers, 'location');
    if (!location) throw new DpkError(`${registry} started an upload but sent no Location`, { hint: 'the registry does not follow the distribution API' });
    const target = new URL(location, base);
    target.searchParams.set('digest', blob.digest);
    const finished = await exchange(
      {
        method: 'PUT',
        url: target,
        headers: { 'Content-Type': 'application/octet-stream' },
        contentLength: blob.size,
        body: () => {
          const stream = blob.open();
          if (onProgress) {
            let sent = 0;
            stream.on('data', (chunk: Buffer) => onProgress((sent += chunk.length)));
          }
          return stream;
        },
      },
      what,
    );
    if (finished.status === 404) throw notFound(finished, what);
    if (finished.status === 400) throw new DpkError(`${registry} refused blob ${blob.digest}${errorSummary(finished)}`, { hint: 'the content changed while it was sent, or the registry computes another digest' });
    if (finished.status !== 201) throw unexpected(finished, what);
    const reported = headerValue(finished.headers, 'docker-content-digest');
    if (reported !== undefined && reported !== blob.digest) {
      throw new DpkError(`${registry} stored blob ${blob.digest} as ${reported}`, { hint: 'the content was altered on the way (a proxy?); nothing was tagged' });
    }
  };

  return {
    baseUrl: base,
    hasBlob,
    pushBlob: async (blob, onProgress) => {
      if (await hasBlob(blob.digest)) return { digest: blob.digest, size: blob.size, existed: true };
      await withRetries(`uploading blob ${blob.digest.slice(0, 19)} to ${registry}`, () => uploadOnce(blob, onProgress));
      return { digest: blob.digest, size: blob.size, existed: false };
    },
    putManifest: async (tag, manifest, mediaType) => {
      if (MANIFEST_LISTS.has(mediaType)) {
        throw new DpkError(`refusing to put a manifest list under plugin tag ${name}:${tag}`, { hint: 'the engine installs plugins from a single manifest; push one tag per architecture' });
      }
      const what = `putting the manifest ${name}:${tag}`;
      return withRetries(`${what} on ${registry}`, async () => {
        const answer = await exchange({ method: 'PUT', url: url(`/v2/${name}/manifests/${encodeURIComponent(tag)}`), headers: { 'Content-Type': mediaType }, body: manifest }, what);
        if (answer.status === 404) throw notFound(answer, what);
        if (answer.status !== 201 && answer.status !== 200) throw unexpected(answer, what);
        const digest = headerValue(answer.headers, 'docker-content-digest');
        if (!digest) throw new DpkError(`${registry} accepted ${name}:${tag} but reported no digest`);
        return digest;
      });
    },
    getManifest: async (tag) =>
      withRetries(`getting the manifest ${name}:${tag}`, async () => {
        const answer = await exchange({ method: 'GET', url: url(`/v2/${name}/manifests/${encodeURIComponent(tag)}`), headers: { Accept: MANIFEST_V2 } }, `getting ${name}:${tag}`);
        if (answer.status === 404) return undefined;
        if (answer.status !== 200) throw unexpected(answer, `getting ${name}:${tag}`);
        return { mediaType: headerValue(answer.headers, 'content-type') ?? '', digest: headerValue(answer.headers, 'docker-content-digest'), body: answer.body };
      }),
    getBlob: async (digest) =>
      withRetries(`getting blob ${digest.slice(0, 19)}`, async () => {
        const answer = await exchange({ method: 'GET', url: url(`/v2/${name}/blobs/${digest}`), maxBodyBytes: 64 << 20 }, `getting blob ${digest.slice(0, 19)}`);
        if (answer.status === 307 || answer.status === 302) {
          const location = headerValue(answer.headers, 'location');
          if (location) return (await send({ method: 'GET', url: new URL(location, base), signal, maxBodyBytes: 64 << 20 }, timeouts)).body;
        }
        if (answer.status !== 200) throw unexpected(answer, `getting blob ${digest.slice(0, 19)}`);
        return answer.body;
      }),
  };
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
