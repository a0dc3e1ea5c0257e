/**
 * A minimal Docker Engine API client over the engine's unix socket, typed as exactly the calls dpk makes. Commands
 * take an EngineClient, so a test can hand in another implementation; only this module touches the socket.
 */
import { request, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { DpkError } from '../errors.js';
import { silentLogger, type Logger } from '../ui/logger.js';

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  Arch: string;
  Os: string;
}

export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  Architecture?: string;
  Os?: string;
  Size?: number;
}

export interface PluginInspect {
  Id: string;
  Name: string;
  Enabled: boolean;
  PluginReference?: string;
  Config: {
    Entrypoint?: string[];
    Interface?: { Socket?: string; Types?: unknown[] };
    rootfs?: { type?: string; diff_ids?: string[] };
    DockerVersion?: string;
    [key: string]: unknown;
  };
  Settings?: unknown;
}

export interface PushResult {
  /** The manifest digest the registry stored, when the engine reported it. */
  digest?: string;
}

export interface EngineClient {
  /** The engine address as a DOCKER_HOST value, for messages. */
  readonly host: string;
  version(): Promise<EngineVersion>;
  /** undefined when the engine has no such image. */
  inspectImage(name: string): Promise<ImageInspect | undefined>;
  /** `docker save` of one image as a stream (a docker-save tar). */
  saveImage(name: string, signal?: AbortSignal): Promise<Readable>;
  /** undefined when no plugin has that name. */
  inspectPlugin(name: string): Promise<PluginInspect | undefined>;
  listPlugins(): Promise<PluginInspect[]>;
  /** POST /plugins/create: a tar of config.json and rootfs/. */
  createPlugin(name: string, tar: Readable, signal?: AbortSignal): Promise<void>;
  enablePlugin(name: string, options?: { timeoutSeconds?: number }): Promise<void>;
  disablePlugin(name: string, options?: { force?: boolean }): Promise<void>;
  removePlugin(name: string, options?: { force?: boolean }): Promise<void>;
  /** `docker plugin push`; registryAuth is the base64url JSON the engine expects in X-Registry-Auth. */
  pushPlugin(name: string, registryAuth?: string, signal?: AbortSignal): Promise<PushResult>;
}

/** An error answer from the engine: its status and its own message, kept as data. */
export class EngineError extends DpkError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly engineMessage: string,
    options: { hint?: string } = {},
  ) {
    super(`the engine refused ${method} ${path.replace(/^\/v[\d.]+/, '').replace(/\?.*$/, '')}: ${engineMessage} (HTTP ${status})`, options);
    this.name = 'EngineError';
  }
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';
/** The newest API version dpk was written against; older engines are spoken to in their own version. */
const MAX_API_VERSION = '1.43';
const MIN_API_VERSION = '1.25';

export interface EngineClientOptions {
  /** A DOCKER_HOST value; default: $DOCKER_HOST, else unix:///var/run/docker.sock. */
  host?: string;
  /**
   * Give up when the engine sends nothing for this long (each call; streams count from the last byte). Default:
   * $DPK_TIMEOUT seconds, else 120 s.
   */
  idleTimeoutMs?: number;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** The socket path a DOCKER_HOST value names. Only unix sockets are supported. */
export function socketPathOf(host: string): string {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path === '' || !path.startsWith('/')) throw new DpkError(`DOCKER_HOST "${host}": the socket path must be absolute`, { hint: 'write it as unix:///path/to/docker.sock', exitCode: 2 });
    return path;
  }
  throw new DpkError(`DOCKER_HOST "${host}": dpk talks to the engine over its unix socket only`, {
    hint: 'set DOCKER_HOST=unix:///path/to/docker.sock (or unset it for /var/run/docker.sock); for a remote engine use ssh to run dpk there',
    exitCode: 2,
  });
}

const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** $DPK_TIMEOUT in seconds (1..86400), as milliseconds; a value that is not such a number is a usage error. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.DPK_TIMEOUT;
  if (text === undefined || text.trim() === '') return undefined;
  return parseTimeoutSeconds(text, 'DPK_TIMEOUT') * 1000;
}

/** Seconds for a timeout flag or variable: a positive number, at most a day. */
export function parseTimeoutSeconds(text: string, what: string): number {
  const seconds = Number(text.trim());
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
    throw new DpkError(`${what} "${text}": not a positive number of seconds (at most 86400)`, { hint: 'e.g. 300 for five minutes', exitCode: 2 });
  }
  return seconds;
}

