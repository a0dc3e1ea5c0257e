/**
 * The ELF reader on crafted files (every class, endianness and machine dpk cares about) and on the host's /bin/ls.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EM, ElfError, isElf, machineName, readElf } from '../src/elf.js';
import { makeElf } from './elf-fixture.js';

const reader = (buf: Buffer) => async (length: number) => buf.subarray(0, length);

test('a static aarch64 executable: machine, class, no interpreter, no libraries', async () => {
  const info = await readElf(reader(makeElf({ machine: EM.AARCH64 })), 1 << 20);
  assert.equal(info.class, 64);
  assert.equal(info.endianness, 'little');
  assert.equal(info.machine, EM.AARCH64);
  assert.equal(machineName(info), 'arm64 (aarch64)');
  assert.equal(info.interpreter, undefined);
  assert.deepEqual(info.needed, []);
});

test('a dynamic x86-64 executable: PT_INTERP, DT_NEEDED in order, DT_RUNPATH split on ":"', async () => {
  const elf = makeElf({ machine: EM.X86_64, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libfoo.so.1', 'libc.so.6'], runpath: '$ORIGIN/../lib:/opt/lib' });
  const info = await readElf(reader(elf), 1 << 20);
  assert.equal(info.interpreter, '/lib64/ld-linux-x86-64.so.2');
  assert.deepEqual(info.needed, ['libfoo.so.1', 'libc.so.6']);
  assert.deepEqual(info.runpath, ['$ORIGIN/../lib', '/opt/lib']);
  assert.deepEqual(info.rpath, []);
  assert.equal(info.type, 3);
});

test('32-bit little-endian ARM and 64-bit big-endian s390x', async () => {
  const arm = await readElf(reader(makeElf({ class: 32, machine: EM.ARM, interpreter: '/lib/ld-linux-armhf.so.3', needed: ['libc.so.6'], rpath: '/usr/lib/arm' })), 1 << 20);
  assert.deepEqual([arm.class, arm.endianness, arm.machine, arm.interpreter, arm.needed, arm.rpath], [32, 'little', EM.ARM, '/lib/ld-linux-armhf.so.3', ['libc.so.6'], ['/usr/lib/arm']]);
  assert.equal(machineName(arm), 'arm (32-bit)');
  const s390 = await readElf(reader(makeElf({ endianness: 'big', machine: EM.S390, interpreter: '/lib/ld64.so.1', needed: ['libc.so.6'] })), 1 << 20);
  assert.deepEqual([s390.class, s390.endianness, s390.interpreter, s390.needed], [64, 'big', '/lib/ld64.so.1', ['libc.so.6']]);
  assert.equal(machineName(s390), 's390x');
});

test("the host's /bin/ls is read like ldd reads it", { skip: process.arch !== 'x64' && 'the expectations are for an amd64 host' }, async () => {
  const ls = await readFile('/bin/ls');
  const info = await readElf(reader(ls), 64 << 20);
  assert.equal(info.machine, EM.X86_64);
  assert.equal(info.class, 64);
  assert.match(info.interpreter ?? '', /^\/lib(64)?\/ld-linux-x86-64\.so\.2$/);
  assert.ok(info.needed.includes('libc.so.6'), JSON.stringify(info.needed));
});

test('damaged and foreign files are ElfErrors, not crashes', async () => {
  const good = makeElf({ machine: EM.X86_64, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6'] });
  await assert.rejects(readElf(reader(Buffer.from('#!/bin/sh\n')), 1 << 20), ElfError);
  await assert.rejects(readElf(reader(good.subarray(0, 40)), 1 << 20), /truncated ELF header/);
  await assert.rejects(readElf(reader(good.subarray(0, 100)), 1 << 20), /truncated/);
  const badClass = Buffer.from(good);
  badClass[4] = 7;
  await assert.rejects(readElf(reader(badClass), 1 << 20), /invalid ELF class/);
  const hugePhnum = Buffer.from(good);
  hugePhnum.writeUInt16LE(0xffff, 56);
  await assert.rejects(readElf(reader(hugePhnum), 1 << 20), /too many program headers/);
  const hugeOffset = Buffer.from(good);
  hugeOffset.writeBigUInt64LE(0xffffffffffffn, 32);
  const unread = await readElf(reader(hugeOffset), 1 << 20);
  assert.equal(unread.dynamicUnread, true, 'program headers beyond the read limit are reported unread, not guessed');
});

test('a dynamic section beyond the read limit is reported unread', async () => {
  const elf = makeElf({ machine: EM.X86_64, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6'] });
  // 64-byte header + 3 program headers + the 28-byte interpreter path end at 260; the dynamic section starts at 272.
  const info = await readElf(reader(elf), 265);
  assert.equal(info.interpreter, '/lib64/ld-linux-x86-64.so.2');
  assert.equal(info.dynamicUnread, true);
  assert.deepEqual(info.needed, []);
});

test('the reader asks only for the bytes it needs', async () => {
  const elf = makeElf({ machine: EM.X86_64, needed: ['libc.so.6'] });
  const asked: number[] = [];
  await readElf(async (n) => {
    asked.push(n);
    return elf.subarray(0, n);
  }, 1 << 20);
  assert.ok(asked.every((n) => n <= 4096), JSON.stringify(asked));
  assert.ok(isElf(elf));
});
