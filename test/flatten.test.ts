import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenImage, normaliseEntryName } from '../src/image/flatten.js';
import { dir, file, hardlink, listTar, memorySource, opaque, rawHeader, symlink, tarOf, whiteout, type ListedEntry } from './helpers/layers.js';
import { END_OF_ARCHIVE } from '../src/image/tar.js';

async function flat(layers: Buffer[]) {
  const image = await flattenImage(memorySource(layers));
  const listed = await listTar(image.stream());
  return { image, listed, byName: new Map(listed.map((e) => [e.name, e])) };
}

function names(listed: ListedEntry[]): string[] {
  return listed.map((e) => e.name).sort();
}

test('layers merge: a later layer adds, replaces, and whites out', async () => {
  const { listed, byName } = await flat([
    tarOf([dir('a/'), file('a/x', 'x1'), file('b', 'b1'), file('c', 'c1')]),
    tarOf([dir('a/'), file('a/y', 'y2'), whiteout('b'), file('c', 'c2')]),
  ]);
  assert.deepEqual(names(listed), ['a/', 'a/x', 'a/y', 'c']);
  assert.equal(byName.get('c')?.content, 'c2');
  assert.equal(byName.get('a/x')?.content, 'x1');
});

test('an opaque directory hides everything lower layers had in it, but not its own layer', async () => {
  const { listed } = await flat([
    tarOf([dir('d/'), file('d/old'), dir('d/sub/'), file('d/sub/deep'), file('keep')]),
    tarOf([dir('d/'), opaque('d'), file('d/new')]),
  ]);
  assert.deepEqual(names(listed), ['d/', 'd/new', 'keep']);
});

test('a whiteout hides lower layers only: the same layer may recreate the path', async () => {
  const { listed, byName } = await flat([
    tarOf([dir('etc/'), dir('etc/conf/'), file('etc/conf/a', 'old')]),
    tarOf([whiteout('etc/conf'), dir('etc/conf/'), file('etc/conf/b', 'new')]),
  ]);
  assert.deepEqual(names(listed), ['etc/', 'etc/conf/', 'etc/conf/b']);
  assert.equal(byName.get('etc/conf/b')?.content, 'new');
});

test('a whiteout of a directory removes its whole subtree; a file replaces a directory and its children', async () => {
  const { listed, byName } = await flat([
    tarOf([dir('gone/'), dir('gone/sub/'), file('gone/sub/f'), dir('tofile/'), file('tofile/inner')]),
    tarOf([whiteout('gone'), file('tofile', 'now a file')]),
  ]);
  assert.deepEqual(names(listed), ['tofile']);
  assert.equal(byName.get('tofile')?.type, 'file');
});

test('within a layer the later duplicate entry wins', async () => {
  const { listed, byName } = await flat([tarOf([file('f', 'first'), file('f', 'second'), dir('d/', { mode: 0o700 }), dir('d/', { mode: 0o750 })])]);
  assert.deepEqual(names(listed), ['d/', 'f']);
  assert.equal(byName.get('f')?.content, 'second');
  assert.equal(byName.get('d/')?.mode, 0o750);
});

test('the topmost directory header decides mode and owner; missing parents are made 0755 root', async () => {
  const { listed, byName, image } = await flat([
    tarOf([dir('srv/', { mode: 0o700, uid: 5 })]),
    tarOf([dir('srv/', { mode: 0o1777, uid: 7, gid: 8 }), file('implicit/parent/file', 'x')]),
  ]);
  assert.deepEqual(names(listed), ['implicit/', 'implicit/parent/', 'implicit/parent/file', 'srv/']);
  assert.equal(byName.get('srv/')?.mode, 0o1777);
  assert.equal(byName.get('srv/')?.uid, 7);
  assert.equal(byName.get('implicit/')?.mode, 0o755);
  assert.equal(image.rootfs.entries.get('implicit/parent')?.type, 'dir');
  // Directories come first, parents before children.
  assert.deepEqual(listed.slice(0, 3).map((e) => e.name), ['implicit/', 'implicit/parent/', 'srv/']);
});

test('names are normalised: ./, leading /, doubled slashes and inner .. that stays inside', async () => {
  const { listed } = await flat([tarOf([dir('./'), dir('./usr/'), file('/usr//bin/../lib/x', 'x'), file('./a/./b')])]);
  assert.deepEqual(names(listed), ['a/', 'a/b', 'usr/', 'usr/lib/', 'usr/lib/x']);
  assert.equal(normaliseEntryName('../etc/passwd'), undefined);
  assert.equal(normaliseEntryName('/../x'), undefined);
  assert.equal(normaliseEntryName('a/../../x'), undefined);
  assert.equal(normaliseEntryName('/a/b/'), 'a/b');
});

