import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DpkError } from '../errors.js';
import type { EngineClient } from '../engine/client.js';
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
  options: { signal?: AbortSignal; tmpRoot?: string; arch?: string } = {},
): Promise<ImageSource> {
  const info = await engine.inspectImage(ref);
  if (!info) {
    throw new DpkError(`image ${ref}: not found in the engine at ${engine.host}`, {
      hint: 'build it first (docker build -t NAME .), pass --build to build it from the project Dockerfile, or pass --archive FILE',
    });
  }
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'dpk-image-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const file = join(dir, 'image.tar');
    const stream = await engine.saveImage(ref, options.signal);
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
    return await openImageArchive(file, { ref, arch: options.arch, description: `image ${ref}`, onClose: remove });
  } catch (error) {
    await remove();
    if ((error as Error).name === 'AbortError') throw new DpkError('cancelled', { exitCode: 130, cause: error });
    throw error;
  }
}