export function createEngineClient(options: EngineClientOptions = {}): EngineClient {
  const env = options.env ?? process.env;
  const host = options.host ?? (env.DOCKER_HOST && env.DOCKER_HOST !== '' ? env.DOCKER_HOST : `unix://${DEFAULT_SOCKET}`);
  const socketPath = socketPathOf(host);
  const idleTimeoutMs = options.idleTimeoutMs ?? timeoutFromEnv(env) ?? DEFAULT_IDLE_TIMEOUT_MS;
  const logger = options.logger ?? silentLogger;
  let versionPrefix: Promise<string> | undefined;

  interface Call {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: Readable | string;
    signal?: AbortSignal;
    /** Resolve with the response as soon as it starts (for streams) instead of reading it whole. */
    stream?: boolean;
    versioned?: boolean;
  }

  const send = async (call: Call): Promise<IncomingMessage> => {
    const prefix = call.versioned === false ? '' : await negotiate();
    const path = `${prefix}${call.path}`;
    logger.debug(`engine: ${call.method} ${path}`);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string> = { ...call.headers };
      if (typeof call.body === 'string') {
        headers['Content-Type'] ??= 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(call.body));
      }
      const req = request({ socketPath, path, method: call.method, headers, signal: call.signal });
      let response: IncomingMessage | undefined;
      req.setTimeout(idleTimeoutMs, () => {
        const error = new DpkError(`the engine at ${host} sent nothing for ${Math.round(idleTimeoutMs / 1000)}s during ${call.method} ${call.path.replace(/\?.*$/, '')}`, {
          hint: 'is dockerd busy or stuck? check its log; DPK_TIMEOUT (seconds) sets how long to wait',
        });
        // Mid-stream, the reader of the response must see this error, not a bare "aborted".
        response?.destroy(error);
        req.destroy(error);
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof DpkError) return reject(error);
        if (error.name === 'AbortError') return reject(new DpkError('cancelled', { cause: error }));
        if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(error.code ?? '')) {
          return reject(
            new DpkError(`cannot reach the Docker engine at ${host}: ${error.code}`, {
              hint: error.code === 'EACCES' ? 'run as root or as a member of the docker group' : 'start dockerd, or point DOCKER_HOST at its socket (unix:///path/to/docker.sock)',
              cause: error,
            }),
          );
        }
        reject(new DpkError(`lost the connection to the engine at ${host} during ${call.method} ${call.path.replace(/\?.*$/, '')}: ${error.message}`, { cause: error }));
      });
      req.on('response', (res) => {
        response = res;
        if ((res.statusCode ?? 500) >= 400) {
          readAll(res)
            .then((data) => reject(new EngineError(res.statusCode ?? 500, call.method, call.path, engineMessage(data))))
            .catch(reject);
          return;
        }
        resolve(res);
      });
      if (call.body instanceof Readable) {
        call.body.on('error', (error) => req.destroy(error));
        call.body.pipe(req);
      } else req.end(call.body);
    });
  };

  const json = async <T>(call: Call): Promise<T> => {
    const res = await send(call);
    const data = await readAll(res);
    if (data.length === 0) return undefined as T;
    return JSON.parse(data.toString('utf8')) as T;
  };

  const negotiate = (): Promise<string> => {
    versionPrefix ??= (async () => {
      const res = await send({ method: 'GET', path: '/_ping', versioned: false });
      await readAll(res);
      const server = String(res.headers['api-version'] ?? MIN_API_VERSION);
      const chosen = compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
      if (compareVersions(chosen, MIN_API_VERSION) < 0) throw new DpkError(`the engine at ${host} speaks API ${server}; dpk needs ${MIN_API_VERSION} or later`);
      logger.debug(`engine: API ${server}, using ${chosen}`);
      return `/v${chosen}`;
    })();
    versionPrefix.catch(() => (versionPrefix = undefined));
    return versionPrefix;
  };

  const missingAs404 = async <T>(promise: Promise<T>): Promise<T | undefined> => {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return undefined;
      throw error;
    }
  };

  const q = encodeURIComponent;
  return {
    host,
    version: () => json<EngineVersion>({ method: 'GET', path: '/version' }),
    inspectImage: (name) => missingAs404(json<ImageInspect>({ method: 'GET', path: `/images/${q(name)}/json` })),
    saveImage: async (name, signal) => send({ method: 'GET', path: `/images/${q(name)}/get`, signal, stream: true }),
    inspectPlugin: (name) => missingAs404(json<PluginInspect>({ method: 'GET', path: `/plugins/${q(name)}/json` })),
    listPlugins: async () => (await json<PluginInspect[]>({ method: 'GET', path: '/plugins' })) ?? [],
    createPlugin: async (name, tar, signal) => {
      await json<void>({ method: 'POST', path: `/plugins/create?name=${q(name)}`, headers: { 'Content-Type': 'application/x-tar' }, body: tar, signal });
    },
    enablePlugin: async (name, opts = {}) => {
      await json<void>({ method: 'POST', path: `/plugins/${q(name)}/enable?timeout=${opts.timeoutSeconds ?? 30}` });
    },
    disablePlugin: async (name, opts = {}) => {
      await json<void>({ method: 'POST', path: `/plugins/${q(name)}/disable${opts.force ? '?force=1' : ''}` });
    },
    removePlugin: async (name, opts = {}) => {
      await json<void>({ method: 'DELETE', path: `/plugins/${q(name)}${opts.force ? '?force=1' : ''}` });
    },
    pushPlugin: async (name, registryAuth, signal) => {
      const res = await send({ method: 'POST', path: `/plugins/${q(name)}/push`, headers: registryAuth ? { 'X-Registry-Auth': registryAuth } : {}, signal, stream: true });
      return readPushStream(res, name);
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function engineMessage(data: Buffer): string {
  const text = data.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch {
    /* not JSON */
  }
  return text.slice(0, 500) || 'no message';
}

/** The engine streams JSON messages; an error arrives inside the stream with HTTP 200. */
async function readPushStream(res: Readable, name: string): Promise<PushResult> {
  let buffer = '';
  const result: PushResult = {};
  const handle = (line: string) => {
    if (line.trim() === '') return;
    let message: { error?: string; errorDetail?: { message?: string }; aux?: { Digest?: string } };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.error || message.errorDetail) throw new DpkError(`pushing ${name}: ${message.errorDetail?.message ?? message.error}`);
    if (message.aux?.Digest) result.digest = message.aux.Digest;
  };
  for await (const chunk of res) {
    buffer += (chunk as Buffer).toString('utf8');
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      handle(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
  handle(buffer);
  return result;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
