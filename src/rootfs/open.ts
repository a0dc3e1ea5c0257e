/**
 * What `--rootfs X` names, opened as a RootfsIndex: a rootfs directory, an OCI image layout directory, a `docker
 * save` or OCI archive, a plain rootfs tar (`docker export`), or an image in the engine. Images are read the way
 * `dpk pack` reads them (openImageArchive / openEngineImage, then flattenImage), so validate sees the same rootfs
 * pack would create, and hostile layers are refused by the same code. Nothing is extracted; the engine source's
 * temporary copy is removed by close().
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { EngineClient } from '../engine/client.js';
import { DpkError } from '../errors.js';
import { NotAnImageArchiveError, NotATarError, openImageArchive } from '../image/archive.js';
import { checkImageReference, openEngineImage } from '../image/engine-source.js';
import { flattenImage } from '../image/flatten.js';
import type { ImageSource } from '../image/model.js';
import { indexDirectory } from './dir.js';
import type { RootfsIndex } from './model.js';
import { indexRootfsTar } from './tar-index.js';

export interface OpenedRootfs {
  index: RootfsIndex;
  /** For messages and the report: "directory ./rootfs", "archive x.tar", "image my/plugin:1". */
  description: string;
  kind: 'directory' | 'image-archive' | 'rootfs-tar' | 'image';
  close(): Promise<void>;
}

export interface OpenRootfsOptions {
  cwd: string;
  /** Only asked for when the name is neither a file nor a directory. */
  engine: () => EngineClient;
  /** Platform to pick from a multi-platform OCI index. */
  arch?: string;
  signal?: AbortSignal;
}

const HINT = 'pass a rootfs directory, a `docker save`/OCI archive or layout, a rootfs tar (`docker export`), or an image in the engine';

export async function openRootfs(spec: string, options: OpenRootfsOptions): Promise<OpenedRootfs> {
  const path = isAbsolute(spec) ? spec : join(options.cwd, spec);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw new DpkError(`--rootfs ${spec}: cannot read: ${error.message}`, { hint: HINT, cause: error });
  });
  if (info?.isDirectory()) {
    // An OCI layout is recognised by its marker file; any other directory is the rootfs itself.
    if (await stat(join(path, 'oci-layout')).then((s) => s.isFile(), () => false)) return fromImage(await openImageArchive(path, { arch: options.arch }), 'image-archive', options);
    return { index: await indexDirectory(path), description: `directory ${spec}`, kind: 'directory', close: async () => {} };
  }
  if (info?.isFile()) {
    let source: ImageSource;
    try {
      source = await openImageArchive(path, { arch: options.arch });
    } catch (error) {
      if (error instanceof NotAnImageArchiveError) {
        // A tar with neither manifest.json nor index.json: the rootfs itself, as `docker export` writes it.
        const index = await indexRootfsTar(path, { signal: options.signal });
        return { index, description: `rootfs archive ${spec}`, kind: 'rootfs-tar', close: async () => {} };
      }
      if (error instanceof NotATarError) throw new DpkError(`--rootfs ${spec}: not a directory, an image archive or a rootfs tar (${error.reason})`, { hint: HINT, cause: error });
      throw error;
    }
    return fromImage(source, 'image-archive', options);
  }
  if (info) throw new DpkError(`--rootfs ${spec}: not a directory or a regular file`, { hint: HINT });
  if (looksLikePath(spec)) throw new DpkError(`--rootfs ${spec}: no such file or directory`, { hint: HINT });

  // Not on disk: an image in the engine, read through `docker save` like dpk pack --image.
  checkImageReference(spec, '--rootfs');
  let engine: EngineClient;
  try {
    engine = options.engine();
    return fromImage(await openEngineImage(engine, spec, { signal: options.signal, arch: options.arch, what: '--rootfs' }), 'image', options);
  } catch (error) {
    if (error instanceof DpkError && /^cannot reach the Docker engine/.test(error.message)) {
      throw new DpkError(`--rootfs ${spec}: no such file or directory, and no engine to look for an image of that name (${error.message})`, { hint: HINT, cause: error });
    }
    if (error instanceof DpkError && /: not found in the engine at /.test(error.message)) {
      throw new DpkError(`--rootfs ${spec}: no such file, directory or image (${error.message.replace(`image ${spec}: `, '')})`, { hint: HINT, cause: error });
    }
    throw error;
  }
}

/** Names that can only be paths, never image references: a leading / or ., or a file extension of an archive. */
function looksLikePath(spec: string): boolean {
  return spec.startsWith('/') || spec.startsWith('.') || /\.(tar|tgz|tar\.gz|oci)$/i.test(spec) || spec.includes('\\');
}

async function fromImage(source: ImageSource, kind: 'image-archive' | 'image', options: OpenRootfsOptions): Promise<OpenedRootfs> {
  try {
    const image = await flattenImage(source, { signal: options.signal });
    return { index: image.rootfs, description: source.description, kind, close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}
