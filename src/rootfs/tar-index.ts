import { createReadStream } from 'node:fs';
import { flattenImage, type FlattenStats } from '../image/flatten.js';
import type { RootfsIndex } from './model.js';

/**
 * A RootfsIndex over one plain rootfs tar file (a `docker export`, or an archive of a plugin's rootfs), built by
 * streaming it: it is read as a one-layer image, so names are normalised, hostile entries refused the same way, and
 * readFile re-reads the file from disk for more than the executable heads kept while indexing. Images and image
 * archives get their index from flattenImage (src/image/flatten.ts) directly.
 */
export async function indexRootfsTar(path: string, options: { signal?: AbortSignal } = {}): Promise<RootfsIndex & { stats: FlattenStats }> {
  const image = await flattenImage(
    {
      description: `rootfs archive ${path}`,
      config: { diffIds: [] },
      layers: [{ description: `rootfs archive ${path}`, open: (signal) => createReadStream(path, { signal }) }],
      close: async () => {},
    },
    options,
  );
  return { entries: image.rootfs.entries, readFile: image.rootfs.readFile, stats: image.stats };
}
