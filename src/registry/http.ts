/**
 * One HTTP exchange with a registry, with the two timeouts that matter: connecting, and silence once connected
 * (an upload of a large layer may take long, but never sends nothing for long). Bodies are Buffers or a fresh
 * stream per attempt, so a retry can send them again.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

export interface HttpCall {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a function opening the body afresh (retries call it again). */
  body?: Buffer | (() => Readable);
  /** Needed with a stream body: registries want Content-Length, not chunked uploads. */
  contentLength?: number;
  signal?: AbortSignal;
  /** Read at most this much of the answer (error bodies, manifests, tokens). */
  maxBodyBytes?: number;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpTimeouts {
  /** Until the TCP (and TLS) connection is up. */
  connectMs: number;
  /** Longest silence in either direction once connected. */
  idleMs: number;
}

/** A network failure (no HTTP answer): connection refused, reset, timed out. Retryable. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

const DEFAULT_MAX_BODY = 4 << 20;

export function send(call: HttpCall, timeouts: HttpTimeouts): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const headers: Record<string, string> = { 'User-Agent': 'dpk', ...call.headers };
    if (Buffer.isBuffer(call.body)) headers['Content-Length'] = String(call.body.length);
    else if (call.body) headers['Content-Length'] = String(call.contentLength ?? 0);
    else if (call.method === 'PUT' || call.method === 'POST') headers['Content-Length'] = '0';
    const make = call.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(call.url, { method: call.method, headers, signal: call.signal });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(error);
    };
    const connectTimer = setTimeout(() => fail(new NetworkError(`no connection to ${call.url.host} within ${Math.round(timeouts.connectMs / 1000)}s`, 'ETIMEDOUT')), timeouts.connectMs);
    req.on('socket', (socket) => {
      const connected = () => clearTimeout(connectTimer);
      if (!socket.connecting) connected();
      else socket.once(call.url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.setTimeout(timeouts.idleMs, () => fail(new NetworkError(`${call.url.host} sent nothing for ${Math.round(timeouts.idleMs / 1000)}s`, 'ETIMEDOUT')));
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (error.name === 'AbortError') return fail(error);
      fail(new NetworkError(`${error.code ?? error.message}`, error.code ?? 'ECONNRESET'));
    });
    req.on('response', (res: IncomingMessage) => {
      clearTimeout(connectTimer);
      const parts: Buffer[] = [];
      let size = 0;
      const max = call.maxBodyBytes ?? DEFAULT_MAX_BODY;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= max) parts.push(chunk);
      });
      res.on('error', (error: NodeJS.ErrnoException) => fail(new NetworkError(error.code ?? error.message, error.code ?? 'ECONNRESET')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
      });
    });
    if (call.body === undefined || Buffer.isBuffer(call.body)) req.end(call.body);
    else {
      const stream = call.body();
      stream.on('error', (error) => fail(error));
      stream.pipe(req);
    }
  });
}

/** The value of a header that may be repeated. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