test('an entry whose name leaves the root is refused, naming the layer and the entry', async () => {
  await assert.rejects(flattenImage(memorySource([tarOf([file('ok')]), tarOf([file('../../etc/cron.d/evil', 'x')])])), (error: Error) => {
    assert.match(error.message, /layer 2\/2, entry "\.\.\/\.\.\/etc\/cron\.d\/evil": the name leaves the image root/);
    return true;
  });
});

test('a whiteout naming .. is refused', async () => {
  await assert.rejects(flattenImage(memorySource([tarOf([dir('a/'), file('a/.wh...')])])), /layer 1\/1, entry "a\/\.wh\.\.\.": a whiteout cannot name "\.\."/);
});

test('symlinks, devices, fifos, modes, setuid bits, ownership and xattrs are kept', async () => {
  const { byName, image } = await flat([
    tarOf([
      dir('bin/'),
      file('bin/su', 'ELF', { mode: 0o4755, uid: 0, gid: 0 }),
      file('bin/wall', 'x', { mode: 0o2755, gid: 5 }),
      file('bin/ping', 'p', { mode: 0o755, xattrs: { 'security.capability': '\x01\x00\x00\x02\x00\x20\x00\x00' } }),
      symlink('bin/sh', 'busybox'),
      symlink('etc-link', '/etc'),
      symlink('climb', '../../../../etc/shadow'),
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600, uid: 1000, gid: 1000 },
    ]),
  ]);
  assert.equal(byName.get('bin/su')?.mode, 0o4755);
  assert.equal(byName.get('bin/wall')?.mode, 0o2755);
  assert.equal(byName.get('bin/wall')?.gid, 5);
  assert.equal(byName.get('bin/sh')?.linkname, 'busybox');
  assert.equal(byName.get('etc-link')?.linkname, '/etc', 'absolute symlinks keep pointing where they pointed');
  assert.equal(byName.get('climb')?.linkname, '../../../../etc/shadow', 'a symlink is only text: kept, never followed');
  assert.equal(byName.get('dev/null')?.type, 'char');
  assert.equal(byName.get('dev/loop0')?.type, 'block');
  assert.equal(byName.get('run/fifo')?.uid, 1000);
  assert.equal(image.rootfs.entries.get('run/fifo')?.type, 'fifo');
  // xattrs (file capabilities) survive the round trip
  let xattrs: Record<string, string> | undefined;
  const { readTar } = await import('../src/image/tar.js');
  for await (const e of readTar(image.stream())) if (e.header.name === 'bin/ping') xattrs = e.header.xattrs;
  assert.equal(xattrs?.['security.capability'], '\x01\x00\x00\x02\x00\x20\x00\x00');
});

test('hard links within a layer stay links to the surviving name', async () => {
  const { byName, image } = await flat([tarOf([dir('bin/'), file('bin/busybox', 'BB', { mode: 0o755 }), hardlink('bin/ls', 'bin/busybox'), hardlink('bin/cat', '/bin/ls')])]);
  assert.equal(byName.get('bin/ls')?.type, 'hardlink');
  assert.equal(byName.get('bin/ls')?.linkname, 'bin/busybox');
  assert.equal(byName.get('bin/cat')?.linkname, 'bin/busybox', 'a link to a link resolves to the content');
  assert.equal((await image.rootfs.readFile('bin/cat', 10))?.toString(), 'BB');
  assert.equal(image.stats.hardlinks, 2);
});

test('a hard link whose target was deleted later becomes the file, and other links follow it', async () => {
  const { listed, byName } = await flat([
    tarOf([file('orig', 'content', { mode: 0o700 }), hardlink('l1', 'orig'), hardlink('l2', 'orig')]),
    tarOf([whiteout('orig')]),
  ]);
  assert.deepEqual(names(listed), ['l1', 'l2']);
  assert.equal(byName.get('l1')?.type, 'file');
  assert.equal(byName.get('l1')?.content, 'content');
  assert.equal(byName.get('l1')?.mode, 0o700);
  assert.equal(byName.get('l2')?.type, 'hardlink');
  assert.equal(byName.get('l2')?.linkname, 'l1');
  // the file's content comes before any link to it
  assert.ok(listed.findIndex((e) => e.name === 'l1') < listed.findIndex((e) => e.name === 'l2'));
});

test('a hard link takes the content its target had when it was written, even if replaced later in the layer', async () => {
  const { byName } = await flat([tarOf([file('a', 'one'), hardlink('b', 'a'), file('a', 'two')])]);
  assert.equal(byName.get('a')?.content, 'two');
  assert.equal(byName.get('b')?.type, 'file');
  assert.equal(byName.get('b')?.content, 'one');
});

