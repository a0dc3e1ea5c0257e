import { open, stat } from 'node:fs/promises';
import { DpkError } from '../errors.js';
import { openLayerStream } from './layer-stream.js';
import { DIGEST, parseImageConfig, shortDigest, type ImageConfig, type ImageLayer, type ImageSource } from './model.js';
import { DirStore, TarFileStore, type FileStore } from './store.js';

/**
 * Image sources that need no engine: a `docker save` archive, an OCI image layout directory, or an OCI archive (a
 * tar of a layout). Which one it is comes from the content (manifest.json / oci-layout), not the file name.
 */
export interface ArchiveOptions {
  /** Which image, when the archive holds several: a RepoTag (docker save) or a ref.name annotation (OCI). */
  ref?: string;
  /** Platform to pick from an OCI index, as GOARCH ("amd64"); default: this machine's. */
  arch?: string;
  /** Overrides the description used in messages (the engine source says "image NAME"). */
  description?: string;
  /** Called by close() (the engine source removes its temporary copy). */
  onClose?: () => Promise<void>;
}

/** The file is a tar (or a directory) but holds no image: neither manifest.json nor index.json. */
export class NotAnImageArchiveError extends DpkError {
  constructor(readonly path: string) {
    super(`${path}: neither a docker save archive (no manifest.json) nor an OCI image layout (no index.json)`, {
      hint: 'create one with `docker save IMAGE -o FILE`',
    });
    this.name = 'NotAnImageArchiveError';
  }
}

/** The file is not a tar at all (or a broken one). */
export class NotATarError extends DpkError {
  constructor(
    readonly path: string,
    readonly reason: string,
    cause: unknown,
  ) {
    super(`${path}: not an image archive: ${reason}`, { hint: 'pass a file written by `docker save IMAGE -o FILE`, or an OCI archive/layout', cause });
    this.name = 'NotATarError';
  }
}

