/**
 * A RootfsIndex over a directory on the host (dpk validate --rootfs DIR).
 *
 * The directory is someone's plugin rootfs, so it is read the way the engine would see it, never the way the host
 * would: entries are listed with lstat and readlink only; a symlink is recorded, never followed (an absolute one may
 * point at /etc on the host, but inside the plugin it means the rootfs's own /etc; resolve.ts follows it there).
 * Reading a file opens it with O_NOFOLLOW and checks it is still the inode that was listed, so a path swapped for a
 * symlink or a FIFO after the walk is refused instead of followed or waited on.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DpkError } from '../errors.js';
import type { RootfsEntry, RootfsEntryType, RootfsIndex } from './model.js';

export interface DirectoryIndexOptions {
  /** Refuse directories with more entries than this (memory stays bounded on hostile input). */
  maxEntries?: number;
}

const DEFAULT_MAX_ENTRIES = 2_000_000;

export async function indexDirectory(root: string, options: DirectoryIndexOptions = {}): Promise<RootfsIndex> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  let rootStat;
  try {
    // The directory the user named may itself be a symlink: that one is theirs to follow.
    rootStat = await stat(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DpkError(`${root}: ${code === 'ENOENT' ? 'no such directory' : `cannot read: ${(error as Error).message}`}`, {
      hint: 'pass the plugin root filesystem directory (the rootfs/ next to config.json)',
      cause: error,
    });
  }
  if (!rootStat.isDirectory()) throw new DpkError(`${root}: not a directory`, { hint: 'pass the plugin root filesystem directory' });

  const realRoot = await realpath(root);
  const entries = new Map<string, RootfsEntry>();
  const inodes = new Map<string, { dev: number; ino: number }>();
  const pending: string[] = [''];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let names: string[];
    try {
      names = await readdir(join(root, dir));
    } catch (error) {
      throw new DpkError(`${join(root, dir)}: cannot list: ${(error as Error).message}`, { cause: error });
    }
    // A directory swapped for a symlink while we walk would list the host: refuse rather than follow. (Node has no
    // openat, so this narrows the window instead of closing it; image sources never touch the host at all.)
    if ((await realpath(join(root, dir))) !== join(realRoot, dir)) throw new DpkError(`${join(root, dir)}: changed while being read`);
    names.sort();
    if (entries.size + names.length > maxEntries) throw new DpkError(`${root}: more than ${maxEntries} entries; refusing to index it`);
    const paths = names.map((name) => (dir === '' ? name : `${dir}/${name}`));
    const infos = await Promise.all(paths.map((path) => lstat(join(root, path))));
    for (const [i, path] of paths.entries()) {
      const info = infos[i] as Stats;
      const type = typeOf(info);
      if (type === undefined) continue; // sockets: a rootfs cannot carry them (tar drops them too)
      const entry: RootfsEntry = { path, type, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, size: type === 'file' ? info.size : 0 };
      if (type === 'symlink') entry.linkname = await readlink(join(root, path));
      entries.set(path, entry);
      if (type === 'file') inodes.set(path, { dev: info.dev, ino: info.ino });
      if (type === 'dir') pending.push(path);
    }
  }

  return {
    entries,
    async readFile(path: string, maxBytes: number): Promise<Buffer | undefined> {
      let entry = entries.get(path);
      if (entry?.type === 'hardlink' && entry.linkname !== undefined) entry = entries.get(entry.linkname);
      if (!entry || entry.type !== 'file') return undefined;
      const expected = inodes.get(entry.path);
      let handle;
      try {
        handle = await open(join(root, entry.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch {
        return undefined;
      }
      try {
        const now = await handle.stat();
        if (!now.isFile() || (expected && (now.dev !== expected.dev || now.ino !== expected.ino))) return undefined;
        const length = Math.max(0, Math.min(maxBytes, now.size));
        const buffer = Buffer.alloc(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } finally {
        await handle.close();
      }
    },
  };
}

function typeOf(info: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): RootfsEntryType | undefined {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'dir';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isCharacterDevice()) return 'char';
  if (info.isBlockDevice()) return 'block';
  if (info.isFIFO()) return 'fifo';
  return undefined;
}
