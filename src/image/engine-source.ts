import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DpkError, UsageError } from '../errors.js';
import type { EngineClient } from '../engine/client.js';
import { parsePluginReference } from '../reference.js';
import { openImageArchive } from './archive.js';
import type { ImageSource } from './model.js';

/**
 * An image in the local engine: the daemon source is the archive source fed by `docker save` (GET
 * /images/{name}/get). Flattening reads layers twice and a save stream lists its manifest last, so the stream is
 * kept in a private temporary directory (mode 0700) that close() removes. Nothing is extracted.
 */
export async function openEngineImage(
  engine: EngineClient,
  ref: string,
  options: { signal?: AbortSignal; tmpRoot?: string; arch?: string; /** The flag the ref came from, for messages. */ what?: string } = {},
): Promise<ImageSource> {
  checkImageReference(ref, options.what ?? 'image');
  const info = await engine.inspectImage(ref);
  if (!info) {
    throw new DpkError(`image ${ref}: not found in the engine at ${engine.host}`, {
      hint: 'build it first (docker build -t NAME .), pass --build to build it from the project Dockerfile, or pass --archive FILE',
    });
  }
  const root = options.tmpRoot ?? tmpdir();
  const dir = await mkdtemp(join(root, 'dpk-image-')).catch((error: NodeJS.ErrnoException) => {
    throw new DpkError(`cannot make a temporary directory in ${root} for image ${ref}: ${error.code ?? error.message}`, { hint: 'point TMPDIR at a writable directory', cause: error });
  });
  const remove = () => rm(dir, { recursive: true, force: true });
  let copied = 0;
  try {
    const file = join(dir, 'image.tar');
    const stream = await engine.saveImage(ref, options.signal);
    stream.on('data', (chunk: Buffer) => (copied += chunk.length));
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
    return await openImageArchive(file, { ref, arch: options.arch, description: `image ${ref}`, onClose: remove });
  } catch (error) {
    await remove();
    const err = error as NodeJS.ErrnoException;
    if (err.name === 'AbortError' || options.signal?.aborted) throw new DpkError('cancelled', { exitCode: 130, cause: error });
    if (err.code === 'ENOSPC' || err.code === 'EDQUOT') {
      throw new DpkError(`image ${ref}: the disk is full in ${root} after ${copied} bytes of the image; nothing was kept`, { hint: 'dpk copies the image there while reading it: point TMPDIR at a filesystem with room for it', cause: error });
    }
    if (!(error instanceof DpkError) && (['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err.code ?? '') || err.message === 'aborted')) {
      throw new DpkError(`image ${ref}: the engine at ${engine.host} stopped sending it after ${copied} bytes (${err.message}); nothing was kept`, { hint: 'is dockerd still running? check its log', cause: error });
    }
    throw error;
  }
}

/**
 * Refuse a name the engine could not parse before asking it (a usage error, exit 2). Image IDs and digests are left
 * to the engine; a name[:tag] follows the same grammar as a plugin reference.
 */
export function checkImageReference(ref: string, what: string): void {
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) return;
  const at = ref.indexOf('@');
  if (at !== -1) {
    if (!/^sha256:[0-9a-f]{64}$/.test(ref.slice(at + 1))) throw new UsageError(`${what} "${ref}": the digest is not sha256: and 64 hex digits`, { hint: 'write NAME:TAG, NAME@sha256:<64 hex digits>, or an image ID' });
    parsePluginReference(ref.slice(0, at), what);
    return;
  }
  parsePluginReference(ref, what);
}
