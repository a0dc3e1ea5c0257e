/**
 * dpk push against a real engine and real registries started by the test:
 * - pushed with no engine at all, the plugin is installed by the engine (`docker plugin install
 *   --grant-all-permissions`), enabled, and serves volumes; its manifest, config and layer content match what
 *   `docker plugin push` writes for the same plugin, field by field;
 * - basic auth (htpasswd) with credentials from a temp DOCKER_CONFIG and from a credential helper on PATH, through
 *   the engine and without it; a wrong password is refused clearly and leaves nothing under the tag; no secret in any
 *   output, --debug and --json included;
 * - token auth, with a token issuer the registry trusts;
 * - --platform: one plain schema2 manifest per architecture, each layer holding that architecture's binary; a rootfs
 *   with the wrong architecture is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { skipWithoutEngine, startEngine, startRegistry, type Engine, type Registry } from './helpers/engine.js';
import { basicAuth, buildVolumePlugin, dockerConfigDir, pluginRootfsEntries, startTokenIssuer, VOLUME_PLUGIN_CONFIG, writeMultiPlatformLayout } from './push-helpers.js';
import { readTar } from '../src/image/tar.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const skip = await skipWithoutEngine();

let engine: Engine;
let work: string;
let dpkTmp: string;
let layout: string;
let wrongArchLayout: string;
let configFile: string;
let amd64Binary: Buffer;
const registries: Registry[] = [];

const USER = 'pusher';
const PASSWORD = 's3cret-Pa55-w0rd';

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'dpk-push-test-'));
  dpkTmp = join(work, 'dpk-tmp');
  await mkdir(dpkTmp);
  engine = await startEngine();
  const amd64 = await buildVolumePlugin(work, 'amd64');
  amd64Binary = amd64;
  const arm64 = await buildVolumePlugin(work, 'arm64');
  layout = join(work, 'layout');
  await writeMultiPlatformLayout(layout, [
    { arch: 'amd64', entries: pluginRootfsEntries(amd64) },
    { arch: 'arm64', entries: pluginRootfsEntries(arm64) },
  ]);
  wrongArchLayout = join(work, 'wrong-layout');
  await writeMultiPlatformLayout(wrongArchLayout, [
    { arch: 'amd64', entries: pluginRootfsEntries(amd64) },
    { arch: 'arm64', entries: pluginRootfsEntries(amd64) },
  ]);
  configFile = join(work, 'config.json');
  await writeFile(configFile, JSON.stringify(VOLUME_PLUGIN_CONFIG, null, 2));
});

after(async () => {
  if (skip) return;
  for (const r of registries) await r.stop();
  await engine?.destroy();
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** dpk with its own env: no engine unless given one, and a DOCKER_CONFIG of the test's choosing. */
function dpk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, TMPDIR: dpkTmp, NO_COLOR: '1', DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}`, DOCKER_CONFIG: join(work, 'no-config') };
    execFile(process.execPath, [bin, ...args], { cwd: work, env: { ...base, ...env }, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function dockerOk(args: string[], input?: string): Promise<string> {
  const r = await engine.docker(args, input === undefined ? {} : { input });
  assert.equal(r.exitCode, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function registry(options: Parameters<typeof startRegistry>[0] = {}): Promise<Registry> {
  const r = await startRegistry(options);
  registries.push(r);
  return r;
}

async function get(r: Registry, path: string, auth?: string): Promise<{ status: number; body: Buffer; type: string }> {
  const res = await fetch(`${r.url}${path}`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json', ...(auth ? { Authorization: auth } : {}) } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '' };
}

interface Pushed {
  manifest: { schemaVersion: number; mediaType: string; config: { mediaType: string; digest: string; size: number }; layers: { mediaType: string; digest: string; size: number }[] };
  config: Record<string, unknown> & { rootfs: { type: string; diff_ids: string[] } };
  layer: Buffer;
}

async function fetchPushed(r: Registry, repo: string, tag: string, auth?: string): Promise<Pushed> {
  const m = await get(r, `/v2/${repo}/manifests/${tag}`, auth);
  assert.equal(m.status, 200, `manifest ${repo}:${tag}: ${m.body}`);
  const manifest = JSON.parse(m.body.toString()) as Pushed['manifest'];
  const config = JSON.parse((await get(r, `/v2/${repo}/blobs/${manifest.config.digest}`, auth)).body.toString()) as Pushed['config'];
  const layer = (await get(r, `/v2/${repo}/blobs/${manifest.layers[0]!.digest}`, auth)).body;
  return { manifest, config, layer };
}

/** Layer entries as comparable lines (the root entry left out: the engine writes ".", dpk writes none). */
async function layerListing(gz: Buffer): Promise<string[]> {
  const lines: string[] = [];
  for await (const entry of readTar(Readable.from([gunzipSync(gz)]))) {
    const h = entry.header;
    const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
    let detail = '';
    if (h.type === 'file') {
      const hash = createHash('sha256');
      for await (const chunk of entry.body()) hash.update(chunk);
      detail = hash.digest('hex').slice(0, 16);
    }
    if (name === '' || name === '.') continue;
    lines.push(`${name} ${h.type} ${(h.mode & 0o7777).toString(8)} ${h.uid}:${h.gid} ${h.linkname} ${detail}`);
  }
  return lines.sort();
}

async function assertNoTempLeft(): Promise<void> {
  assert.deepEqual(await readdir(dpkTmp), [], 'dpk left something in its temporary directory');
}

test('pushed with no engine: installed by the engine, enabled, serves volumes; same manifest, config and layer content as docker plugin push', { skip }, async () => {
  const r = await registry();
  const ref = `${r.host}/acme/pushed:1.0`;
  const run = await dpk(['push', ref, '--no-engine', '--archive', layout, '--config', configFile, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.via, 'registry');
  assert.equal(result.pushed.length, 1);
  assert.equal(result.pushed[0].reference, ref);
  assert.match(result.pushed[0].digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(result.pushed[0].layer.existed, false);
  await assertNoTempLeft();

  const ours = await fetchPushed(r, 'acme/pushed', '1.0');
  const manifestDigest = (await get(r, '/v2/acme/pushed/manifests/1.0')).body;
  assert.equal(`sha256:${createHash('sha256').update(manifestDigest).digest('hex')}`, result.pushed[0].digest);

  // The engine installs it, enables it, and the plugin answers.
  await dockerOk(['plugin', 'install', '--grant-all-permissions', ref]);
  assert.equal((await dockerOk(['plugin', 'inspect', '--format', '{{.Enabled}}', ref])).trim(), 'true');
  await dockerOk(['volume', 'create', '-d', ref, 'pushed-vol']);
  assert.match(await dockerOk(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']), new RegExp(`${ref.replace(/[.]/g, '\\.')} pushed-vol`));
  await dockerOk(['volume', 'rm', 'pushed-vol']);
  await dockerOk(['plugin', 'rm', '-f', ref]);

  // The same plugin through the engine: dpk pack creates it from the same layout, `docker plugin push` publishes it.
  const engineRef = `${r.host}/acme/by-engine:1.0`;
  const packed = await dpk(['pack', '--archive', layout, '--config', configFile, '--name', engineRef, '--arch', 'amd64'], { DOCKER_HOST: engine.host });
  assert.equal(packed.code, 0, packed.stderr);
  await dockerOk(['plugin', 'push', engineRef]);
  await dockerOk(['plugin', 'rm', '-f', engineRef]);
  const theirs = await fetchPushed(r, 'acme/by-engine', '1.0');

  assert.equal(ours.manifest.schemaVersion, theirs.manifest.schemaVersion);
  assert.equal(ours.manifest.mediaType, theirs.manifest.mediaType);
  assert.deepEqual(Object.keys(ours.manifest), Object.keys(theirs.manifest));
  assert.equal(ours.manifest.config.mediaType, theirs.manifest.config.mediaType);
  assert.equal(ours.manifest.config.mediaType, 'application/vnd.docker.plugin.v1+json');
  assert.deepEqual(ours.manifest.layers.map((l) => l.mediaType), theirs.manifest.layers.map((l) => l.mediaType));
  assert.deepEqual(ours.manifest.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar.gzip']);
  // Config: every field equal, except the layer digest (a different gzip of the same entries) and DockerVersion
  // (the engine records its version; no engine made ours).
  const { DockerVersion, rootfs: theirRootfs, ...theirFields } = theirs.config;
  const { rootfs: ourRootfs, ...ourFields } = ours.config;
  assert.equal(typeof DockerVersion, 'string');
  assert.equal(ours.config.DockerVersion, undefined);
  assert.deepEqual(Object.keys(ourFields), Object.keys(theirFields), 'same fields, same order');
  for (const key of Object.keys(theirFields)) assert.deepEqual(ourFields[key], theirFields[key], `config field ${key}`);
  assert.equal(ourRootfs.type, theirRootfs.type);
  // Both make the diff_id the digest of the gzipped blob.
  assert.deepEqual(ourRootfs.diff_ids, [ours.manifest.layers[0]!.digest]);
  assert.deepEqual(theirRootfs.diff_ids, [theirs.manifest.layers[0]!.digest]);
  assert.deepEqual(await layerListing(ours.layer), await layerListing(theirs.layer));

  // Pushing again sends nothing but the manifest: same digests, blobs found in place.
  const again = await dpk(['push', ref, '--no-engine', '--archive', layout, '--config', configFile, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout).pushed[0];
  assert.equal(second.digest, result.pushed[0].digest);
  assert.equal(second.layer.existed, true);
  assert.equal(second.config.existed, true);
});

test('basic auth: credentials from DOCKER_CONFIG and from a credential helper, through the engine and without; a wrong password leaves nothing; no secret in any output', { skip }, async () => {
  const r = await registry({ htpasswd: { user: USER, password: PASSWORD } });
  const secrets = [PASSWORD, basicAuth(USER, PASSWORD)];
  const assertNoSecret = (run: Run, what: string) => {
    for (const s of secrets) {
      assert.ok(!run.stdout.includes(s), `${what}: a secret on stdout`);
      assert.ok(!run.stderr.includes(s), `${what}: a secret on stderr`);
    }
  };
  const authsDir = await dockerConfigDir(join(work, 'auths-config'), { auths: { [r.host]: { auth: basicAuth(USER, PASSWORD) } } });
  const run = await dpk(['push', `${r.host}/acme/secure:1`, '--no-engine', '--archive', layout, '--config', configFile, '--json', '--debug'], { DOCKER_CONFIG: authsDir });
  assert.equal(run.code, 0, run.stderr);
  assertNoSecret(run, 'auths push');
  assert.match(JSON.parse(run.stdout).credentialsFrom, /^auths\["localhost:\d+"\] in .*auths-config\/config\.json$/);
  assert.match(run.stderr, /debug: registry: HEAD .* -> 401/, 'the registry really asked for credentials');

  // A credential helper on PATH, named per registry in credHelpers.
  const helperBin = join(work, 'helper-bin');
  await mkdir(helperBin, { recursive: true });
  const helperLog = join(work, 'helper.log');
  await writeFile(
    join(helperBin, 'docker-credential-test'),
    [
      '#!/bin/sh',
      `[ "$1" = get ] || exit 1`,
      'read server',
      `echo "$server" >> ${helperLog}`,
      `if [ "$server" = "${r.host}" ]; then echo '{"ServerURL":"${r.host}","Username":"${USER}","Secret":"${PASSWORD}"}'; else echo "credentials not found in native keychain"; exit 1; fi`,
      '',
    ].join('\n'),
  );
  await chmod(join(helperBin, 'docker-credential-test'), 0o755);
  const helperDir = await dockerConfigDir(join(work, 'helper-config'), { credHelpers: { [r.host]: 'test' } });
  const viaHelper = await dpk(['push', `${r.host}/acme/secure:helper`, '--no-engine', '--archive', layout, '--config', configFile, '--debug'], {
    DOCKER_CONFIG: helperDir,
    PATH: `${helperBin}:${process.env.PATH}`,
  });
  assert.equal(viaHelper.code, 0, viaHelper.stderr);
  assertNoSecret(viaHelper, 'helper push');
  assert.match(viaHelper.stderr, /credentials from docker-credential-test/);
  assert.match(viaHelper.stdout, new RegExp(`^pushed ${r.host}/acme/secure:helper sha256:[0-9a-f]{64}\\n$`));

  // Wrong password: a clear error that says what to do, nothing under the tag.
  const wrongDir = await dockerConfigDir(join(work, 'wrong-config'), { auths: { [r.host]: { auth: basicAuth(USER, 'not-the-password') } } });
  const wrong = await dpk(['push', `${r.host}/acme/secure:wrong`, '--no-engine', '--archive', layout, '--config', configFile, '--json', '--debug'], { DOCKER_CONFIG: wrongDir });
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /refused the credentials from auths\["localhost:\d+"\]/);
  assert.match(wrong.stderr, new RegExp(`docker login ${r.host}`));
  assert.ok(!wrong.stderr.includes('not-the-password') && !wrong.stdout.includes('not-the-password'));
  assert.ok(!wrong.stderr.includes(basicAuth(USER, 'not-the-password')));
  assert.equal(JSON.parse(wrong.stdout).ok, false);
  assert.equal((await get(r, '/v2/acme/secure/manifests/wrong', `Basic ${basicAuth(USER, PASSWORD)}`)).status, 404);
  // No credentials at all.
  const none = await dpk(['push', `${r.host}/acme/secure:none`, '--no-engine', '--archive', layout, '--config', configFile]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /needs a login to push acme\/secure, and there are no credentials for it/);
  assert.match(none.stderr, /hint: run `docker login localhost:\d+`/);

  // Through the engine: the plugin is in the engine, the credentials come from dpk's DOCKER_CONFIG (the engine
  // and its CLI have none).
  const engineRef = `${r.host}/acme/secure-engine:1`;
  const packed = await dpk(['pack', '--archive', layout, '--config', configFile, '--name', engineRef], { DOCKER_HOST: engine.host });
  assert.equal(packed.code, 0, packed.stderr);
  const viaEngine = await dpk(['push', engineRef, '--json', '--debug'], { DOCKER_HOST: engine.host, DOCKER_CONFIG: authsDir });
  assert.equal(viaEngine.code, 0, viaEngine.stderr);
  assertNoSecret(viaEngine, 'engine push');
  const pushedByEngine = JSON.parse(viaEngine.stdout);
  assert.equal(pushedByEngine.via, 'engine');
  assert.match(pushedByEngine.pushed[0].digest, /^sha256:/);
  // The wrong password through the engine: the engine's own error names HTTPS; the hint says what is likely wrong.
  const wrongViaEngine = await dpk(['push', engineRef, '--debug'], { DOCKER_HOST: engine.host, DOCKER_CONFIG: wrongDir });
  assert.equal(wrongViaEngine.code, 1, wrongViaEngine.stderr);
  assert.match(wrongViaEngine.stderr, new RegExp(`hint: the engine reports the last endpoint it tried: most often ${r.host} refused the credentials from auths`));
  assert.ok(!wrongViaEngine.stderr.includes('not-the-password') && !wrongViaEngine.stderr.includes(basicAuth(USER, 'not-the-password')));
  await dockerOk(['plugin', 'rm', '-f', engineRef]);

  // The engine installs what dpk pushed with no engine (its CLI logged in).
  await dockerOk(['login', '--username', USER, '--password-stdin', r.host], PASSWORD);
  await dockerOk(['plugin', 'install', '--grant-all-permissions', `${r.host}/acme/secure:helper`]);
  assert.equal((await dockerOk(['plugin', 'inspect', '--format', '{{.Enabled}}', `${r.host}/acme/secure:helper`])).trim(), 'true');
  await dockerOk(['plugin', 'rm', '-f', `${r.host}/acme/secure:helper`]);
  await dockerOk(['plugin', 'install', '--grant-all-permissions', engineRef]);
  await dockerOk(['plugin', 'rm', '-f', engineRef]);
  await dockerOk(['logout', r.host]);
  await assertNoTempLeft();
});

test('an image in the engine: --no-engine pushes it straight to the registry, without the flag the engine pushes the packed plugin', { skip }, async () => {
  const r = await registry();
  const ctx = join(work, 'image-ctx');
  await mkdir(join(ctx, 'empty'), { recursive: true });
  await writeFile(join(ctx, 'pushed'), amd64Binary, { mode: 0o755 });
  await writeFile(join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY pushed /usr/bin/pushed', 'COPY empty /tmp', 'COPY empty /state', ''].join('\n'));
  const built = await engine.docker(['build', '-q', '-t', 'dpk-test/pushed-image:1', ctx], { env: { ...engine.env, DOCKER_BUILDKIT: '0' } });
  assert.equal(built.exitCode, 0, built.stderr);
  const ref = `${r.host}/acme/from-image:1`;
  const direct = await dpk(['push', ref, '--no-engine', '--image', 'dpk-test/pushed-image:1', '--config', configFile, '--json'], { DOCKER_HOST: engine.host });
  assert.equal(direct.code, 0, direct.stderr);
  const directResult = JSON.parse(direct.stdout);
  assert.equal(directResult.via, 'registry');
  assert.equal((await get(r, '/v2/acme/from-image/manifests/1')).status, 200);

  const packed = await dpk(['pack', '--image', 'dpk-test/pushed-image:1', '--config', configFile, '--name', ref], { DOCKER_HOST: engine.host });
  assert.equal(packed.code, 0, packed.stderr);
  const viaEngine = await dpk(['push', ref, '--json'], { DOCKER_HOST: engine.host });
  assert.equal(viaEngine.code, 0, viaEngine.stderr);
  const engineResult = JSON.parse(viaEngine.stdout);
  assert.equal(engineResult.via, 'engine');
  assert.notEqual(engineResult.pushed[0].digest, directResult.pushed[0].digest, 'the engine wrote its own manifest (its DockerVersion, its gzip)');
  const now = await get(r, '/v2/acme/from-image/manifests/1');
  assert.equal(`sha256:${createHash('sha256').update(now.body).digest('hex')}`, engineResult.pushed[0].digest);
  await dockerOk(['plugin', 'rm', '-f', ref]);
  await dockerOk(['plugin', 'install', '--grant-all-permissions', ref]);
  await dockerOk(['plugin', 'rm', '-f', ref]);
  await assertNoTempLeft();
});

test('token auth: a token issuer the registry trusts; `token` and `access_token` answers; wrong password refused at the token server', { skip }, async () => {
  const issuer = await startTokenIssuer(join(work, 'issuer'), { name: USER, password: PASSWORD });
  try {
    const r = await registry({ authYaml: issuer.authYaml() });
    const configDir = await dockerConfigDir(join(work, 'token-config'), { auths: { [`http://${r.host}`]: { auth: basicAuth(USER, PASSWORD) } } });
    const run = await dpk(['push', `${r.host}/acme/tokened:1`, '--no-engine', '--archive', layout, '--config', configFile, '--json', '--debug'], { DOCKER_CONFIG: configDir });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stderr.includes(PASSWORD) && !run.stdout.includes(PASSWORD));
    assert.ok(!/Bearer [A-Za-z0-9_-]{20,}/.test(run.stderr), 'no token in --debug output');
    assert.ok(issuer.scopes.includes('repository:acme/tokened:pull,push'), `scopes asked: ${issuer.scopes.join(' ')}`);

    issuer.useAccessToken = true;
    const second = await dpk(['push', `${r.host}/acme/tokened:2`, '--no-engine', '--archive', layout, '--config', configFile, '--json'], { DOCKER_CONFIG: configDir });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).pushed[0].layer.existed, true);
    issuer.useAccessToken = false;

    const wrongDir = await dockerConfigDir(join(work, 'token-wrong'), { auths: { [r.host]: { auth: basicAuth(USER, 'nope-nope') } } });
    const refusedBefore = issuer.refused;
    const wrong = await dpk(['push', `${r.host}/acme/tokened:wrong`, '--no-engine', '--archive', layout, '--config', configFile], { DOCKER_CONFIG: wrongDir });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /the token server http:\/\/127\.0\.0\.1:\d+\/token refused the credentials from auths/);
    assert.ok(issuer.refused > refusedBefore);
    assert.ok(!wrong.stderr.includes('nope-nope'));

    // The engine installs the pushed plugin through the same token flow.
    await dockerOk(['login', '--username', USER, '--password-stdin', r.host], PASSWORD);
    await dockerOk(['plugin', 'install', '--grant-all-permissions', `${r.host}/acme/tokened:1`]);
    assert.equal((await dockerOk(['plugin', 'inspect', '--format', '{{.Enabled}}', `${r.host}/acme/tokened:1`])).trim(), 'true');
    await dockerOk(['plugin', 'rm', '-f', `${r.host}/acme/tokened:1`]);
    await dockerOk(['logout', r.host]);
  } finally {
    await issuer.close();
  }
});

