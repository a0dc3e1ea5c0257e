import { createHash } from 'node:crypto';
import { Readable, addAbortSignal, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';

/**
 * A stored layer blob as an uncompressed tar stream: compression is recognised by its magic bytes (not by a media
 * type someone wrote), and the blob digest and the uncompressed diff id are both checked as the bytes go by, so a
 * layer that does not match its manifest fails on the stream (at its end) rather than being trusted.
 */
export function openLayerStream(
  openRaw: () => Readable,
  options: { description: string; digest?: string; diffId?: string; signal?: AbortSignal },
): Readable {
  const raw = openRaw();
  let stream = Readable.from(decode(verified(raw, options.digest, `${options.description}: blob`), options), { objectMode: false });
  stream.once('close', () => raw.destroy());
  if (options.signal) stream = addAbortSignal(options.signal, stream);
  return stream;
}

export class LayerDigestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerDigestError';
  }
}

async function* verified(source: AsyncIterable<Buffer>, expected: string | undefined, what: string): AsyncGenerator<Buffer> {
  if (!expected || !expected.startsWith('sha256:')) {
    yield* source;
    return;
  }
  const hash = createHash('sha256');
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expected) throw new LayerDigestError(`${what} digest is ${actual}, but the image says ${expected} (corrupt or tampered layer)`);
}

type Codec = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

function sniff(head: Buffer): Codec {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\0') return 'xz';
  return 'none';
}

async function* decode(source: AsyncGenerator<Buffer>, options: { description: string; diffId?: string }): AsyncGenerator<Buffer> {
  // Peek at the first bytes without losing them.
  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < 6) {
    const next = await source.next();
    if (next.done) break;
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = Buffer.concat(head);
  const codec = sniff(first);
  const replay = async function* (): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    yield* { [Symbol.asyncIterator]: () => source };
  };
  let plain: AsyncIterable<Buffer>;
  switch (codec) {
    case 'none':
      plain = replay();
      break;
    case 'gzip':
      plain = inflate(replay(), zlib.createGunzip());
      break;
    case 'zstd': {
      // zstd arrived in node's zlib in 22.15; older nodes cannot read such layers.
      const make = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
      if (!make) throw new Error(`${options.description} is zstd-compressed, which this Node.js cannot decompress (Node.js 22.15 or later can)`);
      plain = inflate(replay(), make() as unknown as zlib.Gunzip);
      break;
    }
    default:
      throw new Error(`${options.description} is ${codec}-compressed; image layers are tar, tar+gzip or tar+zstd`);
  }
  yield* verified(plain, options.diffId, `${options.description}: uncompressed layer`);
}

function inflate(source: AsyncIterable<Buffer>, codec: zlib.Gunzip): AsyncIterable<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  pipeline(input, codec, () => {
    /* errors surface on the iteration of codec */
  });
  return codec;
}
