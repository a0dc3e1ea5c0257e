import { Readable } from 'node:stream';
import { DpkError } from '../errors.js';
import type { RootfsEntry, RootfsEntryType, RootfsIndex } from '../rootfs/model.js';
import type { ImageLayer, ImageSource } from './model.js';
import { encodeHeader, END_OF_ARCHIVE, padding, readBody, readTar, TarFormatError, type TarEntry, type TarHeader } from './tar.js';

/**
 * Flattening an image into the one filesystem the engine would show a container, without extracting anything.
 *
 * Two passes over the layers:
 *  1. plan: every layer's headers are read (content is skipped, apart from the first bytes of executables, kept for
 *     the rootfs checks). Then the layers are walked top-down with a map of paths already decided, which settles
 *     for each entry whether it survives: whiteouts (.wh.NAME) and opaque markers (.wh..wh..opq) hide what lower
 *     layers had; a later entry for the same path wins; a non-directory hides everything below its path. Hard links
 *     are resolved bottom-up, as an extractor would meet them, to the entry that holds their content.
 *  2. stream: directories first (parents before children, from the plan alone), then each layer is read again and
 *     its surviving entries are copied to the output with normalised names. Nothing is buffered beyond a chunk.
 * Memory is the headers of the image, not its content.
 */

export interface FlattenOptions {
  signal?: AbortSignal;
  /** Refuse images with more entries than this (all layers together): headers are held in memory. */
  maxEntries?: number;
  /** How much of each executable's head to keep from the plan pass for RootfsIndex.readFile. */
  headBytes?: number;
  /** Total memory for kept heads; beyond it readFile re-reads the layer. */
  headCacheBytes?: number;
}

export interface FlattenStats {
  /** Entries in the flattened filesystem (directories included, the root excluded). */
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  /** Hard links beyond the first name of a file. */
  hardlinks: number;
  /** Content bytes of regular files, each file counted once. */
  bytes: number;
  layers: number;
}

export interface FlattenedImage {
  readonly source: ImageSource;
  /** The merged filesystem, for validation (entries by normalised path; readFile reads content from the layers). */
  readonly rootfs: RootfsIndex;
  readonly stats: FlattenStats;
  /**
   * The merged filesystem as one uncompressed tar. Each call reads the layers again. With a prefix ("rootfs/") every
   * name, hard link target included, is put under it and the prefix directory itself is the first entry.
   */
  stream(options?: StreamOptions): Readable;
}

export interface StreamOptions {
  prefix?: string;
  /** Metadata for the prefix directory entry (e.g. its mtime). */
  root?: Partial<TarHeader>;
  signal?: AbortSignal;
}

/** Refused image content: always names the layer and the entry. */
export class ImageContentError extends DpkError {
  constructor(layer: ImageLayer | string, entry: string | undefined, reason: string, options: { hint?: string; cause?: unknown } = {}) {
    const where = typeof layer === 'string' ? layer : layer.description;
    super(`${where}${entry !== undefined ? `, entry "${entry}"` : ''}: ${reason}`, {
      hint: options.hint ?? 'the image content is refused as it is; rebuild the image without it',
      cause: options.cause,
    });
    this.name = 'ImageContentError';
  }
}

interface Rec {
  layer: number;
  ordinal: number;
  /** Normalised path ("" is the root). For whiteouts: the path they hide. */
  path: string;
  header: TarHeader;
  kind: 'entry' | 'whiteout' | 'opaque' | 'ignored';
  /** Hard links: the normalised target path and, once resolved, the entry holding the content. */
  linkTarget?: string;
  inode?: Rec;
  survives?: boolean;
  /** Surviving hard link: the output name of the file it links to. */
  linkOut?: string;
  /** This content entry is emitted under another (surviving link's) name, because its own name did not survive. */
  emitAs?: string;
  /** A surviving hard link whose content is emitted by its inode entry under this link's name. */
  carriedByInode?: boolean;
}

interface Node {
  final?: 'dir' | 'leaf' | 'implicit';
  /** Whiteout: this path and all below it are gone for lower layers. */
  gone?: boolean;
  /** Opaque: everything below this path is gone for lower layers. */
  opaque?: boolean;
  /** For 'implicit': the entry that needs this to be a directory. */
  by?: Rec;
  /** For 'dir': the header chosen. */
  dirHeader?: TarHeader;
}

