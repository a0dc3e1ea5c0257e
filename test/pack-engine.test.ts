/**
 * dpk pack against a real engine (started by the test): layered images built with `docker build` (RUN rm, rm -rf +
 * mkdir = opaque directory, hard links, setuid, chown, fifo), FROM scratch and by `docker import`. The plugin's
 * rootfs under the engine's data-root must equal `docker export` of a container of the image, less what the engine
 * adds. A real Go plugin is packed, enabled and answers on its socket; broken ones are refused before the engine.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { importBusyboxImage, skipWithoutEngine, startEngine, type Engine } from './helpers/engine.js';
import { readTar } from '../src/image/tar.js';
import { normaliseEntryName } from '../src/image/flatten.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/dpk.js', import.meta.url));
const skip = await skipWithoutEngine();

let engine: Engine;
let work: string;
/** dpk's own TMPDIR, checked empty after every run: no stray temporary copy. */
let dpkTmp: string;
let pluginBinary: string;
let armBinary: string;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(built), 'dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(join(tmpdir(), 'dpk-pack-test-'));
  dpkTmp = join(work, 'dpk-tmp');
  await mkdir(dpkTmp);
  engine = await startEngine();
  await importBusyboxImage(engine, 'dpk-test/busybox:latest');
  pluginBinary = await buildGoPlugin('amd64');
  armBinary = await buildGoPlugin('arm64');
});

after(async () => {
  if (skip) return;
  await engine?.destroy();
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dpk(args: string[], cwd = work): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...engine.env, TMPDIR: dpkTmp, NO_COLOR: '1', DPK_DEBUG: '' }, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function assertNoStrays(): Promise<void> {
  assert.deepEqual(await readdir(dpkTmp), [], 'dpk left something in its temporary directory');
  const containers = await engine.docker(['ps', '-aq']);
  assert.equal(containers.stdout.trim(), '', 'a container was left behind');
}

async function dockerOk(args: string[], options: Parameters<Engine['docker']>[1] = {}): Promise<string> {
  const r = await engine.docker(args, options);
  assert.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function build(tag: string, dockerfile: string, files: Record<string, string | Buffer> = {}): Promise<void> {
  const ctx = await mkdtemp(join(work, 'ctx-'));
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(ctx, name, '..'), { recursive: true });
    await writeFile(join(ctx, name), content, { mode: 0o755 });
  }
  // The legacy builder runs RUN steps in containers with no network (the test engine has no bridge).
  await dockerOk(['build', '--network', 'none', '-q', '-t', tag, ctx], { env: { ...engine.env, DOCKER_BUILDKIT: '0' } });
  await rm(ctx, { recursive: true, force: true });
}

const PLUGIN_GO = `package main

import (
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	socket := flag.String("socket", "/run/docker/plugins/dpk.sock", "socket path")
	flag.Parse()
	os.MkdirAll(filepath.Dir(*socket), 0o755)
	os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
		w.Write([]byte("{\\"Implements\\":[\\"VolumeDriver\\"]}"))
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{\\"Err\\":\\"\\"}"))
	})
	panic(http.Serve(l, nil))
}
`;

