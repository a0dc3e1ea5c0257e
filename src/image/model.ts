import type { Readable } from 'node:stream';

/**
 * The image model every source implements and every operation consumes: a config plus layers, base first, each
 * layer opening its uncompressed tar lazily (flattening reads each layer twice, so open() may be called again).
 */
export interface ImageSource {
  /** Where the image came from, for messages: "image my/plugin:1.0", "archive ./x.tar". */
  readonly description: string;
  readonly config: ImageConfig;
  /** Base layer first. */
  readonly layers: readonly ImageLayer[];
  /** Release what the source holds (a temporary copy of an engine image). Safe to call twice. */
  close(): Promise<void>;
}

export interface ImageLayer {
  /** "layer 2/5 (sha256:1234abcd5678)", used in every error about its entries. */
  readonly description: string;
  /** Digest of the uncompressed tar (the image config's rootfs.diff_ids), when known; checked while reading. */
  readonly diffId?: string;
  /** Digest of the stored blob (compressed or not), when known; checked while reading. */
  readonly digest?: string;
  /** The layer as an uncompressed tar stream. A digest mismatch or corrupt data is an error on the stream. */
  open(signal?: AbortSignal): Readable;
}

/** The parts of an OCI/Docker image config dpk reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  /** rootfs.diff_ids, base first. */
  diffIds: string[];
  /** Entrypoint/Cmd etc. as the image declares them (informational: a plugin uses its own config.json). */
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; Env?: string[] | null; User?: string };
}

export function parseImageConfig(data: unknown, where: string): ImageConfig {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${where}: image config is not a JSON object`);
  const record = data as Record<string, unknown>;
  const rootfs = record.rootfs as { diff_ids?: unknown } | undefined;
  const diffIds = Array.isArray(rootfs?.diff_ids) ? rootfs.diff_ids.map(String) : [];
  return {
    architecture: typeof record.architecture === 'string' ? record.architecture : undefined,
    os: typeof record.os === 'string' ? record.os : undefined,
    variant: typeof record.variant === 'string' ? record.variant : undefined,
    diffIds,
    config: typeof record.config === 'object' && record.config !== null ? (record.config as ImageConfig['config']) : undefined,
  };
}

/** "sha256:0123456789ab" for messages. */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return '';
  const [algo, hex] = digest.split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest.slice(0, 19);
}

export const DIGEST = /^sha256:[a-f0-9]{64}$/;