test('--platform: one plain manifest per architecture under documented tags, each with its own binary; a wrong-arch rootfs is refused before anything is sent', { skip }, async () => {
  const r = await registry();
  const run = await dpk(['push', `${r.host}/acme/multi:1.2.0`, '--platform', 'linux/amd64,linux/arm64', '--archive', layout, '--config', configFile, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(
    result.pushed.map((p: { reference: string; platform: string }) => [p.reference, p.platform]),
    [
      [`${r.host}/acme/multi:1.2.0`, 'linux/amd64'],
      [`${r.host}/acme/multi:1.2.0-arm64`, 'linux/arm64'],
    ],
  );
  const machines: Record<string, number> = {};
  for (const tag of ['1.2.0', '1.2.0-arm64']) {
    const pushed = await fetchPushed(r, 'acme/multi', tag);
    assert.equal(pushed.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json', `${tag} is a single manifest, not a list`);
    for await (const entry of readTar(Readable.from([gunzipSync(pushed.layer)]))) {
      if (entry.header.name !== 'usr/bin/pushed') continue;
      const parts: Buffer[] = [];
      for await (const chunk of entry.body()) parts.push(chunk);
      machines[tag] = Buffer.concat(parts).readUInt16LE(18);
    }
  }
  assert.deepEqual(machines, { '1.2.0': 62, '1.2.0-arm64': 183 }, 'e_machine: x86-64 under the plain tag, AArch64 under -arm64');
  await dockerOk(['plugin', 'install', '--grant-all-permissions', `${r.host}/acme/multi:1.2.0`]);
  await dockerOk(['plugin', 'rm', '-f', `${r.host}/acme/multi:1.2.0`]);

  const wrong = await dpk(['push', `${r.host}/acme/wrongarch:1`, '--platform', 'linux/amd64,linux/arm64', '--archive', wrongArchLayout, '--config', configFile]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /usr\/bin\/pushed is built for amd64 \(x86-64\), but the plugin targets arm64/);
  assert.match(wrong.stderr, /nothing was pushed/);
  assert.equal((await get(r, '/v2/acme/wrongarch/manifests/1')).status, 404, 'not even the amd64 tag');
  assert.equal((await get(r, '/v2/_catalog')).body.toString().includes('wrongarch'), false, 'no blob either');

  const list = await dpk(['push', `${r.host}/acme/multi:x`, '--platform', 'linux/amd64,windows/amd64', '--archive', layout, '--config', configFile]);
  assert.equal(list.code, 2);
  assert.match(list.stderr, /managed plugins run on linux only/);
  await assertNoTempLeft();
});