async function buildGoPlugin(goarch: string): Promise<string> {
  const dir = join(work, `go-${goarch}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'main.go'), PLUGIN_GO);
  const out = join(dir, 'plugin');
  await execa('go', ['build', '-o', out, 'main.go'], {
    cwd: dir,
    env: { CGO_ENABLED: '0', GOOS: 'linux', GOARCH: goarch, GOFLAGS: '-mod=mod', GO111MODULE: 'off', GOCACHE: join(tmpdir(), 'dpk-test-gocache') },
  });
  return out;
}

const pluginConfig = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    Description: 'dpk test volume plugin',
    Documentation: 'https://example.invalid',
    Entrypoint: ['/plugin', '-socket', '/run/docker/plugins/dpk.sock'],
    Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'dpk.sock' },
    PropagatedMount: '/data',
    Mounts: [],
    Linux: { Capabilities: [] },
    ...extra,
  });

/** What a filesystem holds, as comparable lines: path type mode uid:gid and content digest or link target. */
type Listing = Map<string, string>;
// What the engine puts into every container's filesystem (its init layer), not the image's.
const ENGINE_ADDS = ['.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', 'dev', 'proc', 'sys'];
const engineAdded = (path: string) => ENGINE_ADDS.some((p) => path === p || path.startsWith(`${p}/`));

async function exportListing(image: string): Promise<Listing> {
  const id = (await dockerOk(['create', image, '/bin/sh'])).trim();
  try {
    const child = spawn('docker', ['export', id], { env: engine.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const listing: Listing = new Map();
    const contents = new Map<string, string>();
    const links: [string, string][] = [];
    for await (const entry of readTar(child.stdout!)) {
      const h = entry.header;
      const path = normaliseEntryName(h.name)!;
      if (path === '' || engineAdded(path)) continue;
      let detail = '';
      if (h.type === 'file') {
        const hash = createHash('sha256');
        for await (const chunk of entry.body()) hash.update(chunk);
        detail = hash.digest('hex').slice(0, 16);
        contents.set(path, detail);
      } else if (h.type === 'symlink') detail = `-> ${h.linkname}`;
      else if (h.type === 'hardlink') links.push([path, normaliseEntryName(h.linkname)!]);
      const type = h.type === 'hardlink' ? 'file' : h.type;
      listing.set(path, `${type} ${(h.mode & 0o7777).toString(8)} ${h.uid}:${h.gid} ${detail}`);
    }
    for (const [path, target] of links) listing.set(path, `${listing.get(path)}${contents.get(target)}`);
    return listing;
  } finally {
    await dockerOk(['rm', '-f', id]);
  }
}

async function dirListing(root: string): Promise<Listing> {
  const listing: Listing = new Map();
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (engineAdded(path)) continue;
      const full = join(root, path);
      const info = await lstat(full);
      const mode = (info.mode & 0o7777).toString(8);
      const owner = `${info.uid}:${info.gid}`;
      if (info.isDirectory()) {
        listing.set(path, `dir ${mode} ${owner} `);
        await walk(path);
      } else if (info.isSymbolicLink()) listing.set(path, `symlink ${mode} ${owner} -> ${await readlink(full)}`);
      else if (info.isFile()) listing.set(path, `file ${mode} ${owner} ${createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16)}`);
      else if (info.isFIFO()) listing.set(path, `fifo ${mode} ${owner} `);
      else if (info.isCharacterDevice()) listing.set(path, `char ${mode} ${owner} `);
      else if (info.isBlockDevice()) listing.set(path, `block ${mode} ${owner} `);
    }
  };
  await walk('');
  return listing;
}

async function pluginRootfs(name: string): Promise<string> {
  const id = (await dockerOk(['plugin', 'inspect', '--format', '{{.Id}}', name])).trim();
  return join(engine.dataRoot, 'plugins', id, 'rootfs');
}

function sorted(listing: Listing): string[] {
  return [...listing].map(([p, d]) => `${p} ${d}`).sort();
}

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

test('a layered image with deletions, opaque directories, hard links, setuid and owners becomes exactly its filesystem', { skip }, async () => {
  await build(
    'dpk-test/layered:1',
    [
      'FROM dpk-test/busybox:latest',
      'RUN mkdir -p /opt/keep /opt/drop /data/sub /srv && echo a > /opt/keep/a && echo b > /opt/drop/b && echo c > /data/sub/c && echo old > /data/old',
      'RUN ln /opt/keep/a /opt/keep/hard && ln -s /opt/keep/a /opt/sym && ln -s ../../nowhere /opt/dangling && chmod 4755 /opt/keep/a && chown -R 1000:1001 /srv && busybox mkfifo /srv/fifo && chmod 1777 /srv',
      'RUN rm -rf /opt/drop /data/sub/c && rm /bin/wget',
      'RUN rm -rf /data && mkdir -p /data/new && echo n > /data/new/n && chmod 0700 /data',
      'COPY plugin /plugin',
    ].join('\n'),
    { plugin: await readFile(pluginBinary) },
  );
  const config = await writeConfig('layered.json', pluginConfig());
  const run = await dpk(['pack', '--image', 'dpk-test/layered:1', '--config', config, '--name', 'dpk-test/layered:1', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.name, 'dpk-test/layered:1');
  assert.match(result.digests.config, /^sha256:[0-9a-f]{64}$/);
  assert.match(result.digests.rootfsLayer, /^sha256:[0-9a-f]{64}$/);
  assert.equal(result.plugin.enabled, false);

  const expected = await exportListing('dpk-test/layered:1');
  const actual = await dirListing(await pluginRootfs('dpk-test/layered:1'));
  assert.deepEqual(sorted(actual), sorted(expected));
  // The things this image is about, spelled out.
  assert.ok(!actual.has('opt/drop') && !actual.has('data/sub') && !actual.has('data/old') && !actual.has('bin/wget'));
  assert.match(actual.get('data')!, /^dir 700 /);
  assert.match(actual.get('opt/keep/a')!, /^file 4755 0:0 /);
  assert.match(actual.get('srv/fifo')!, /^fifo .* 0:0|^fifo /);
  assert.match(actual.get('srv')!, /^dir 1777 1000:1001 /);
  assert.equal(actual.get('opt/dangling'), 'symlink 777 0:0 -> ../../nowhere');
  const hard = await lstat(join(await pluginRootfs('dpk-test/layered:1'), 'opt/keep/hard'));
  assert.equal(hard.nlink, 2, 'the hard link is still a hard link');
  await assertNoStrays();
  await dockerOk(['plugin', 'rm', 'dpk-test/layered:1']);
});

test('images built FROM scratch and by docker import are packed exactly', { skip }, async () => {
  await build('dpk-test/scratch:1', ['FROM scratch', 'COPY plugin /plugin', 'COPY etc/ /etc/'].join('\n'), { plugin: await readFile(pluginBinary), 'etc/motd': 'hello\n' });
  const config = await writeConfig('scratch.json', pluginConfig());
  const run = await dpk(['pack', '--image', 'dpk-test/scratch:1', '--config', config, '--name', 'dpk-test/scratch:1']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^packed dpk-test\/scratch:1 from image dpk-test\/scratch:1\n/);
  assert.match(run.stdout, /rootfs layer: sha256:/);
  assert.deepEqual(sorted(await dirListing(await pluginRootfs('dpk-test/scratch:1'))), sorted(await exportListing('dpk-test/scratch:1')));

  const rootfs = join(work, 'imported');
  await mkdir(join(rootfs, 'usr/bin'), { recursive: true });
  await mkdir(join(rootfs, 'etc')); // else the engine adds one to the container, and the export would differ by it
  await writeFile(join(rootfs, 'plugin'), await readFile(pluginBinary), { mode: 0o755 });
  await writeFile(join(rootfs, 'usr/bin/tool'), 'x', { mode: 0o2711 });
  const tar = execa('tar', ['--numeric-owner', '--owner=7', '--group=8', '-C', rootfs, '-c', '.'], { buffer: false });
  const imp = execa('docker', ['import', '-', 'dpk-test/imported:1'], { env: engine.env, stdin: 'pipe' });
  tar.stdout!.pipe(imp.stdin!);
  await Promise.all([tar, imp]);
  const run2 = await dpk(['pack', '--image', 'dpk-test/imported:1', '--config', config, '--name', 'dpk-test/imported:1']);
  assert.equal(run2.code, 0, run2.stderr);
  const actual = await dirListing(await pluginRootfs('dpk-test/imported:1'));
  assert.deepEqual(sorted(actual), sorted(await exportListing('dpk-test/imported:1')));
  assert.match(actual.get('usr/bin/tool')!, /^file 2711 7:8 /);
  await assertNoStrays();
});

function post(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

test('a packed Go plugin is enabled and answers on its socket; --force replaces it, identical content included', { skip }, async () => {
  try {
    await build('dpk-test/goplugin:1', ['FROM scratch', 'COPY plugin /plugin'].join('\n'), { plugin: await readFile(pluginBinary) });
    const config = await writeConfig('go.json', pluginConfig());
    const run = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/goplugin:1', '--enable']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /created, enabled/);
    const id = (await dockerOk(['plugin', 'inspect', '--format', '{{.Id}}', 'dpk-test/goplugin:1'])).trim();
    // The engine keeps plugin sockets under /run/docker/plugins/<id>, whatever its exec-root.
    const answer = await post(join('/run/docker/plugins', id, 'dpk.sock'), '/Plugin.Activate');
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { Implements: ['VolumeDriver'] });

    // Same name again: refused without --force, replaced with it (byte-identical content: no "already exists").
    const again = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/goplugin:1']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /plugin dpk-test\/goplugin:1 is already installed and enabled/);
    const forced = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/goplugin:1', '--force', '--enable', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(forced.stdout).plugin.replaced, true);
    // Identical content under a second name while the first is installed.
    const twin = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/twin:1']);
    assert.equal(twin.code, 0, twin.stderr);
    // --force over a working plugin with a config whose mount source is missing on the host: the new one does not
    // enable and is removed, and the error says the old one is gone too and what to do about the mount.
    const missingSource = await writeConfig('missing-source.json', pluginConfig({ Mounts: [{ Name: 'state', Source: '/nonexistent-dpk-source', Destination: '/state', Type: 'bind', Options: ['rbind'] }] }));
    const lost = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', missingSource, '--name', 'dpk-test/goplugin:1', '--force', '--enable']);
    assert.equal(lost.code, 1, lost.stderr);
    assert.match(lost.stderr, /does not enable: .*; it was removed again, and the previous dpk-test\/goplugin:1 had already been removed by --force/);
    assert.match(lost.stderr, /hint: the mount source \/nonexistent-dpk-source does not exist on the engine's host/);
    assert.equal((await engine.docker(['plugin', 'inspect', 'dpk-test/goplugin:1'])).exitCode, 1);
    assert.equal((await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/goplugin:1', '--enable'])).code, 0);
    // And many quick repacks in a row, racing the engine's background blob GC.
    for (let i = 0; i < 3; i++) {
      const r = await dpk(['pack', '--image', 'dpk-test/goplugin:1', '--config', config, '--name', 'dpk-test/twin:1', '--force']);
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await engine.docker(['plugin', 'rm', '-f', 'dpk-test/goplugin:1']);
    await engine.docker(['plugin', 'rm', '-f', 'dpk-test/twin:1']);
  }
  await assertNoStrays();
});

test('broken plugins are refused before the engine is called: missing entrypoint, wrong arch, socket mismatch', { skip }, async () => {
  await build('dpk-test/arm:1', ['FROM scratch', 'COPY plugin /plugin'].join('\n'), { plugin: await readFile(armBinary) });
  const cases: [string, string, string, RegExp][] = [
    ['missing entrypoint', 'dpk-test/goplugin:1', pluginConfig({ Entrypoint: ['/not-there'] }), /Entrypoint.*not-there/],
    ['wrong arch', 'dpk-test/arm:1', pluginConfig(), /built for .*(aarch64|arm64).*targets amd64/i],
    ['socket mismatch', 'dpk-test/goplugin:1', pluginConfig({ Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'other.sock' } }), /socket-mismatch/],
  ];
  for (const [what, image, text, pattern] of cases) {
    const config = await writeConfig('broken.json', text);
    const run = await dpk(['pack', '--image', image, '--config', config, '--name', 'dpk-test/broken:1', '--enable']);
    assert.equal(run.code, 1, `${what}: ${run.stderr}`);
    assert.match(run.stderr, pattern, what);
    assert.match(run.stderr, /nothing was created/, what);
    assert.equal((await engine.docker(['plugin', 'inspect', 'dpk-test/broken:1'])).exitCode, 1, `${what}: a plugin was created`);
    await assertNoStrays();
  }
});

test('--output writes an artifact `docker plugin create` accepts, from a docker save archive with no engine needed to read it', { skip }, async () => {
  const archive = join(work, 'goplugin.tar');
  await dockerOk(['save', '-o', archive, 'dpk-test/goplugin:1']);
  const config = await writeConfig('out.json', pluginConfig());
  const output = join(work, 'plugin.tar');
  const run = await dpk(['pack', '--archive', archive, '--config', config, '--name', 'dpk-test/artifact:1', '--output', output, '--arch', 'amd64', '--json'], work);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.plugin, undefined, 'with --output alone the engine is not used');
  assert.equal(result.output.path, output);
  assert.equal(createHash('sha256').update(await readFile(output)).digest('hex'), result.digests.artifact.slice(7));
  assert.deepEqual((await readdir(work)).filter((n) => n.includes('dpk-tmp')), ['dpk-tmp'], 'no temporary artifact left beside the output');
  const extracted = join(work, 'extracted');
  await mkdir(extracted);
  await execa('tar', ['-xf', output, '-C', extracted]);
  assert.deepEqual((await readdir(extracted)).sort(), ['config.json', 'rootfs']);
  await dockerOk(['plugin', 'create', 'dpk-test/artifact:1', extracted]);
  await dockerOk(['plugin', 'enable', 'dpk-test/artifact:1']);
  await dockerOk(['plugin', 'rm', '-f', 'dpk-test/artifact:1']);
  // A failing pack leaves no output behind (bad config -> nothing written).
  const bad = await writeConfig('bad.json', pluginConfig({ Entrypoint: ['/missing'] }));
  const failed = await dpk(['pack', '--archive', archive, '--config', bad, '--name', 'dpk-test/artifact:1', '--output', join(work, 'bad.tar'), '--arch', 'amd64']);
  assert.equal(failed.code, 1);
  assert.ok(!existsSync(join(work, 'bad.tar')));
  await assertNoStrays();
});

test('Ctrl-C while packing leaves no plugin, temporary copy or container', { skip }, async () => {
  const config = await writeConfig('int.json', pluginConfig());
  const child = spawn(process.execPath, [bin, 'pack', '--image', 'dpk-test/layered:1', '--config', config, '--name', 'dpk-test/interrupted:1', '--enable'], {
    cwd: work,
    env: { ...engine.env, TMPDIR: dpkTmp, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/creating plugin/.test(stderr)) resolve();
    });
    child.on('close', () => resolve());
  });
  child.kill('SIGINT');
  const code = await done;
  // Whichever step the interrupt met, the outcome is the same: cancelled (or finished first), nothing left over.
  if (code !== 0) {
    assert.equal(code, 130, stderr);
    assert.match(stderr, /cancelled/);
    assert.equal((await engine.docker(['plugin', 'inspect', 'dpk-test/interrupted:1'])).exitCode, 1, stderr);
  } else await dockerOk(['plugin', 'rm', '-f', 'dpk-test/interrupted:1']);
  await assertNoStrays();
});
