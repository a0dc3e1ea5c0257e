import { createHash, randomInt } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { FlattenedImage } from '../image/flatten.js';
import { encodeHeader, padding, type TarHeader } from '../image/tar.js';

/**
 * The plugin artifact the engine's POST /plugins/create takes (and `docker plugin create` makes from a directory):
 * config.json, then the flattened image under rootfs/. Built as a stream; nothing goes to disk.
 */
export interface PluginTarOptions {
  config: Buffer;
  image: FlattenedImage;
  /**
   * Make the engine's rootfs blob unique. The engine gzips the rootfs part of this tar into a content store keyed by
   * digest and fails with "content sha256:...: already exists" when another plugin (or one removed moments ago, whose
   * blob its background GC has not collected yet) has byte-identical content. The rootfs/ directory entry becomes the
   * "." entry of that blob, which the engine's extractor skips, so its mtime (the pack time, with random nanoseconds)
   * changes the blob digest and nothing else.
   */
  uniqueRoot?: boolean;
  signal?: AbortSignal;
}

const FIXED_MTIME = 0;

export function pluginTar(options: PluginTarOptions): Readable {
  const configHeader: TarHeader = {
    name: 'config.json',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: options.config.length,
    mtime: FIXED_MTIME,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  };
  const rootMtime = options.uniqueRoot ? Math.floor(Date.now() / 1000) + randomInt(1, 999_999_999) / 1e9 : FIXED_MTIME;
  const head = async function* (): AsyncGenerator<Buffer> {
    yield encodeHeader(configHeader);
    yield options.config;
    yield Buffer.alloc(padding(options.config.length));
    yield* options.image.stream({ prefix: 'rootfs/', root: { mtime: rootMtime }, signal: options.signal });
  };
  return Readable.from(coalesce(head()), { objectMode: false });
}

const BATCH_BYTES = 256 << 10;

/**
 * Small pieces (a 512-byte header, a file's few bytes, its padding) joined into writes of about 256 KiB: one write
 * per entry part would cost a syscall and an HTTP chunk each, which for many small files costs more CPU than the data.
 */
export async function* coalesce(source: AsyncIterable<Buffer>, batchBytes = BATCH_BYTES): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= batchBytes) {
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
}

export interface StreamDigest {
  digest: string;
  size: number;
}

/** A pass-through that hashes what flows through it; `result` is set once the stream has ended. */
export function digester(): Transform & { result?: StreamDigest } {
  const hash = createHash('sha256');
  let size = 0;
  const transform: Transform & { result?: StreamDigest } = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      transform.result = { digest: `sha256:${hash.digest('hex')}`, size };
      callback();
    },
  });
  return transform;
}

export function sha256Of(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
