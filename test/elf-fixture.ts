/**
 * Minimal ELF files made by the tests: an ELF header, program headers (one PT_LOAD mapping the whole file, an
 * optional PT_INTERP and PT_DYNAMIC), the interpreter path, a string table and a dynamic section. Enough for the
 * kernel's and dpk's view of "which machine, which loader, which libraries"; there is no code in them.
 */
export interface ElfSpec {
  class?: 32 | 64;
  endianness?: 'little' | 'big';
  machine: number;
  /** 2 = ET_EXEC, 3 = ET_DYN */
  type?: number;
  interpreter?: string;
  needed?: string[];
  runpath?: string;
  rpath?: string;
}

const BASE = 0x400000;

export function makeElf(spec: ElfSpec): Buffer {
  const is64 = (spec.class ?? 64) === 64;
  const le = (spec.endianness ?? 'little') === 'little';
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const dynamic = spec.needed !== undefined || spec.runpath !== undefined || spec.rpath !== undefined;
  const phnum = 1 + (spec.interpreter !== undefined ? 1 : 0) + (dynamic ? 1 : 0);

  // String table: "\0" then each string, NUL-terminated.
  const strings = ['', ...(spec.needed ?? []), ...(spec.runpath !== undefined ? [spec.runpath] : []), ...(spec.rpath !== undefined ? [spec.rpath] : [])];
  const strOffsets: number[] = [];
  let strtab = Buffer.alloc(0);
  for (const s of strings) {
    strOffsets.push(strtab.length);
    strtab = Buffer.concat([strtab, Buffer.from(s, 'utf8'), Buffer.from([0])]);
  }
  const offsetOf = (s: string) => strOffsets[strings.indexOf(s)] as number;

  const interp = spec.interpreter !== undefined ? Buffer.concat([Buffer.from(spec.interpreter, 'utf8'), Buffer.from([0])]) : Buffer.alloc(0);
  const interpOffset = ehsize + phnum * phentsize;
  const strtabOffset = interpOffset + interp.length;
  const dynOffset = align(strtabOffset + strtab.length, 8);

  const DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_RPATH = 15, DT_RUNPATH = 29;
  const dynEntries: [number, number][] = [];
  if (dynamic) {
    for (const n of spec.needed ?? []) dynEntries.push([DT_NEEDED, offsetOf(n)]);
    if (spec.runpath !== undefined) dynEntries.push([DT_RUNPATH, offsetOf(spec.runpath)]);
    if (spec.rpath !== undefined) dynEntries.push([DT_RPATH, offsetOf(spec.rpath)]);
    dynEntries.push([DT_STRTAB, BASE + strtabOffset], [DT_STRSZ, strtab.length], [0, 0]);
  }
  const dynSize = dynEntries.length * (is64 ? 16 : 8);
  const total = dynOffset + dynSize;
  const buf = Buffer.alloc(total);

  const u16 = (o: number, v: number) => (le ? buf.writeUInt16LE(v, o) : buf.writeUInt16BE(v, o));
  const u32 = (o: number, v: number) => (le ? buf.writeUInt32LE(v, o) : buf.writeUInt32BE(v, o));
  const u64 = (o: number, v: number) => (le ? buf.writeBigUInt64LE(BigInt(v), o) : buf.writeBigUInt64BE(BigInt(v), o));
  const word = (o: number, v: number) => (is64 ? u64(o, v) : u32(o, v));

  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  u16(16, spec.type ?? (spec.interpreter ? 3 : 2));
  u16(18, spec.machine);
  u32(20, 1);
  word(24, BASE);
  word(is64 ? 32 : 28, ehsize);
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 54 : 42, phentsize);
  u16(is64 ? 56 : 44, phnum);

  let ph = ehsize;
  const phdr = (type: number, offset: number, size: number) => {
    u32(ph, type);
    if (is64) {
      u32(ph + 4, 5);
      u64(ph + 8, offset);
      u64(ph + 16, BASE + offset);
      u64(ph + 24, BASE + offset);
      u64(ph + 32, size);
      u64(ph + 40, size);
      u64(ph + 48, 8);
    } else {
      u32(ph + 4, offset);
      u32(ph + 8, BASE + offset);
      u32(ph + 12, BASE + offset);
      u32(ph + 16, size);
      u32(ph + 20, size);
      u32(ph + 24, 5);
      u32(ph + 28, 4);
    }
    ph += phentsize;
  };
  phdr(1, 0, total); // PT_LOAD
  if (spec.interpreter !== undefined) phdr(3, interpOffset, interp.length); // PT_INTERP
  if (dynamic) phdr(2, dynOffset, dynSize); // PT_DYNAMIC

  interp.copy(buf, interpOffset);
  strtab.copy(buf, strtabOffset);
  dynEntries.forEach(([tag, value], i) => {
    const o = dynOffset + i * (is64 ? 16 : 8);
    word(o, tag);
    word(o + (is64 ? 8 : 4), value);
  });
  return buf;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
