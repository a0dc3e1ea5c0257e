/**
 * The registry form of a managed plugin, as the engine's own `docker plugin push` writes it (seen on Docker 20.10):
 * - one layer, application/vnd.docker.image.rootfs.diff.tar.gzip: the rootfs entries (names relative to the root),
 *   gzipped;
 * - a config blob, application/vnd.docker.plugin.v1+json: the plugin config as Go marshals moby's PluginConfig
 *   (every field present, keys in the struct's alphabetical order, nulls for absent lists) plus
 *   `rootfs: {diff_ids, type: "layers"}`, where the diff_id is the digest of the **gzipped** blob (engines since
 *   20.10 do so; the engine checks it on install);
 * - a schema2 manifest naming both, put under the tag.
 * DockerVersion is the one field left out: it records the engine that created the plugin, and no engine did.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FlattenedImage } from '../image/flatten.js';
import { digester, sha256Of, type StreamDigest } from '../plugin/artifact.js';
import { MANIFEST_V2 } from '../registry/client.js';

export const PLUGIN_CONFIG_MEDIA_TYPE = 'application/vnd.docker.plugin.v1+json';
export const LAYER_MEDIA_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export { MANIFEST_V2 };

type Shape = 'string' | 'bool' | 'number' | 'list' | 'nullableString' | { object: Record<string, Shape>; omitEmpty?: readonly string[] } | { listOf: Shape };

const settable: Shape = 'list';
const SHAPE: { object: Record<string, Shape> } = {
  object: {
    Args: { object: { Description: 'string', Name: 'string', Settable: settable, Value: 'list' } },
    Description: 'string',
    Documentation: 'string',
    Entrypoint: 'list',
    Env: { listOf: { object: { Description: 'string', Name: 'string', Settable: settable, Value: 'string' } } },
    Interface: { object: { ProtocolScheme: 'string', Socket: 'string', Types: 'list' }, omitEmpty: ['ProtocolScheme'] },
    IpcHost: 'bool',
    Linux: {
      object: {
        AllowAllDevices: 'bool',
        Capabilities: 'list',
        Devices: { listOf: { object: { Description: 'string', Name: 'string', Path: 'nullableString', Settable: settable } } },
      },
    },
    Mounts: {
      listOf: {
        object: { Description: 'string', Destination: 'string', Name: 'string', Options: 'list', Settable: settable, Source: 'nullableString', Type: 'string' },
      },
    },
    Network: { object: { Type: 'string' } },
    PidHost: 'bool',
    PropagatedMount: 'string',
    User: { object: { GID: 'number', UID: 'number' }, omitEmpty: ['GID', 'UID'] },
    WorkDir: 'string',
  },
};

function shaped(value: unknown, shape: Shape): unknown {
  if (shape === 'string') return typeof value === 'string' ? value : '';
  if (shape === 'bool') return value === true;
  if (shape === 'nullableString') return typeof value === 'string' ? value : null;
  if (shape === 'number') return typeof value === 'number' ? value : 0;
  if (shape === 'list') return Array.isArray(value) ? value : null;
  if ('listOf' in shape) return Array.isArray(value) ? value.map((item) => shaped(item, shape.listOf)) : null;
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(shape.object)) {
    const v = shaped(record[key], inner);
    if (shape.omitEmpty?.includes(key) && (v === '' || v === 0 || v === null)) continue;
    out[key] = v;
  }
  return out;
}

/**
 * The config blob: the config (already in engine casing, as validateConfig returns it) with every field the engine
 * writes, and the rootfs layer's digest. Interface types are written as their string form, as the engine does.
 */
export function pluginConfigBlob(config: Record<string, unknown>, layerDigest: string): Buffer {
  const out = shaped(config, SHAPE) as Record<string, unknown>;
  const iface = out.Interface as { Types: unknown[] | null };
  if (Array.isArray(iface.Types)) iface.Types = iface.Types.map(interfaceTypeString);
  out.rootfs = { diff_ids: [layerDigest], type: 'layers' };
  return Buffer.from(JSON.stringify(out));
}