test('a hard link across layers resolves to the lower layer file', async () => {
  const { byName } = await flat([tarOf([file('lib/a.so', 'SO')]), tarOf([hardlink('lib/b.so', 'lib/a.so')])]);
  assert.equal(byName.get('lib/b.so')?.type, 'hardlink');
  assert.equal(byName.get('lib/b.so')?.linkname, 'lib/a.so');
});

test('hard links that leave the root, point at later entries, at nothing or at directories are refused', async () => {
  await assert.rejects(flattenImage(memorySource([tarOf([hardlink('x', '../../etc/shadow')])])), /layer 1\/1, entry "x": hard link target "\.\.\/\.\.\/etc\/shadow" leaves the image root/);
  await assert.rejects(flattenImage(memorySource([tarOf([hardlink('x', '/etc/shadow')])])), /entry "x": hard link to "\/etc\/shadow", which is not in the image/);
  await assert.rejects(flattenImage(memorySource([tarOf([hardlink('x', 'later'), file('later')])])), /entry "x": hard link to "later", which is not in the image at that point/);
  await assert.rejects(flattenImage(memorySource([tarOf([dir('d/'), hardlink('x', 'd')])])), /which is a directory/);
  await assert.rejects(flattenImage(memorySource([tarOf([file('f')]), tarOf([whiteout('f')]), tarOf([hardlink('x', 'f')])])), /layer 3\/3, entry "x": hard link to "f", which is not in the image/);
});

test('an entry written through a symlink is refused (same layer and across layers)', async () => {
  await assert.rejects(flattenImage(memorySource([tarOf([symlink('evil', '/etc'), file('evil/passwd', 'root::0:0')])])), (error: Error) => {
    assert.match(error.message, /layer 1\/1, entry "evil\/passwd": it is written inside "evil", which this layer makes a symlink/);
    return true;
  });
  await assert.rejects(flattenImage(memorySource([tarOf([symlink('bin', 'usr/bin')]), tarOf([file('bin/tool')])])), /layer 2\/2, entry "bin\/tool": it is written inside "bin", which layer 1\/2 makes a symlink/);
  // Replacing the symlink by a real directory first is fine.
  const { byName } = await flat([tarOf([symlink('bin', 'usr/bin')]), tarOf([dir('bin/'), file('bin/tool')])]);
  assert.equal(byName.get('bin/')?.type, 'dir');
  // And a symlink written after the directory replaces it with everything in it.
  const later = await flat([tarOf([dir('x/'), file('x/f'), symlink('x', '/tmp')])]);
  assert.deepEqual(names(later.listed), ['x']);
});

