/**
 * Path resolution inside a plugin rootfs, as the kernel resolves it for the plugin process after pivot_root: symlinks
 * are followed inside the rootfs (an absolute target starts again at the rootfs root), ".." at the root stays at the
 * root, and more than 40 symlinks is a loop (Linux MAXSYMLINKS). Nothing here touches the host filesystem: it reads
 * only the RootfsIndex.
 */
import type { RootfsEntry, RootfsIndex } from './model.js';

export const MAX_SYMLINKS = 40;

export type Resolved =
  | { ok: true; path: string; entry: RootfsEntry; via: string[] }
  | { ok: false; reason: 'missing' | 'not-a-directory' | 'loop'; path: string; via: string[] };

/** A directory entry for a path that only exists as the parent of other entries (tar streams may omit them). */
function impliedDirectory(path: string): RootfsEntry {
  return { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 };
}

const implied = new WeakMap<RootfsIndex, Set<string>>();

function impliedDirectories(index: RootfsIndex): Set<string> {
  let dirs = implied.get(index);
  if (!dirs) {
    dirs = new Set(['']);
    for (const path of index.entries.keys()) {
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i));
    }
    implied.set(index, dirs);
  }
  return dirs;
}

export function lookupEntry(index: RootfsIndex, path: string): RootfsEntry | undefined {
  return index.entries.get(path) ?? (impliedDirectories(index).has(path) ? impliedDirectory(path) : undefined);
}

/** A normalised rootfs path ("usr/bin/x", "" for the root) from an absolute or cwd-relative one, without resolving. */
export function joinInside(cwd: string, path: string): string {
  const parts = path.startsWith('/') ? [] : cwd.split('/').filter((p) => p !== '' && p !== '.');
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/**
 * Resolve `path` (absolute, or relative to `cwd`, itself absolute) inside the rootfs. With followFinal false the
 * last component is not followed if it is a symlink (lstat semantics). Hard links resolve to the entry they name.
 * `via` lists the symlinks followed, for messages ("/bin/sh -> busybox").
 */
export function resolveInRootfs(index: RootfsIndex, path: string, options: { cwd?: string; followFinal?: boolean } = {}): Resolved {
  const followFinal = options.followFinal ?? true;
  const pending = (path.startsWith('/') ? path : `${options.cwd ?? '/'}/${path}`).split('/').reverse();
  const current: string[] = [];
  const via: string[] = [];
  let links = 0;
  let entry: RootfsEntry = impliedDirectory('');
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '' || part === '.') continue;
    if (entry.type !== 'dir') return { ok: false, reason: 'not-a-directory', path: `/${current.join('/')}`, via };
    if (part === '..') {
      current.pop();
      entry = lookupEntry(index, current.join('/')) ?? impliedDirectory(current.join('/'));
      continue;
    }
    current.push(part);
    const candidate = current.join('/');
    const found = lookupEntry(index, candidate);
    if (!found) return { ok: false, reason: 'missing', path: `/${candidate}`, via };
    const isLast = !pending.some((p) => p !== '' && p !== '.');
    if (found.type === 'symlink' && (!isLast || followFinal)) {
      if (++links > MAX_SYMLINKS) return { ok: false, reason: 'loop', path: `/${candidate}`, via };
      const target = found.linkname ?? '';
      via.push(`/${candidate} -> ${target}`);
      current.pop();
      if (target.startsWith('/')) current.length = 0;
      pending.push(...target.split('/').reverse());
      entry = lookupEntry(index, current.join('/')) ?? impliedDirectory(current.join('/'));
      continue;
    }
    entry = found.type === 'hardlink' ? (hardlinkTarget(index, found) ?? found) : found;
  }
  return { ok: true, path: `/${current.join('/')}`, entry, via };
}

/** The entry a hard link names (tar hard links name a path in the same rootfs; they never chain in practice). */
export function hardlinkTarget(index: RootfsIndex, link: RootfsEntry): RootfsEntry | undefined {
  if (link.linkname === undefined) return undefined;
  const target = index.entries.get(joinInside('/', link.linkname));
  return target && target.type !== 'hardlink' ? target : undefined;
}

export function isExecutableFile(entry: RootfsEntry): boolean {
  return entry.type === 'file' && (entry.mode & 0o111) !== 0;
}

export type Lookup =
  | { ok: true; path: string; entry: RootfsEntry; via: string[] }
  | { ok: false; reason: 'not-found' | 'not-executable'; candidate?: string; searched: string[] };

/**
 * Find a command as the runtime does for the plugin's Entrypoint[0] (Go's exec.LookPath inside the container): a name
 * without "/" is searched in `path` (for plugins, the engine's fixed PATH), taking the first executable regular file;
 * a name with "/" is resolved from the working directory.
 */
export function lookPath(index: RootfsIndex, name: string, options: { cwd?: string; path: readonly string[] }): Lookup {
  const cwd = options.cwd && options.cwd !== '' ? options.cwd : '/';
  if (name.includes('/')) {
    const resolved = resolveInRootfs(index, name, { cwd });
    if (!resolved.ok) return { ok: false, reason: 'not-found', searched: [name] };
    if (!isExecutableFile(resolved.entry)) return { ok: false, reason: 'not-executable', candidate: resolved.path, searched: [name] };
    return resolved;
  }
  const dirs = options.path;
  let nonExecutable: string | undefined;
  for (const dir of dirs) {
    const resolved = resolveInRootfs(index, `${dir}/${name}`, { cwd });
    if (!resolved.ok) continue;
    if (isExecutableFile(resolved.entry)) return resolved;
    nonExecutable ??= `${dir}/${name}`;
  }
  return nonExecutable
    ? { ok: false, reason: 'not-executable', candidate: nonExecutable, searched: [...dirs] }
    : { ok: false, reason: 'not-found', searched: [...dirs] };
}
