/**
 * Tiny fixture tars made in memory: layers, docker-save archives and OCI layouts, hostile ones included.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { ImageSource } from '../../src/image/model.js';
import { BLOCK, encodeHeader, END_OF_ARCHIVE, padding, readTar, type TarHeader } from '../../src/image/tar.js';

export interface FixtureEntry extends Partial<TarHeader> {
  name: string;
  /** Content for files (string or bytes). */
  content?: string | Buffer;
}

export const file = (name: string, content: string | Buffer = '', extra: Partial<TarHeader> = {}): FixtureEntry => ({ name, type: 'file', content, ...extra });
export const dir = (name: string, extra: Partial<TarHeader> = {}): FixtureEntry => ({ name, type: 'dir', mode: 0o755, ...extra });
export const symlink = (name: string, target: string, extra: Partial<TarHeader> = {}): FixtureEntry => ({ name, type: 'symlink', linkname: target, mode: 0o777, ...extra });
export const hardlink = (name: string, target: string, extra: Partial<TarHeader> = {}): FixtureEntry => ({ name, type: 'hardlink', linkname: target, ...extra });
export const whiteout = (path: string): FixtureEntry => {
  const slash = path.lastIndexOf('/');
  return file(`${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`);
};
export const opaque = (dirPath: string): FixtureEntry => file(`${dirPath.replace(/\/$/, '')}/.wh..wh..opq`);

/** One tar (uncompressed) from fixture entries, written by dpk's own header encoder. */
export function tarOf(entries: FixtureEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const type = e.type ?? 'file';
    const header: TarHeader = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      size: type === 'file' ? content.length : 0,
      mtime: e.mtime ?? 1_700_000_000,
      linkname: e.linkname ?? '',
      uname: e.uname ?? '',
      gname: e.gname ?? '',
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      xattrs: e.xattrs,
    };
    parts.push(encodeHeader(header));
    if (type === 'file' && content.length > 0) parts.push(content, Buffer.alloc(padding(content.length)));
  }
  if (options.end !== false) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** A raw ustar header block with arbitrary bytes in name/type fields (for hostile fixtures). */
