/**
 * A tiny ELF reader: enough to say which machine a binary is for, whether it is dynamically linked, which
 * interpreter (PT_INTERP) and libraries (DT_NEEDED, with DT_RPATH/DT_RUNPATH) it needs. The bytes are untrusted (a
 * plugin image): every offset is checked against what was read, and sizes are bounded.
 *
 * It reads through a PrefixReader (the first N bytes of the file), because that is what a RootfsIndex offers; the
 * dynamic section usually sits in the first few hundred KiB, and the caller bounds how much may be read.
 */

/** Returns the first `length` bytes of the file, or fewer when the file is shorter. */
export type PrefixReader = (length: number) => Promise<Buffer>;

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export const EM = { I386: 3, MIPS: 8, PPC: 20, PPC64: 21, S390: 22, ARM: 40, X86_64: 62, AARCH64: 183, RISCV: 243, LOONGARCH: 258 } as const;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export interface ElfInfo {
  class: 32 | 64;
  endianness: 'little' | 'big';
  /** e_machine */
  machine: number;
  /** e_type: 2 executable, 3 shared object (PIE or library) */
  type: number;
  /** PT_INTERP: the dynamic loader the kernel starts, when the binary has one. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  rpath: string[];
  runpath: string[];
  /** True when the dynamic section could not be read within the limit (needed/rpath/runpath then incomplete). */
  dynamicUnread?: boolean;
}

interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** Human name of (class, machine, endianness), in Docker's platform words where there is one. */
export function machineName(info: Pick<ElfInfo, 'class' | 'machine' | 'endianness'>): string {
  switch (info.machine) {
    case EM.X86_64:
      return 'amd64 (x86-64)';
    case EM.I386:
      return '386 (x86)';
    case EM.AARCH64:
      return 'arm64 (aarch64)';
    case EM.ARM:
      return 'arm (32-bit)';
    case EM.PPC64:
      return info.endianness === 'little' ? 'ppc64le' : 'ppc64 (big-endian)';
    case EM.S390:
      return info.class === 64 ? 's390x' : 's390';
    case EM.RISCV:
      return info.class === 64 ? 'riscv64' : 'riscv32';
    case EM.MIPS:
      return `mips${info.class === 64 ? '64' : ''}${info.endianness === 'little' ? 'le' : ''}`;
    case EM.LOONGARCH:
      return 'loong64';
    default:
      return `machine ${info.machine}`;
  }
}

/**
 * Read an ELF file's header, program headers, interpreter and dynamic section. maxBytes bounds how much of the file
 * is ever read; beyond it the dynamic section is reported unread rather than guessed.
 */
