import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { posix, join } from 'node:path';
import { Readable } from 'node:stream';
import { BLOCK, padding, parseHeaderBlock, parsePax, showBytes, TarFormatError } from './tar.js';

/**
 * Read-only access to the files of an image archive or layout, whether it is a directory (OCI layout) or a tar file
 * (docker save, OCI archive). A tar file is indexed once by its headers alone (positioned reads, content skipped), so
 * each member can then be streamed straight from its offset, any number of times.
 */
export interface FileStore {
  readonly description: string;
  has(path: string): boolean | Promise<boolean>;
  /** A small member (manifest, config) read whole; refuses anything over maxBytes. */
  readSmall(path: string, maxBytes?: number): Promise<Buffer>;
  open(path: string): Readable;
  size(path: string): Promise<number>;
}

const SMALL_MAX = 16 << 20;

/** Member paths inside an archive or layout: relative, "/"-separated, no "." or ".." components. */
export function cleanMemberPath(path: string): string | undefined {
  const cleaned = posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
  if (cleaned === '' || cleaned.split('/').includes('..')) return undefined;
  return cleaned;
}

export class DirStore implements FileStore {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = dir;
  }
  private resolve(path: string): string {
    const clean = cleanMemberPath(path);
    if (clean === undefined) throw new Error(`${this.dir}: "${path}" is not a path inside the layout`);
    return join(this.dir, clean);
  }
  async has(path: string): Promise<boolean> {
    return stat(this.resolve(path)).then((s) => s.isFile(), () => false);
  }
  async readSmall(path: string, maxBytes = SMALL_MAX): Promise<Buffer> {
    const file = this.resolve(path);
    const info = await stat(file);
    if (info.size > maxBytes) throw new Error(`${file} is ${info.size} bytes; expected a small JSON document`);
    return readFile(file);
  }
  open(path: string): Readable {
    return createReadStream(this.resolve(path));
  }
  async size(path: string): Promise<number> {
    return (await stat(this.resolve(path))).size;
  }
}

interface Member {
  offset: number;
  size: number;
  /** Set for symlink and hard link members (newer `docker save` links layer.tar to blobs/sha256/...). */
  link?: string;
  symlink?: boolean;
}

export class TarFileStore implements FileStore {
  readonly description: string;
  private constructor(
    private readonly file: string,
    private readonly members: Map<string, Member>,
  ) {
    this.description = file;
  }

  /** Index a tar file by its headers. Fails with a clear message when the file is not a tar at all. */
  static async index(file: string): Promise<TarFileStore> {
    const handle = await open(file, 'r');
    const members = new Map<string, Member>();
    try {
      const { size: fileSize } = await handle.stat();
      const block = Buffer.alloc(BLOCK);
      let offset = 0;
      let pax: Map<string, Buffer> | undefined;
      let longName: Buffer | undefined;
      let longLink: Buffer | undefined;
      const readAt = async (length: number, position: number): Promise<Buffer> => {
        if (length > SMALL_MAX) throw new TarFormatError(`metadata header of ${length} bytes is too large`);
        const data = Buffer.alloc(length);
        const { bytesRead } = await handle.read(data, 0, length, position);
        if (bytesRead < length) throw new TarFormatError('archive is truncated');
        return data;
      };
      for (;;) {
        const { bytesRead } = await handle.read(block, 0, BLOCK, offset);
        if (bytesRead === 0) break;
        if (bytesRead < BLOCK) throw new TarFormatError(offset === 0 ? `${bytesRead} bytes is too short to be a tar archive` : 'archive is truncated');
        const raw = parseHeaderBlock(block);
        if (!raw) break;
        const dataOffset = offset + BLOCK;
        let size = raw.size;
        if (raw.typeflag === 'x') pax = parsePax(await readAt(raw.size, dataOffset));
        else if (raw.typeflag === 'L') longName = trimNul(await readAt(raw.size, dataOffset));
        else if (raw.typeflag === 'K') longLink = trimNul(await readAt(raw.size, dataOffset));
        else if (raw.typeflag !== 'g') {
          const nameBytes = longName ?? pax?.get('path') ?? raw.nameBytes;
          const linkBytes = longLink ?? pax?.get('linkpath') ?? raw.linkBytes;
          const paxSize = pax?.get('size');
          if (paxSize !== undefined) size = Number(paxSize.toString('latin1'));
          if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`entry ${showBytes(nameBytes)} has an invalid size`);
          const name = cleanMemberPath(nameBytes.toString('utf8'));
          if (name !== undefined) {
            if (raw.typeflag === '0' || raw.typeflag === '\0' || raw.typeflag === '7') members.set(name, { offset: dataOffset, size });
            else if (raw.typeflag === '1') members.set(name, { offset: 0, size: 0, link: linkBytes.toString('utf8') });
            else if (raw.typeflag === '2') members.set(name, { offset: 0, size: 0, link: linkBytes.toString('utf8'), symlink: true });
            else members.delete(name);
          }
          pax = undefined;
          longName = undefined;
          longLink = undefined;
        }
        offset = dataOffset + size + padding(size);
        if (offset > fileSize) throw new TarFormatError('archive is truncated');
      }
    } catch (error) {
      if (error instanceof TarFormatError) throw new Error(`${file} is not a readable tar archive: ${error.message}`);
      throw error;
    } finally {
      await handle.close();
    }
    return new TarFileStore(file, members);
  }

  /** Follow member links (at most 8), relative to the linking member's directory, never outside the archive. */
  private member(path: string): Member | undefined {
    let name = cleanMemberPath(path);
    for (let hops = 0; name !== undefined && hops < 8; hops++) {
      const member = this.members.get(name);
      if (!member || member.link === undefined) return member;
      const target = member.symlink ? posix.join(posix.dirname(name), member.link) : member.link;
      name = cleanMemberPath(target);
    }
    return undefined;
  }

  has(path: string): boolean {
    return this.member(path) !== undefined;
  }
  private get(path: string): Member {
    const member = this.member(path);
    if (!member) throw new Error(`${this.file}: no member "${path}"`);
    return member;
  }
  async readSmall(path: string, maxBytes = SMALL_MAX): Promise<Buffer> {
    const member = this.get(path);
    if (member.size > maxBytes) throw new Error(`${this.file}: "${path}" is ${member.size} bytes; expected a small JSON document`);
    const handle = await open(this.file, 'r');
    try {
      const data = Buffer.alloc(member.size);
      await handle.read(data, 0, member.size, member.offset);
      return data;
    } finally {
      await handle.close();
    }
  }
  open(path: string): Readable {
    const member = this.get(path);
    if (member.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: member.offset, end: member.offset + member.size - 1 });
  }
  async size(path: string): Promise<number> {
    return this.get(path).size;
  }
}

function trimNul(data: Buffer): Buffer {
  const nul = data.indexOf(0);
  return nul === -1 ? data : data.subarray(0, nul);
}