/** Padding source; consumers only read it (pluginTar copies pieces into its batches). */
const ZERO_BLOCK = Buffer.alloc(512);
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DpkError('cancelled');
}

/** Normalise a tar name to a rootfs path: relative, no "." components, "" for the root; undefined when it climbs out. */
export function normaliseEntryName(name: string): string | undefined {
  // Most names are already normal ("usr/bin/x"): return the same string rather than a copy, which the index would
  // otherwise hold beside the header's name for every entry.
  if (isNormal(name)) return name;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

function isNormal(name: string): boolean {
  if (name === '' || name.startsWith('/') || name.endsWith('/') || name.includes('//')) return false;
  if (name === '.' || name === '..' || name.startsWith('./') || name.startsWith('../')) return false;
  return !name.includes('/./') && !name.includes('/../') && !name.endsWith('/.') && !name.endsWith('/..');
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Proper ancestors of a path, root excluded, outermost first ("a/b/c" -> "a", "a/b"). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  let at = path.indexOf('/');
  while (at !== -1) {
    out.push(path.slice(0, at));
    at = path.indexOf('/', at + 1);
  }
  return out;
}

function wrapLayerError(layer: ImageLayer, error: unknown, entry?: string): DpkError {
  if (error instanceof DpkError) return error;
  if (error instanceof TarFormatError) return new ImageContentError(layer, error.entry ?? entry, error.message, { cause: error });
  const err = error as Error;
  if (err?.name === 'AbortError') return new DpkError('cancelled', { cause: error });
  const message = err?.message ?? String(error);
  // Layer streams (digest checks, decompression) already name their layer.
  return new DpkError(message.startsWith(`${layer.description}: `) ? message : `${layer.description}: ${message}`, { cause: error });
}

/** Read one layer's entries, turning every failure into an error that names the layer (and entry). */
async function* layerEntries(layer: ImageLayer, signal?: AbortSignal): AsyncGenerator<TarEntry> {
  let stream: Readable;
  try {
    stream = layer.open(signal);
  } catch (error) {
    throw wrapLayerError(layer, error);
  }
  let current: string | undefined;
  try {
    for await (const entry of readTar(stream)) {
      throwIfAborted(signal);
      current = entry.header.name;
      yield entry;
    }
  } catch (error) {
    throw wrapLayerError(layer, error, current);
  } finally {
    stream.destroy();
  }
}

export async function flattenImage(source: ImageSource, options: FlattenOptions = {}): Promise<FlattenedImage> {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const headBytes = options.headBytes ?? 4096;
  // Heads are what the rootfs checks read (entrypoint, interpreter, scripts): a few files. 8 MiB keeps 2048 of them
  // and bounds what an image full of executables can make dpk hold; beyond it readFile re-reads the layer.
  let headBudget = options.headCacheBytes ?? 8 << 20;
  const heads = new Map<Rec, Buffer>();
  const layers = source.layers;
  const recs: Rec[][] = [];
  let total = 0;

  // Pass 1: headers of every layer.
  for (const [i, layer] of layers.entries()) {
    const list: Rec[] = [];
    for await (const entry of layerEntries(layer, options.signal)) {
      if (++total > maxEntries) throw new ImageContentError(layer, undefined, `the image has more than ${maxEntries} entries`, { hint: 'dpk holds every header in memory; an image this large is refused' });
      const rec = classify(layer, i, entry);
      list.push(rec);
      const h = entry.header;
      if (rec.kind === 'entry' && h.type === 'file' && h.size > 0 && (h.mode & 0o111) !== 0 && headBudget > 0) {
        const head = await readBody(entry, Math.min(headBytes, h.size));
        heads.set(rec, head);
        headBudget -= head.length;
      }
    }
    recs.push(list);
  }

  resolveHardLinks(layers, recs);
  const decided = decideSurvivors(layers, recs);
  assignLinkNames(recs);

  // The directory entries, from the plan: chosen headers plus directories that only exist implicitly.
  const dirs: TarHeader[] = [];
  for (const [path, node] of decided) {
    if (path === '') continue;
    if (node.final === 'dir') dirs.push({ ...node.dirHeader!, name: path });
    else if (node.final === 'implicit') dirs.push(synthesizedDir(path));
  }
  dirs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const { entries, origins, stats } = buildIndex(recs, dirs, layers.length);

  const readFile = async (path: string, maxBytes: number): Promise<Buffer | undefined> => {
    let entry = entries.get(path);
    if (entry?.type === 'hardlink' && entry.linkname !== undefined) entry = entries.get(entry.linkname);
    if (!entry || entry.type !== 'file') return undefined;
    const rec = origins.get(entry.path);
    if (!rec) return undefined;
    const want = Math.min(maxBytes, rec.header.size);
    const head = heads.get(rec);
    if (head && head.length >= want) return head.subarray(0, want);
    for await (const e of layerEntries(layers[rec.layer]!, options.signal)) {
      if (e.ordinal === rec.ordinal) return readBody(e, want);
    }
    throw new ImageContentError(layers[rec.layer]!, rec.header.name, 'the layer changed while dpk was reading it');
  };

  const layerHasOutput = recs.map((list) => list.some((r) => r.kind === 'entry' && r.header.type !== 'dir' && (r.emitAs !== undefined || (r.survives && !r.carriedByInode))));

  return {
    source,
    rootfs: { entries, readFile },
    stats,
    stream: (streamOptions = {}) => Readable.from(emit(streamOptions), { objectMode: false }),
  };

  async function* emit(streamOptions: StreamOptions): AsyncGenerator<Buffer> {
    const prefix = streamOptions.prefix ?? '';
    const signal = streamOptions.signal ?? options.signal;
    if (prefix !== '') {
      yield encodeHeader({ ...synthesizedDir(prefix.replace(/\/+$/, '')), ...streamOptions.root, name: prefix.replace(/\/*$/, '/'), type: 'dir' });
    }
    for (const dir of dirs) yield encodeHeader({ ...dir, name: `${prefix}${dir.name}/` });
    for (const [i, layer] of layers.entries()) {
      if (!layerHasOutput[i]) continue;
      const list = recs[i]!;
      let seen = 0;
      for await (const entry of layerEntries(layer, signal)) {
        const rec = list[entry.ordinal];
        seen++;
        if (!rec || rec.header.name !== entry.header.name || rec.header.type !== entry.header.type || rec.header.size !== entry.header.size) {
          throw new ImageContentError(layer, entry.header.name, 'the layer changed while dpk was reading it (its second read differs from the first)');
        }
        if (rec.kind !== 'entry' || rec.header.type === 'dir') continue;
        let name: string;
        if (rec.emitAs !== undefined) name = rec.emitAs;
        else if (rec.survives && !rec.carriedByInode) name = rec.path;
        else continue;
        const header: TarHeader = { ...entry.header, name: `${prefix}${name}` };
        if (rec.header.type === 'hardlink' && rec.emitAs === undefined) header.linkname = `${prefix}${rec.linkOut!}`;
        yield encodeHeader(header);
        if (header.type === 'file' && header.size > 0) {
          yield* entry.body();
          const pad = padding(header.size);
          if (pad > 0) yield ZERO_BLOCK.subarray(0, pad);
        }
      }
      if (seen !== list.length) throw new ImageContentError(layer, undefined, 'the layer changed while dpk was reading it (a different number of entries)');
    }
    yield END_OF_ARCHIVE;
  }
}

/** Flatten straight to a tar stream (plan, then stream). Errors surface on the stream. */
export function flatten(source: ImageSource, options: FlattenOptions & { prefix?: string } = {}): Readable {
  const out = async function* (): AsyncGenerator<Buffer> {
    const flat = await flattenImage(source, options);
    yield* flat.stream({ prefix: options.prefix, signal: options.signal });
  };
  return Readable.from(out(), { objectMode: false });
}

function synthesizedDir(path: string): TarHeader {
  // What the engine's extractor creates for a missing parent: root-owned, 0755.
  return { name: path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0 };
}

/** What an entry is: a filesystem entry, a whiteout, an opaque marker, or ignored (aufs metadata, the root). */
function classify(layer: ImageLayer, i: number, entry: TarEntry): Rec {
  const h = entry.header;
  const path = normaliseEntryName(h.name);
  if (path === undefined) throw new ImageContentError(layer, h.name, 'the name leaves the image root');
  const rec: Rec = { layer: i, ordinal: entry.ordinal, path, header: h, kind: 'entry' };
  if (path === '') {
    if (h.type !== 'dir') throw new ImageContentError(layer, h.name, `the image root is a ${h.type}, not a directory`);
    rec.kind = 'ignored';
    return rec;
  }
  const base = baseOf(path);
  if (base.startsWith(WHITEOUT)) {
    if (base === OPAQUE) {
      rec.kind = 'opaque';
      rec.path = parentOf(path);
    } else if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) {
      rec.kind = 'ignored'; // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs), not content
    } else {
      const hidden = base.slice(WHITEOUT.length);
      if (hidden === '.' || hidden === '..' || hidden === '') throw new ImageContentError(layer, h.name, `a whiteout cannot name "${hidden}"`);
      rec.kind = 'whiteout';
      rec.path = parentOf(path) === '' ? hidden : `${parentOf(path)}/${hidden}`;
    }
    return rec;
  }
  if (h.type === 'hardlink') {
    const target = normaliseEntryName(h.linkname);
    if (target === undefined) throw new ImageContentError(layer, h.name, `hard link target "${h.linkname}" leaves the image root`);
    if (target === '') throw new ImageContentError(layer, h.name, 'hard link to the image root');
    rec.linkTarget = target;
  }
  return rec;
}

/**
 * Hard links, bottom-up as an extractor meets them: a link takes the content its target path holds at that moment
 * (an earlier entry of the same layer, or a lower layer's). Only paths that some link targets are tracked.
 */
function resolveHardLinks(layers: readonly ImageLayer[], recs: Rec[][]): void {
  const targets = new Set<string>();
  for (const list of recs) for (const rec of list) if (rec.kind === 'entry' && rec.linkTarget !== undefined) targets.add(rec.linkTarget);
  if (targets.size === 0) return;
  const under = new Map<string, string[]>();
  for (const target of targets) {
    for (const a of ancestors(target)) {
      const list = under.get(a) ?? [];
      list.push(target);
      under.set(a, list);
    }
  }
  const current = new Map<string, { rec: Rec | 'dir'; layer: number }>();
  const dropLower = (paths: readonly string[] | undefined, layer: number) => {
    for (const t of paths ?? []) if ((current.get(t)?.layer ?? layer) < layer) current.delete(t);
  };
  for (const [i, list] of recs.entries()) {
    for (const rec of list) {
      if (rec.kind === 'whiteout') {
        dropLower([rec.path], i);
        dropLower(under.get(rec.path), i);
        continue;
      }
      if (rec.kind === 'opaque') {
        dropLower(under.get(rec.path), i);
        continue;
      }
      if (rec.kind !== 'entry') continue;
      if (rec.linkTarget !== undefined) {
        const found = current.get(rec.linkTarget);
        if (!found) {
          throw new ImageContentError(layers[i]!, rec.header.name, `hard link to "${rec.header.linkname}", which is not in the image at that point (missing, or a later entry)`);
        }
        if (found.rec === 'dir') throw new ImageContentError(layers[i]!, rec.header.name, `hard link to "${rec.header.linkname}", which is a directory`);
        rec.inode = found.rec;
      }
      if (targets.has(rec.path)) current.set(rec.path, { rec: rec.header.type === 'dir' ? 'dir' : (rec.inode ?? rec), layer: i });
      if (rec.header.type !== 'dir') for (const t of under.get(rec.path) ?? []) current.delete(t);
    }
  }
}

/** The top-down walk: which entry wins each path. */
function decideSurvivors(layers: readonly ImageLayer[], recs: Rec[][]): Map<string, Node> {
  const decided = new Map<string, Node>([['', { final: 'dir' }]]);
  const node = (path: string): Node => {
    let n = decided.get(path);
    if (!n) decided.set(path, (n = {}));
    return n;
  };
  const hiddenByAncestor = (path: string): boolean => {
    for (const a of ancestors(path)) {
      const n = decided.get(a);
      if (n && (n.gone || n.opaque || n.final === 'leaf')) return true;
    }
    return false;
  };
  for (let i = layers.length - 1; i >= 0; i--) {
    const list = recs[i]!;
    // Whiteouts and opaque markers hide lower layers only, so they take effect after their own layer.
    const pending: Rec[] = [];
    for (let k = list.length - 1; k >= 0; k--) {
      const rec = list[k]!;
      if (rec.kind === 'ignored') continue;
      if (rec.kind === 'whiteout' || rec.kind === 'opaque') {
        if (!hiddenByAncestor(rec.path) && !(rec.kind === 'whiteout' && decided.get(rec.path)?.gone)) pending.push(rec);
        continue;
      }
      const path = rec.path;
      if (hiddenByAncestor(path)) continue;
      const n = decided.get(path);
      if (n?.gone || n?.final === 'leaf' || n?.final === 'dir') continue;
      const isDir = rec.header.type === 'dir';
      if (n?.final === 'implicit' && !isDir) {
        const by = n.by!;
        throw new ImageContentError(
          layers[by.layer]!,
          by.header.name,
          `it is written inside "${path}", which ${by.layer === i ? 'this layer' : `${layers[i]!.description}`} makes a ${rec.header.type}, not a directory; dpk does not write through symlinks or files`,
        );
      }
      const target = node(path);
      target.final = isDir ? 'dir' : 'leaf';
      if (isDir) target.dirHeader = rec.header;
      rec.survives = true;
      const parents = ancestors(path);
      for (let a = parents.length - 1; a >= 0; a--) {
        const p = node(parents[a]!);
        if (p.final === 'dir' || p.final === 'implicit') break;
        p.final = 'implicit';
        p.by = rec;
      }
    }
    for (const rec of pending) {
      if (rec.kind === 'whiteout') node(rec.path).gone = true;
      else node(rec.path).opaque = true;
    }
  }
  return decided;
}

/**
 * Surviving hard links point at the output name of their content: the inode entry's own name when it survives,
 * else the first surviving link's name, under which the inode entry's content is then emitted.
 */
function assignLinkNames(recs: Rec[][]): void {
  const promoted = new Map<Rec, string>();
  for (const list of recs) {
    for (const rec of list) {
      if (!rec.survives || rec.inode === undefined) continue;
      const inode = rec.inode;
      if (inode.survives) {
        rec.linkOut = inode.path;
        continue;
      }
      const name = promoted.get(inode);
      if (name === undefined) {
        promoted.set(inode, rec.path);
        inode.emitAs = rec.path;
        rec.carriedByInode = true;
      } else rec.linkOut = name;
    }
  }
}

const ENTRY_TYPES: Record<TarHeader['type'], RootfsEntryType> = {
  file: 'file',
  hardlink: 'hardlink',
  symlink: 'symlink',
  char: 'char',
  block: 'block',
  dir: 'dir',
  fifo: 'fifo',
};

function buildIndex(recs: Rec[][], dirs: TarHeader[], layerCount: number) {
  const entries = new Map<string, RootfsEntry>();
  /** Path of a regular file -> the entry holding its content. */
  const origins = new Map<string, Rec>();
  const stats: FlattenStats = { entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, layers: layerCount };
  entries.set('', { path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 });
  for (const d of dirs) {
    entries.set(d.name, { path: d.name, type: 'dir', mode: d.mode, uid: d.uid, gid: d.gid, size: 0 });
    stats.dirs++;
  }
  for (const list of recs) {
    for (const rec of list) {
      if (rec.kind !== 'entry' || rec.header.type === 'dir') continue;
      const h = rec.header;
      if (rec.emitAs !== undefined) {
        entries.set(rec.emitAs, { path: rec.emitAs, type: ENTRY_TYPES[h.type], mode: h.mode, uid: h.uid, gid: h.gid, size: h.size, linkname: h.type === 'symlink' ? h.linkname : undefined });
        if (h.type === 'file') origins.set(rec.emitAs, rec);
        count(h, stats);
      }
      if (!rec.survives || rec.carriedByInode) continue;
      if (h.type === 'hardlink') {
        entries.set(rec.path, { path: rec.path, type: 'hardlink', mode: h.mode, uid: h.uid, gid: h.gid, size: rec.inode!.header.size, linkname: rec.linkOut });
        stats.hardlinks++;
        continue;
      }
      entries.set(rec.path, { path: rec.path, type: ENTRY_TYPES[h.type], mode: h.mode, uid: h.uid, gid: h.gid, size: h.size, linkname: h.type === 'symlink' ? h.linkname : undefined });
      if (h.type === 'file') origins.set(rec.path, rec);
      count(h, stats);
    }
  }
  stats.entries = entries.size - 1;
  return { entries, origins, stats };
}

function count(h: TarHeader, stats: FlattenStats): void {
  if (h.type === 'file') {
    stats.files++;
    stats.bytes += h.size;
  } else if (h.type === 'symlink') stats.symlinks++;
}