export function rawHeader(fields: { name: Buffer | string; typeflag?: string; size?: number; linkname?: string; mode?: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  const name = Buffer.isBuffer(fields.name) ? fields.name : Buffer.from(fields.name);
  name.copy(block, 0, 0, Math.min(100, name.length));
  block.write(`${(fields.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(fields.typeflag ?? '0', 156, 'latin1');
  if (fields.linkname) block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An in-memory image source over layer tars, base first. */
export function memorySource(layerTars: Buffer[], options: { diffIds?: (string | undefined)[]; architecture?: string } = {}): ImageSource & { opened: number[] } {
  const opened = layerTars.map(() => 0);
  return {
    description: 'fixture image',
    config: { architecture: options.architecture ?? 'amd64', os: 'linux', diffIds: layerTars.map(sha256) },
    layers: layerTars.map((tar, i) => ({
      description: `layer ${i + 1}/${layerTars.length}`,
      diffId: options.diffIds?.[i],
      open: () => {
        opened[i]!++;
        return Readable.from([tar]);
      },
    })),
    opened,
    close: async () => {},
  };
}

export interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  content?: string;
}

/** Every entry of a tar stream, with file contents as strings. */
export async function listTar(stream: AsyncIterable<Buffer>): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  for await (const entry of readTar(stream)) {
    const h = entry.header;
    const item: ListedEntry = { name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname };
    if (h.type === 'file') {
      const parts: Buffer[] = [];
      for await (const chunk of entry.body()) parts.push(chunk);
      item.content = Buffer.concat(parts).toString('utf8');
    }
    out.push(item);
  }
  return out;
}

/** Write a docker-save style archive directory (manifest.json, config, <id>/layer.tar) for the given layers. */
export async function writeDockerSaveDir(dirPath: string, layerTars: Buffer[], options: { repoTags?: string[]; diffIds?: string[] } = {}): Promise<void> {
  await mkdir(dirPath, { recursive: true });
  const diffIds = options.diffIds ?? layerTars.map(sha256);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configName = `${sha256(config).slice(7)}.json`;
  await writeFile(join(dirPath, configName), config);
  const layers: string[] = [];
  for (const [i, tar] of layerTars.entries()) {
    const id = `${String(i).padStart(2, '0')}${'a'.repeat(62)}`;
    await mkdir(join(dirPath, id));
    await writeFile(join(dirPath, id, 'layer.tar'), tar);
    layers.push(`${id}/layer.tar`);
  }
  await writeFile(join(dirPath, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: options.repoTags ?? ['fixture:latest'], Layers: layers }]));
}

/** A layer already gzip-compressed (too big to hold uncompressed), with the digest of its uncompressed tar. */
export interface CompressedLayer {
  gzip: Buffer;
  diffId: string;
}

/** Write an OCI image layout directory with gzip-compressed layers. Returns the manifest digest. */
export async function writeOciLayout(dirPath: string, layerTars: (Buffer | CompressedLayer)[], options: { refName?: string; corruptLayer?: number } = {}): Promise<string> {
  const blobs = join(dirPath, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer): Promise<string> => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice(7)), data);
    return digest;
  };
  const layers = [];
  for (const [i, tar] of layerTars.entries()) {
    const gz = Buffer.isBuffer(tar) ? gzipSync(tar) : tar.gzip;
    const digest = await put(gz);
    if (options.corruptLayer === i) {
      const damaged = Buffer.from(gz);
      damaged[damaged.length - 9]! ^= 0xff;
      await writeFile(join(blobs, digest.slice(7)), damaged);
    }
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: gz.length });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layerTars.map((t) => (Buffer.isBuffer(t) ? sha256(t) : t.diffId)) } }));
  const configDigest = await put(config);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers }),
  );
  const manifestDigest = await put(manifest);
  await writeFile(join(dirPath, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dirPath, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: options.refName ? { 'org.opencontainers.image.ref.name': options.refName } : undefined }],
    }),
  );
  return manifestDigest;
}

/** A PAX extended header (typeflag x) carrying the given records, for the entry header that follows it. */
export function paxHeader(records: Record<string, string | Buffer>): Buffer {
  const data = Buffer.concat(
    Object.entries(records).map(([key, value]) => {
      const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
      // The length prefix counts itself: find the length whose decimal digits make the total consistent.
      let length = body.length + 1;
      while (String(length).length + body.length !== length) length++;
      return Buffer.concat([Buffer.from(String(length)), body]);
    }),
  );
  return Buffer.concat([rawHeader({ name: 'PaxHeader', typeflag: 'x', size: data.length }), data, Buffer.alloc(padding(data.length))]);
}

/** A GNU long name (L) or long link (K) header carrying the name for the entry that follows it. */
export function gnuLongHeader(kind: 'L' | 'K', name: string | Buffer): Buffer {
  const data = Buffer.concat([Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.from([0])]);
  return Buffer.concat([rawHeader({ name: '././@LongLink', typeflag: kind, size: data.length }), data, Buffer.alloc(padding(data.length))]);
}

/** One file's data blocks (content plus padding to the next 512-byte boundary). */
export function dataBlocks(content: string | Buffer): Buffer {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return Buffer.concat([data, Buffer.alloc(padding(data.length))]);
}

/** A `docker save` archive as one tar file (what `docker save -o FILE` writes), built in memory. */
export function dockerSaveArchive(layerTars: Buffer[], options: { repoTags?: string[]; diffIds?: string[] } = {}): Buffer {
  const diffIds = options.diffIds ?? layerTars.map(sha256);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configName = `${sha256(config).slice(7)}.json`;
  const entries: FixtureEntry[] = [file(configName, config)];
  const layers: string[] = [];
  for (const [i, tar] of layerTars.entries()) {
    const id = `${String(i).padStart(2, '0')}${'a'.repeat(62)}`;
    entries.push(dir(`${id}/`), file(`${id}/layer.tar`, tar));
    layers.push(`${id}/layer.tar`);
  }
  entries.push(file('manifest.json', JSON.stringify([{ Config: configName, RepoTags: options.repoTags ?? ['fixture:latest'], Layers: layers }])));
  return tarOf(entries);
}
