/**
 * A small tar reader and writer of our own. Layers are untrusted input, so dpk decides exactly how a header is read
 * (PAX size is authoritative, as in Go's archive/tar that the engine uses), refuses what it does not understand
 * (sparse files, multi-volume, unknown types) instead of guessing, and never touches the filesystem.
 */

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** The name as stored (not normalised): directories may end with "/". */
  name: string;
  type: TarEntryType;
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow (0 for everything but files). */
  size: number;
  /** Seconds since the epoch; may carry a fraction when it came from a PAX record. */
  mtime: number;
  /** Symlink target, or hard link target name. */
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (SCHILY.xattr.*) kept verbatim, so file capabilities survive flattening. */
  xattrs?: Record<string, string>;
}

/** A malformed or unsupported archive. Callers add which layer and entry it was. */
export class TarFormatError extends Error {
  constructor(
    message: string,
    /** The entry being read when it went wrong, when known. */
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export const BLOCK = 512;
/** Metadata records (PAX, GNU long names) are small; a bigger one is an attack on memory. */
const MAX_META_BYTES = 1 << 20;
/** Linux PATH_MAX: a longer name cannot be created by any extractor. */
export const MAX_NAME_BYTES = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface RawHeader {
  nameBytes: Buffer;
  linkBytes: Buffer;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function cString(block: Buffer, start: number, length: number): Buffer {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

function parseNumber(block: Buffer, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if (field[0] !== undefined && (field[0] & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement with the top bit as marker. Negative values are refused.
    if ((field[0] & 0x40) !== 0) throw new TarFormatError(`negative ${what} in tar header`);
    let value = field[0] & 0x3f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${what} in tar header is too large`);
    }
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`${what} field "${text.slice(0, 20)}" in tar header is not octal`);
  return parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Owner names repeat on nearly every entry ("", "root"): share one string per name instead of one per header, since
 * the headers of a whole image are held in memory while it is flattened.
 */
const ownerNames = new Map<string, string>();
function ownerName(bytes: Buffer): string {
  const name = bytes.toString('utf8');
  const known = ownerNames.get(name);
  if (known !== undefined) return known;
  if (ownerNames.size < 256) ownerNames.set(name, name);
  return name;
}

/** Parse one 512-byte header block; undefined for an all-zero (end) block. */
export function parseHeaderBlock(block: Buffer): RawHeader | undefined {
  if (isZeroBlock(block)) return undefined;
  const stored = parseNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw new TarFormatError('tar header checksum does not match (not a tar, or corrupt)');
  const magic = block.subarray(257, 263).toString('latin1');
  const isUstar = magic === 'ustar\0';
  let nameBytes = cString(block, 0, 100);
  if (isUstar) {
    const prefix = cString(block, 345, 155);
    if (prefix.length > 0) nameBytes = Buffer.concat([prefix, Buffer.from('/'), nameBytes]);
  }
  return {
    nameBytes,
    linkBytes: cString(block, 157, 100),
    typeflag: String.fromCharCode(block[156]!),
    mode: parseNumber(block, 100, 8, 'mode'),
    uid: parseNumber(block, 108, 8, 'uid'),
    gid: parseNumber(block, 116, 8, 'gid'),
    size: parseNumber(block, 124, 12, 'size'),
    mtime: parseNumber(block, 136, 12, 'mtime'),
    uname: ownerName(cString(block, 265, 32)),
    gname: ownerName(cString(block, 297, 32)),
    devmajor: parseNumber(block, 329, 8, 'devmajor'),
    devminor: parseNumber(block, 337, 8, 'devminor'),
  };
}

/** PAX records "LEN key=value\n"; keys and values are UTF-8 except where noted. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 12) throw new TarFormatError('malformed PAX record');
    const length = Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - pos + 1 || pos + length > data.length) throw new TarFormatError('malformed PAX record length');
    const record = data.subarray(space + 1, pos + length);
    if (record[record.length - 1] !== 0x0a) throw new TarFormatError('PAX record does not end with a newline');
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('PAX record has no key');
    const key = record.subarray(0, eq).toString('utf8');
    records.set(key, Buffer.from(record.subarray(eq + 1, record.length - 1)));
    pos += length;
  }
  return records;
}

function decodeName(bytes: Buffer, what: string, shown: string): string {
  if (bytes.includes(0)) throw new TarFormatError(`${what} contains a NUL byte`, shown);
  if (bytes.length > MAX_NAME_BYTES) throw new TarFormatError(`${what} is longer than ${MAX_NAME_BYTES} bytes`, shown);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new TarFormatError(`${what} is not valid UTF-8`, shown);
  }
}

/** A printable form of raw name bytes for error messages. */
export function showBytes(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function paxNumber(records: Map<string, Buffer>, key: string, fallback: number, shown: string): number {
  const value = records.get(key);
  if (value === undefined) return fallback;
  const text = value.toString('latin1');
  const ok = key === 'mtime' ? /^-?\d+(\.\d+)?$/.test(text) : /^\d+$/.test(text);
  const n = Number(text);
  if (!ok || !Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`PAX ${key} "${text.slice(0, 30)}" is not a valid number`, shown);
  return n;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Exact-length reads over an async stream of chunks, tracking the offset for messages. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  offset = 0;
  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array | string>) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
  }

  /** Up to n bytes that are already buffered, or the next chunk; an empty buffer at the end. */
  private async some(n: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill(1);
    if (this.buffered === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length <= n) {
      this.chunks.shift();
      this.buffered -= first.length;
      this.offset += first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    this.offset += n;
    return first.subarray(0, n);
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const part = await this.some(need);
      if (part.length === 0) break;
      parts.push(part);
      need -= part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async *stream(n: number): AsyncGenerator<Buffer> {
    let need = n;
    while (need > 0) {
      const part = await this.some(need);
      if (part.length === 0) throw new TarFormatError(`archive is truncated (ends at byte ${this.offset}, ${need} bytes of content missing)`);
      need -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) void _;
  }

  async drain(): Promise<void> {
    for (;;) {
      const part = await this.some(1 << 20);
      if (part.length === 0) return;
    }
  }
}

export interface TarEntry {
  header: TarHeader;
  /** The raw name bytes, for messages about names that cannot be decoded. */
  ordinal: number;
  /**
   * The entry's content. Read it before asking for the next entry, or it is skipped. Only the first call reads.
   */
  body(): AsyncGenerator<Buffer>;
}

/**
 * Entries of an uncompressed tar stream, one at a time. Metadata headers (PAX, GNU long names) are folded into the
 * entry they describe; global PAX headers are ignored, as the engine's extractor ignores them. After the end marker
 * the rest of the stream is drained, so a wrapping digest check sees every byte.
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  let pax: Map<string, Buffer> | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let ordinal = 0;
  for (;;) {
    const block = await reader.read(BLOCK);
    if (block.length === 0) {
      // No end marker at all: Go's reader accepts this (io.EOF at a header boundary), so do we.
      if (pax || longName || longLink) throw new TarFormatError('archive ends after a metadata header');
      return;
    }
    if (block.length < BLOCK) throw new TarFormatError(`archive is truncated (a header at byte ${reader.offset - block.length} is incomplete)`);
    const raw = parseHeaderBlock(block);
    if (raw === undefined) {
      await reader.drain();
      return;
    }
    const rawName = longName ?? (pax?.get('path')) ?? raw.nameBytes;
    const shown = showBytes(rawName);
    const readMeta = async (): Promise<Buffer> => {
      if (raw.size > MAX_META_BYTES) throw new TarFormatError(`metadata header of ${raw.size} bytes is too large`, shown);
      const data = await reader.read(raw.size);
      if (data.length < raw.size) throw new TarFormatError('archive is truncated inside a metadata header', shown);
      await reader.skip(padding(raw.size));
      return data;
    };
    switch (raw.typeflag) {
      case 'x':
        if (pax) throw new TarFormatError('two PAX headers in a row', shown);
        pax = parsePax(await readMeta());
        continue;
      case 'g':
        await readMeta();
        continue;
      case 'L':
        longName = cString(await readMeta(), 0, MAX_META_BYTES);
        continue;
      case 'K':
        longLink = cString(await readMeta(), 0, MAX_META_BYTES);
        continue;
    }
    let type = TYPES[raw.typeflag];
    if (type === undefined) {
      const kind = raw.typeflag === 'S' ? 'GNU sparse file' : raw.typeflag === 'M' ? 'multi-volume continuation' : raw.typeflag === 'V' ? 'volume label' : `type "${showBytes(Buffer.from(raw.typeflag, 'latin1'))}"`;
      throw new TarFormatError(`unsupported tar entry (${kind})`, shown);
    }
    if (pax && [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw new TarFormatError('unsupported tar entry (GNU sparse file in PAX format)', shown);
    const name = decodeName(rawName, 'entry name', shown);
    if (raw.typeflag === '\0' && name.endsWith('/')) type = 'dir';
    const linkBytes = longLink ?? pax?.get('linkpath') ?? raw.linkBytes;
    const size = pax ? paxNumber(pax, 'size', raw.size, shown) : raw.size;
    const header: TarHeader = {
      name,
      type,
      mode: raw.mode & 0o7777,
      uid: pax ? paxNumber(pax, 'uid', raw.uid, shown) : raw.uid,
      gid: pax ? paxNumber(pax, 'gid', raw.gid, shown) : raw.gid,
      size: type === 'file' ? size : 0,
      mtime: pax ? paxNumber(pax, 'mtime', raw.mtime, shown) : raw.mtime,
      linkname: type === 'hardlink' || type === 'symlink' ? decodeName(linkBytes, 'link target', shown) : '',
      uname: pax?.get('uname')?.toString('utf8') ?? raw.uname,
      gname: pax?.get('gname')?.toString('utf8') ?? raw.gname,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
    };
    if (pax) {
      for (const [key, value] of pax) {
        if (key.startsWith('SCHILY.xattr.')) (header.xattrs ??= {})[key.slice('SCHILY.xattr.'.length)] = value.toString('latin1');
      }
    }
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    // Hard links, symlinks, devices and directories may declare a size; their data (if any) is skipped, as Go does.
    const dataSize = size;
    let remaining = dataSize;
    let started = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      if (started || type !== 'file') return;
      started = true;
      for await (const chunk of reader.stream(remaining)) {
        remaining -= chunk.length;
        yield chunk;
      }
    };
    yield { header, ordinal: ordinal++, body };
    // Whatever the consumer did not read (all of it, or the rest after it stopped early) is skipped.
    await reader.skip(remaining);
    await reader.skip(padding(dataSize));
  }
}

/** Read a whole entry body into memory, up to max bytes (the rest is left unread). */
export async function readBody(entry: TarEntry, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  for await (const chunk of entry.body()) {
    const take = Math.min(chunk.length, max - have);
    if (take > 0) parts.push(chunk.subarray(0, take));
    have += take;
    if (have >= max) break;
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function writeString(block: Buffer, value: string, start: number, length: number): void {
  block.write(value, start, length, 'utf8');
}

function writeOctal(block: Buffer, value: number, start: number, length: number): void {
  block.write(`${Math.floor(value).toString(8).padStart(length - 1, '0')}\0`, start, length, 'latin1');
}

/** Split a long ASCII name into ustar prefix (≤155) and name (≤100) at a slash, or undefined. */
function splitUstar(name: string): [string, string] | undefined {
  if (name.length <= 100) return ['', name];
  if (name.length > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return [prefix, rest];
    if (prefix.length <= 155) return undefined;
  }
  return undefined;
}

function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
  // The length counts its own digits.
  const digits = String(body.length).length;
  let length = body.length + digits;
  if (String(length).length > digits) length += 1;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarBlock(h: { name: string; prefix: string; typeflag: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; uname: string; gname: string; devmajor: number; devminor: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, h.name, 0, 100);
  writeOctal(block, h.mode, 100, 8);
  writeOctal(block, h.uid, 108, 8);
  writeOctal(block, h.gid, 116, 8);
  writeOctal(block, h.size, 124, 12);
  writeOctal(block, h.mtime, 136, 12);
  block.write(h.typeflag, 156, 1, 'latin1');
  writeString(block, h.linkname, 157, 100);
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeString(block, h.uname, 265, 32);
  writeString(block, h.gname, 297, 32);
  writeOctal(block, h.devmajor, 329, 8);
  writeOctal(block, h.devminor, 337, 8);
  writeString(block, h.prefix, 345, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/**
 * The header block(s) for one entry: a plain ustar block when everything fits, preceded by a PAX header for long or
 * non-ASCII names, big numbers, fractional times and extended attributes.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const records: Buffer[] = [];
  let name = h.name;
  let prefix = '';
  const split = isAscii(name) ? splitUstar(name) : undefined;
  if (split) [prefix, name] = split;
  else {
    records.push(paxRecord('path', h.name));
    name = asciiFallback(h.name, 100);
  }
  let linkname = h.linkname;
  if (!isAscii(linkname) || Buffer.byteLength(linkname) > 100) {
    records.push(paxRecord('linkpath', linkname));
    linkname = asciiFallback(linkname, 100);
  }
  const size = h.type === 'file' ? h.size : 0;
  let headerSize = size;
  if (size > MAX_OCTAL_11) {
    records.push(paxRecord('size', String(size)));
    headerSize = 0;
  }
  let uid = h.uid;
  let gid = h.gid;
  if (uid > MAX_OCTAL_7) {
    records.push(paxRecord('uid', String(uid)));
    uid = 0;
  }
  if (gid > MAX_OCTAL_7) {
    records.push(paxRecord('gid', String(gid)));
    gid = 0;
  }
  let mtime = h.mtime;
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_11) {
    records.push(paxRecord('mtime', formatPaxTime(mtime)));
    mtime = Math.min(Math.max(0, Math.floor(mtime)), MAX_OCTAL_11);
  }
  let uname = h.uname;
  let gname = h.gname;
  if (!isAscii(uname) || uname.length > 32) {
    records.push(paxRecord('uname', uname));
    uname = '';
  }
  if (!isAscii(gname) || gname.length > 32) {
    records.push(paxRecord('gname', gname));
    gname = '';
  }
  for (const [key, value] of Object.entries(h.xattrs ?? {})) {
    // xattr values are bytes (e.g. security.capability); they were read as latin1 and are written back the same way.
    records.push(paxRecord(`SCHILY.xattr.${key}`, Buffer.from(value, 'latin1')));
  }
  const main = ustarBlock({
    name,
    prefix,
    typeflag: TYPEFLAG[h.type],
    mode: h.mode & 0o7777,
    uid,
    gid,
    size: headerSize,
    mtime,
    linkname,
    uname,
    gname,
    devmajor: Math.min(h.devmajor, MAX_OCTAL_7),
    devminor: Math.min(h.devminor, MAX_OCTAL_7),
  });
  if (records.length === 0) return main;
  const paxData = Buffer.concat(records);
  const paxHeader = ustarBlock({
    name: asciiFallback(`PaxHeaders/${h.name}`, 100),
    prefix: '',
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxData.length,
    mtime,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, paxData, Buffer.alloc(padding(paxData.length)), main]);
}

function asciiFallback(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

function formatPaxTime(t: number): string {
  if (Number.isInteger(t)) return String(t);
  const sign = t < 0 ? '-' : '';
  const abs = Math.abs(t);
  const whole = Math.floor(abs);
  const frac = Math.round((abs - whole) * 1e9);
  return `${sign}${whole}.${String(frac).padStart(9, '0')}`;
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