export async function openImageArchive(path: string, options: ArchiveOptions = {}): Promise<ImageSource> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new DpkError(`${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      hint: 'pass a file written by `docker save`, an OCI archive, or an OCI image layout directory',
    });
  }
  let store: FileStore;
  if (info.isDirectory()) store = new DirStore(path);
  else {
    try {
      store = await TarFileStore.index(path);
    } catch (error) {
      const compressed = await compressionOf(path);
      if (compressed) throw new NotATarError(path, `it is ${compressed}-compressed; dpk reads the tar itself (decompress it first, e.g. gunzip -k)`, error);
      throw new NotATarError(path, (error as Error).message.replace(`${path} is not a readable tar archive: `, ''), error);
    }
  }
  const description = options.description ?? `archive ${path}`;
  try {
    if (await store.has('manifest.json')) return await dockerSaveSource(store, description, options);
    if (await store.has('index.json')) return await ociSource(store, description, options);
  } catch (error) {
    if (error instanceof DpkError) throw error;
    throw new DpkError(`${description}: ${(error as Error).message}`, { cause: error });
  }
  throw new NotAnImageArchiveError(path);
}

async function readJson(store: FileStore, path: string): Promise<unknown> {
  const text = (await store.readSmall(path)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function makeLayers(store: FileStore, blobs: { path: string; digest?: string; diffId?: string }[]): ImageLayer[] {
  return blobs.map((blob, i) => {
    const id = blob.diffId ?? blob.digest;
    const description = `layer ${i + 1}/${blobs.length}${id ? ` (${shortDigest(id)})` : ''}`;
    return {
      description,
      digest: blob.digest,
      diffId: blob.diffId,
      open: (signal?: AbortSignal) => openLayerStream(() => store.open(blob.path), { description, digest: blob.digest, diffId: blob.diffId, signal }),
    };
  });
}

function source(description: string, config: ImageConfig, layers: ImageLayer[], onClose?: () => Promise<void>): ImageSource {
  let closed = false;
  return {
    description,
    config,
    layers,
    close: async () => {
      if (closed) return;
      closed = true;
      await onClose?.();
    },
  };
}

interface DockerSaveManifest {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function dockerSaveSource(store: FileStore, description: string, options: ArchiveOptions): Promise<ImageSource> {
  const data = await readJson(store, 'manifest.json');
  if (!Array.isArray(data) || data.length === 0) throw new Error('manifest.json holds no image');
  const manifests = data as DockerSaveManifest[];
  let chosen: DockerSaveManifest | undefined;
  if (manifests.length === 1) chosen = manifests[0];
  else if (options.ref) chosen = manifests.find((m) => (m.RepoTags ?? []).some((tag) => tag === options.ref || tag === `${options.ref}:latest`));
  if (!chosen) {
    const tags = manifests.flatMap((m) => m.RepoTags ?? []).join(', ');
    throw new DpkError(`${description} holds ${manifests.length} images${options.ref ? `, none tagged ${options.ref}` : ''} (${tags || 'untagged'})`, {
      hint: 'pass --image with one of those tags',
    });
  }
  if (typeof chosen.Config !== 'string' || !Array.isArray(chosen.Layers)) throw new Error('manifest.json entry lacks Config or Layers');
  const config = parseImageConfig(await readJson(store, chosen.Config), chosen.Config);
  if (config.diffIds.length !== chosen.Layers.length) {
    throw new Error(`image config lists ${config.diffIds.length} diff_ids but manifest.json lists ${chosen.Layers.length} layers`);
  }
  for (const layer of chosen.Layers) if (!(await store.has(layer))) throw new Error(`manifest.json names layer ${layer}, which the archive does not hold`);
  const layers = makeLayers(
    store,
    chosen.Layers.map((path, i) => ({ path, diffId: DIGEST.test(config.diffIds[i] ?? '') ? config.diffIds[i] : undefined })),
  );
  return source(description, config, layers, options.onClose);
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { architecture?: string; os?: string; variant?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function blobPath(digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`"${digest}" is not a sha256 digest`);
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle' };
  return map[nodeArch] ?? nodeArch;
}

async function ociSource(store: FileStore, description: string, options: ArchiveOptions): Promise<ImageSource> {
  const arch = options.arch ?? goArch();
  let descriptors = ((await readJson(store, 'index.json')) as { manifests?: Descriptor[] }).manifests ?? [];
  if (options.ref) {
    const named = descriptors.filter((d) => {
      const names = [d.annotations?.['org.opencontainers.image.ref.name'], d.annotations?.['io.containerd.image.name']];
      return names.some((n) => n !== undefined && (n === options.ref || options.ref!.endsWith(`:${n}`) || n === `${options.ref}:latest`));
    });
    if (named.length > 0) descriptors = named;
  }
  // Walk nested indexes down to one image manifest for this platform.
  for (let depth = 0; depth < 4; depth++) {
    if (descriptors.length === 0) throw new Error('index.json lists no image');
    const matching = descriptors.filter((d) => !d.platform || ((d.platform.os ?? 'linux') === 'linux' && d.platform.architecture === arch));
    const chosen = matching.length > 0 ? matching[0]! : descriptors.length === 1 ? descriptors[0]! : undefined;
    if (!chosen) {
      const platforms = descriptors.map((d) => `${d.platform?.os}/${d.platform?.architecture}`).join(', ');
      throw new DpkError(`${description} has no image for linux/${arch} (it has ${platforms})`);
    }
    const manifest = (await readJson(store, blobPath(chosen.digest))) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    if (INDEX_TYPES.has(chosen.mediaType ?? '') || INDEX_TYPES.has(manifest.mediaType ?? '') || Array.isArray(manifest.manifests)) {
      descriptors = manifest.manifests ?? [];
      continue;
    }
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new Error(`manifest ${shortDigest(chosen.digest)} has no config or layers`);
    const config = parseImageConfig(await readJson(store, blobPath(manifest.config.digest)), `config ${shortDigest(manifest.config.digest)}`);
    if (config.diffIds.length !== manifest.layers.length) {
      throw new Error(`image config lists ${config.diffIds.length} diff_ids but the manifest lists ${manifest.layers.length} layers`);
    }
    const blobs = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const path = blobPath(layer.digest);
      if (!(await store.has(path))) throw new Error(`layer ${shortDigest(layer.digest)} is not in the layout (a non-distributable layer?)`);
      blobs.push({ path, digest: layer.digest, diffId: DIGEST.test(config.diffIds[i] ?? '') ? config.diffIds[i] : undefined });
    }
    return source(description, config, makeLayers(store, blobs), options.onClose);
  }
  throw new Error('index.json nests indexes too deeply');
}

/** "gzip", "zstd", ... when the file starts with that compressor's magic bytes (`docker save | gzip` is common). */
async function compressionOf(path: string): Promise<string | undefined> {
  const head = Buffer.alloc(6);
  try {
    const handle = await open(path, 'r');
    try {
      await handle.read(head, 0, 6, 0);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\0') return 'xz';
  return undefined;
}