function interfaceTypeString(type: unknown): unknown {
  if (typeof type !== 'object' || type === null) return type;
  const t = type as { Prefix?: string; Capability?: string; Version?: string };
  return `${t.Prefix ?? 'docker'}.${t.Capability ?? ''}/${t.Version ?? ''}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The schema2 manifest, keys in the order the engine writes them. */
export function pluginManifest(config: Descriptor, layer: Descriptor): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      mediaType: MANIFEST_V2,
    }),
  );
}

export interface PluginImage {
  layer: Descriptor & { path: string };
  config: Descriptor & { data: Buffer };
  manifest: { digest: string; size: number; data: Buffer };
  /** Remove the temporary layer file. */
  dispose(): Promise<void>;
}

/**
 * Gzip the flattened rootfs into a private temporary file (uploads are retried, so the layer is read more than
 * once; its digest must be known before the upload), then make the config blob and the manifest.
 * The gzip output is deterministic for the same rootfs, so pushing again finds the layer already there.
 */
export async function buildPluginImage(image: FlattenedImage, config: Record<string, unknown>, options: { signal?: AbortSignal; tmpRoot?: string } = {}): Promise<PluginImage> {
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'dpk-push-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, 'layer.tar.gz');
    const hash = digester();
    await pipeline(image.stream({ signal: options.signal }), parallelGzip, hash, createWriteStream(path, { mode: 0o600 }), { signal: options.signal });
    const layerDigest: StreamDigest = hash.result!;
    const layer = { mediaType: LAYER_MEDIA_TYPE, digest: layerDigest.digest, size: layerDigest.size, path };
    const configData = pluginConfigBlob(config, layer.digest);
    const configDescriptor = { mediaType: PLUGIN_CONFIG_MEDIA_TYPE, digest: sha256Of(configData), size: configData.length, data: configData };
    const manifest = pluginManifest(configDescriptor, layer);
    return { layer, config: configDescriptor, manifest: { digest: sha256Of(manifest), size: manifest.length, data: manifest }, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

const GZIP_PIECE_BYTES = 1 << 20;
const gzipPiece = promisify(gzip);

/**
 * Compression is most of a daemonless publish, and one zlib stream uses one core. The layer is cut into 1 MiB
 * pieces, each gzipped on its own on libuv's thread pool, several at once, and written in order: concatenated gzip
 * members are one valid gzip stream (RFC 1952; the engine's Go reader and `docker plugin install` take it). The
 * pieces are fixed, so the blob and its digest stay the same for the same rootfs, and pushing again finds it there.
 */
export async function* parallelGzip(source: AsyncIterable<Buffer>, options: { level?: number; pieceBytes?: number; concurrency?: number } = {}): AsyncGenerator<Buffer> {
  const pieceBytes = options.pieceBytes ?? GZIP_PIECE_BYTES;
  // The thread pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise; more in flight would only hold memory.
  const concurrency = options.concurrency ?? Math.max(1, Math.min(availableParallelism(), 4));
  const inFlight: Promise<Buffer>[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const start = () => {
    const piece = gzipPiece(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes), { level: options.level ?? 6 });
    piece.catch(() => {}); // awaited in order below; this only keeps a later piece's failure from going unhandled meanwhile
    inFlight.push(piece);
    pending = [];
    pendingBytes = 0;
  };
  for await (const chunk of source) {
    let rest = chunk;
    while (rest.length > 0) {
      const take = Math.min(rest.length, pieceBytes - pendingBytes);
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      if (pendingBytes === pieceBytes) {
        start();
        if (inFlight.length >= concurrency) yield await inFlight.shift()!;
      }
    }
  }
  if (pendingBytes > 0 || inFlight.length === 0) start();
  while (inFlight.length > 0) yield await inFlight.shift()!;
}

export function openLayer(image: PluginImage) {
  return createReadStream(image.layer.path);
}