test('long and non-ASCII names survive, and system tar reads the output', async () => {
  const long = `${'deep/'.repeat(40)}file-with-a-long-name.txt`;
  const { byName, image } = await flat([tarOf([file(long, 'L'), file('ünïcødé/文件', 'U'), symlink('ln', `/${'t'.repeat(150)}`)])]);
  assert.equal(byName.get(long)?.content, 'L');
  assert.equal(byName.get('ünïcødé/文件')?.content, 'U');
  assert.equal(byName.get('ln')?.linkname, `/${'t'.repeat(150)}`);
  const tmp = await mkdtemp(join(tmpdir(), 'dpk-flatten-'));
  try {
    const chunks: Buffer[] = [];
    for await (const c of image.stream()) chunks.push(c);
    await writeFile(join(tmp, 'out.tar'), Buffer.concat(chunks));
    const listing = await execa('tar', ['-tf', join(tmp, 'out.tar')]);
    assert.ok(listing.stdout.split('\n').includes(long));
    assert.ok(listing.stdout.split('\n').includes('ünïcødé/文件'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('names that are not UTF-8 or hold NUL, sparse files and unknown types are refused', async () => {
  const bad = Buffer.concat([rawHeader({ name: Buffer.from([0x61, 0xff, 0xfe]) }), END_OF_ARCHIVE]);
  await assert.rejects(flattenImage(memorySource([bad])), /layer 1\/1, entry "a\\xff\\xfe": entry name is not valid UTF-8/);
  const sparse = Buffer.concat([rawHeader({ name: 'sparse', typeflag: 'S' }), END_OF_ARCHIVE]);
  await assert.rejects(flattenImage(memorySource([sparse])), /entry "sparse": unsupported tar entry \(GNU sparse file\)/);
  const weird = Buffer.concat([rawHeader({ name: 'w', typeflag: 'Z' }), END_OF_ARCHIVE]);
  await assert.rejects(flattenImage(memorySource([weird])), /entry "w": unsupported tar entry/);
});

test('a truncated layer and a layer that is not a tar are errors naming the layer', async () => {
  const full = tarOf([file('big', 'x'.repeat(5000))]);
  await assert.rejects(flattenImage(memorySource([tarOf([file('a')]), full.subarray(0, 2000)])), /layer 2\/2, entry "big": archive is truncated/);
  await assert.rejects(flattenImage(memorySource([Buffer.from('this is not a tar archive at all'.repeat(20))])), /layer 1\/1: .*checksum/);
});

test('a PAX header that claims more content than the layer holds is a truncation error', async () => {
  const pax = Buffer.from('16 size=9999999\n');
  const lying = Buffer.concat([rawHeader({ name: 'PaxHeader', typeflag: 'x', size: pax.length }), pax, Buffer.alloc(512 - pax.length), rawHeader({ name: 'f', size: 3 }), Buffer.from('abc'), Buffer.alloc(509), END_OF_ARCHIVE]);
  await assert.rejects(flattenImage(memorySource([lying])), /entry "f": archive is truncated/);
});

test('readFile gives heads from the plan, re-reads the layer for more, and never follows symlinks', async () => {
  const big = Buffer.alloc(10000, 0x41);
  big.write('#!/bin/sh\n', 0);
  const source = memorySource([tarOf([file('entry.sh', big, { mode: 0o755 }), file('data.bin', 'DATA', { mode: 0o644 }), symlink('link', 'entry.sh')])]);
  const image = await flattenImage(source);
  assert.equal(source.opened[0], 1);
  assert.equal((await image.rootfs.readFile('entry.sh', 10))?.toString(), '#!/bin/sh\n');
  assert.equal(source.opened[0], 1, 'the head was kept from the plan pass');
  assert.equal((await image.rootfs.readFile('entry.sh', 20000))?.length, 10000);
  assert.equal((await image.rootfs.readFile('data.bin', 100))?.toString(), 'DATA');
  assert.equal(await image.rootfs.readFile('link', 10), undefined, 'a symlink is not a regular file');
  assert.equal(await image.rootfs.readFile('missing', 10), undefined);
  assert.equal(image.stats.files, 2);
  assert.equal(image.stats.bytes, 10004);
});

test('the stream can be taken twice and with a prefix, hard links prefixed too', async () => {
  const image = await flattenImage(memorySource([tarOf([file('a', 'A'), hardlink('b', 'a')])]));
  const plain = await listTar(image.stream());
  const prefixed = await listTar(image.stream({ prefix: 'rootfs/' }));
  assert.deepEqual(plain.map((e) => e.name), ['a', 'b']);
  assert.deepEqual(prefixed.map((e) => e.name), ['rootfs/', 'rootfs/a', 'rootfs/b']);
  assert.equal(prefixed[2]?.linkname, 'rootfs/a');
});

test('memory stays bounded: a layer of many entries and big content streams through', async () => {
  const entries = [];
  for (let i = 0; i < 20000; i++) entries.push(file(`d${i % 100}/f${i}`, 'x'));
  const image = await flattenImage(memorySource([tarOf(entries)]));
  assert.equal(image.stats.files, 20000);
  assert.equal(image.stats.dirs, 100);
  await assert.rejects(flattenImage(memorySource([tarOf(entries)]), { maxEntries: 1000 }), /more than 1000 entries/);
});

test('very deep directories flatten; names longer than PATH_MAX are refused', async () => {
  const deep = `${'d/'.repeat(1500)}leaf`;
  const { image } = await flat([tarOf([file(deep, 'x')])]);
  assert.equal(image.stats.dirs, 1500);
  assert.equal(image.rootfs.entries.get(deep)?.type, 'file');
  const tooLong = `${'d/'.repeat(2100)}leaf`;
  await assert.rejects(flattenImage(memorySource([tarOf([file(tooLong, 'x')])])), /layer 1\/1, entry "d\/d\/.*": entry name is longer than 4096 bytes/);
});

test('a plain rootfs tar file is indexed as a one-layer image', async () => {
  const { indexRootfsTar } = await import('../src/rootfs/tar-index.js');
  const tmp = await mkdtemp(join(tmpdir(), 'dpk-tar-index-'));
  try {
    await writeFile(join(tmp, 'rootfs.tar'), tarOf([dir('./'), dir('./bin/'), file('./bin/tool', '#!/bin/sh\n', { mode: 0o755 }), symlink('./sh', 'bin/tool')]));
    const index = await indexRootfsTar(join(tmp, 'rootfs.tar'));
    assert.deepEqual([...index.entries.keys()].sort(), ['', 'bin', 'bin/tool', 'sh']);
    assert.equal((await index.readFile('bin/tool', 2))?.toString(), '#!');
    assert.equal(index.stats.files, 1);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