export async function readElf(read: PrefixReader, maxBytes: number): Promise<ElfInfo> {
  let buf = await read(Math.min(4096, maxBytes));
  const ensure = async (end: number, what: string): Promise<boolean> => {
    if (end <= buf.length) return true;
    if (end > maxBytes) return false;
    buf = await read(end);
    if (end > buf.length) throw new ElfError(`truncated: ${what} ends at byte ${end} but the file has ${buf.length}`);
    return true;
  };

  if (!isElf(buf)) throw new ElfError('not an ELF file');
  if (buf.length < 52) throw new ElfError('truncated ELF header');
  const elfClass = buf[4] === 1 ? 32 : buf[4] === 2 ? 64 : undefined;
  const endianness = buf[5] === 1 ? 'little' : buf[5] === 2 ? 'big' : undefined;
  if (!elfClass) throw new ElfError(`invalid ELF class ${buf[4]}`);
  if (!endianness) throw new ElfError(`invalid ELF data encoding ${buf[5]}`);
  if (elfClass === 64 && buf.length < 64) throw new ElfError('truncated ELF header');
  const le = endianness === 'little';
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => {
    const v = le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError('offset too large');
    return Number(v);
  };
  const word = (o: number) => (elfClass === 64 ? u64(o) : u32(o));

  const type = u16(16);
  const machine = u16(18);
  const phoff = elfClass === 64 ? u64(32) : u32(28);
  const phentsize = u16(elfClass === 64 ? 54 : 42);
  const phnum = u16(elfClass === 64 ? 56 : 44);
  const info: ElfInfo = { class: elfClass, endianness, machine, type, needed: [], rpath: [], runpath: [] };
  if (phnum === 0) return info;
  const minEntry = elfClass === 64 ? 56 : 32;
  if (phentsize < minEntry) throw new ElfError(`invalid program header size ${phentsize}`);
  if (phnum > 4096) throw new ElfError(`too many program headers (${phnum})`);
  if (!(await ensure(phoff + phnum * phentsize, 'the program headers'))) {
    info.dynamicUnread = true;
    return info;
  }

  const headers: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    headers.push(
      elfClass === 64
        ? { type: u32(o), offset: u64(o + 8), vaddr: u64(o + 16), filesz: u64(o + 32) }
        : { type: u32(o), offset: u32(o + 4), vaddr: u32(o + 8), filesz: u32(o + 16) },
    );
  }

  const interp = headers.find((h) => h.type === PT_INTERP);
  if (interp) {
    if (interp.filesz > 4096) throw new ElfError('interpreter path too long');
    if (!(await ensure(interp.offset + interp.filesz, 'the interpreter path'))) {
      info.dynamicUnread = true;
      return info;
    }
    info.interpreter = cString(buf, interp.offset, interp.offset + interp.filesz);
  }

  const dynamic = headers.find((h) => h.type === PT_DYNAMIC);
  if (!dynamic) return info;
  if (!(await ensure(dynamic.offset + dynamic.filesz, 'the dynamic section'))) {
    info.dynamicUnread = true;
    return info;
  }
  const entrySize = elfClass === 64 ? 16 : 8;
  const entries: [number, number][] = [];
  for (let o = dynamic.offset; o + entrySize <= dynamic.offset + dynamic.filesz; o += entrySize) {
    const tag = elfClass === 64 ? u64Signedish(buf, o, le) : u32(o);
    const value = word(o + entrySize / 2);
    if (tag === DT_NULL) break;
    entries.push([tag, value]);
  }
  const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
  const strsz = entries.find(([t]) => t === DT_STRSZ)?.[1];
  if (strtabAddr === undefined) return info;
  // DT_STRTAB holds a virtual address: find the file offset through the PT_LOAD segment that maps it.
  const load = headers.find((h) => h.type === PT_LOAD && strtabAddr >= h.vaddr && strtabAddr < h.vaddr + h.filesz);
  if (!load) throw new ElfError('the string table is not in any loaded segment');
  const strtab = load.offset + (strtabAddr - load.vaddr);
  const strEnd = strsz !== undefined ? Math.min(strtab + strsz, load.offset + load.filesz) : load.offset + load.filesz;
  if (!(await ensure(strEnd, 'the dynamic string table'))) {
    info.dynamicUnread = true;
    return info;
  }
  for (const [tag, value] of entries) {
    if (tag !== DT_NEEDED && tag !== DT_RPATH && tag !== DT_RUNPATH) continue;
    if (strtab + value >= strEnd) throw new ElfError('a dynamic entry points outside the string table');
    const text = cString(buf, strtab + value, strEnd);
    if (tag === DT_NEEDED) info.needed.push(text);
    else (tag === DT_RPATH ? info.rpath : info.runpath).push(...text.split(':').filter((p) => p !== ''));
  }
  if (info.needed.length > 1024) throw new ElfError('too many needed libraries');
  return info;
}

/** A 64-bit dynamic tag; tags above 2^53 (OS/processor specific) are never ones we look for. */
function u64Signedish(buf: Buffer, o: number, le: boolean): number {
  const v = le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

function cString(buf: Buffer, start: number, end: number): string {
  const limit = Math.min(end, buf.length);
  let stop = start;
  while (stop < limit && buf[stop] !== 0) stop++;
  return buf.subarray(start, stop).toString('utf8');
}
