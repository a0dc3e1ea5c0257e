/**
 * dpk push against the real registry with no engine anywhere: a registry killed in the middle of an upload (retried,
 * then a clear error, nothing under the tag; pushed again, blobs already there are skipped), 429/503 answers with
 * Retry-After, credentials found the way docker finds them, and the small parsers the protocol needs.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort, inCI, startRegistry } from './helpers/engine.js';
import { basicAuth, dockerConfigDir, restartableRegistry, startRelay, startTokenIssuer, VOLUME_PLUGIN_CONFIG, writeMultiPlatformLayout, type RestartableRegistry } from './push-helpers.js';
import { parseChallenge, pushScope } from '../src/registry/auth.js';
import { retryAfterMs } from '../src/registry/client.js';
import { DOCKER_HUB_AUTH_KEY, engineRegistryAuth, findCredentials } from '../src/registry/credentials.js';
import { parsePlatforms, platformTag } from '../src/commands/push.js';
import { pluginConfigBlob } from '../src/publish/plugin-image.js';

const bin = fileURLToPath(new URL('../bin/dpk.js', import.meta.url));
const hasRegistry = (await execa('sh', ['-c', 'command -v docker-registry'], { reject: false })).exitCode === 0;
if (!hasRegistry && inCI()) throw new Error('CI needs docker-registry (bash scripts/setup.sh installs it)');
const skip = hasRegistry ? false : 'docker-registry is not installed';

let work: string;
let dpkTmp: string;
let bigLayout: string;
let configFile: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dpk-push-registry-'));
  dpkTmp = join(work, 'dpk-tmp');
  await mkdir(dpkTmp);
  // 24 MiB that gzip cannot shrink: an upload long enough to be cut in the middle. The entrypoint is a script
  // (#!/bin/sh, with busybox-static as /bin/sh), so no Go build is needed here.
  bigLayout = join(work, 'big-layout');
  await writeMultiPlatformLayout(bigLayout, [
    {
      arch: 'amd64',
      entries: [
        { name: 'bin/', type: 'dir', mode: 0o755 },
        { name: 'bin/sh', type: 'file', mode: 0o755, content: await readFile('/bin/busybox') },
        { name: 'usr/bin/pushed', type: 'file', mode: 0o755, content: '#!/bin/sh\nexit 0\n' },
        { name: 'state/', type: 'dir', mode: 0o755 },
        { name: 'data/blob', type: 'file', mode: 0o644, content: randomBytes(24 << 20) },
      ],
    },
  ]);
  configFile = join(work, 'config.json');
  await writeFile(configFile, JSON.stringify(VOLUME_PLUGIN_CONFIG));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function dpk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, TMPDIR: dpkTmp, NO_COLOR: '1', DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}`, DOCKER_CONFIG: join(work, 'no-config') };
    execFile(process.execPath, [bin, ...args], { cwd: work, env: { ...base, ...env }, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

test('registry killed mid-upload: retried, then a clear error and no tag; pushed again, the blobs already there are skipped', { skip }, async () => {
  const registry: RestartableRegistry = await restartableRegistry(join(work, 'restartable'));
  await registry.start();
  const relay = await startRelay(registry.port);
  const ref = `localhost:${relay.port}/acme/big:1`;
  const tagStatus = async () => (await fetch(`http://127.0.0.1:${registry.port}/v2/acme/big/manifests/1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).status;
  try {
    // 1. Killed while the layer's content is on its way.
    let uploading = -1;
    relay.onUpstream = (chunk, total) => {
      if (uploading < 0 && chunk.includes('PUT /v2/acme/big/blobs/uploads/')) uploading = total;
      if (uploading >= 0 && total - uploading > 4 << 20) {
        registry.kill();
        return 'drop';
      }
      return 'forward';
    };
    const first = await dpk(['push', ref, '--no-engine', '--archive', bigLayout, '--config', configFile, '--retries', '3', '--json']);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /uploading blob sha256:[0-9a-f]{12} to localhost:\d+: .*; retrying in \d+\.\ds \(attempt 2 of 3\)/);
    assert.match(first.stderr, /error: uploading blob sha256:[0-9a-f]{12} to localhost:\d+ failed after 3 attempts: /);
    assert.match(first.stderr, /hint: .*pushing again sends only what is missing|hint: the registry or the network is failing/);
    assert.equal(JSON.parse(first.stdout).ok, false);
    assert.deepEqual(await readdir(dpkTmp), []);

    // 2. Up again; this time it dies when the config blob is asked about, after the whole layer arrived.
    await registry.stopped();
    await registry.start();
    assert.equal(await tagStatus(), 404, 'the failed push left no tag');
    let heads = 0;
    relay.onUpstream = (chunk) => {
      if (chunk.includes('HEAD /v2/acme/big/blobs/') && ++heads === 2) {
        registry.kill();
        return 'drop';
      }
      return 'forward';
    };
    const second = await dpk(['push', ref, '--no-engine', '--archive', bigLayout, '--config', configFile, '--retries', '2']);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /failed after 2 attempts/);
    assert.match(second.stderr, /layer [0-9a-f]{12} uploaded/);

    // 3. Up again: the layer is found in place, only the config and the manifest are sent.
    await registry.stopped();
    await registry.start();
    assert.equal(await tagStatus(), 404);
    relay.onUpstream = undefined;
    const third = await dpk(['push', ref, '--no-engine', '--archive', bigLayout, '--config', configFile, '--json']);
    assert.equal(third.code, 0, third.stderr);
    const pushed = JSON.parse(third.stdout).pushed[0];
    assert.equal(pushed.layer.existed, true, 'the layer uploaded by the interrupted push is reused');
    assert.ok(pushed.layer.size > 24 << 20);
    assert.equal(pushed.config.existed, false);
    assert.equal(await tagStatus(), 200);
  } finally {
    await relay.close();
    await registry.destroy();
  }
});

test('token auth signed RS256, with an identity token exchanged by POST grant_type=refresh_token; a pull-only token and a stale one are refused clearly', { skip }, async () => {
  const issuer = await startTokenIssuer(join(work, 'rs256'), { name: 'robot', password: 'unused-here' }, 'RS256');
  const registry = await startRegistry({ authYaml: issuer.authYaml() });
  try {
    const configDir = await dockerConfigDir(join(work, 'idtoken'), { auths: { [registry.host]: { identitytoken: issuer.refreshToken } } });
    const run = await dpk(['push', `${registry.host}/acme/oauth:1`, '--no-engine', '--archive', bigLayout, '--config', configFile, '--json', '--debug'], { DOCKER_CONFIG: configDir });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(issuer.refreshed > 0, 'the identity token was exchanged');
    assert.ok(issuer.scopes.includes('repository:acme/oauth:pull,push'), issuer.scopes.join(' '));
    assert.ok(!run.stderr.includes(issuer.refreshToken) && !run.stdout.includes(issuer.refreshToken));
    const manifest = await fetch(`${registry.url}/v2/acme/oauth/manifests/1`);
    assert.equal(manifest.status, 401, 'the registry really wants a token');

    // A token that only allows pulling: the registry's insufficient_scope is reported as such.
    issuer.grantOnly = ['pull'];
    const pullOnly = await dpk(['push', `${registry.host}/acme/oauth:3`, '--no-engine', '--archive', bigLayout, '--config', configFile], { DOCKER_CONFIG: configDir });
    issuer.grantOnly = undefined;
    assert.equal(pullOnly.code, 1);
    assert.match(pullOnly.stderr, /denied .*: the token issued for the account from auths\["localhost:\d+"\] in \S+ does not allow pushing to acme\/oauth/);
    assert.match(pullOnly.stderr, /hint: ask for push access to acme\/oauth/);

    const staleDir = await dockerConfigDir(join(work, 'idtoken-stale'), { auths: { [registry.host]: { identitytoken: 'expired-token' } } });
    const stale = await dpk(['push', `${registry.host}/acme/oauth:2`, '--no-engine', '--archive', bigLayout, '--config', configFile], { DOCKER_CONFIG: staleDir });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /the token server http:\/\/127\.0\.0\.1:\d+\/token refused the credentials from auths\["localhost:\d+"\]/);
    assert.ok(!stale.stderr.includes('expired-token'));
  } finally {
    await registry.stop();
    await issuer.close();
  }
});

/** An HTTP front for the registry that answers the first requests itself with a given status and Retry-After. */
async function flakyFront(
  targetPort: number,
  answers: { status: number; retryAfter?: string }[],
  rewriteChallenge?: (value: string) => string,
): Promise<{ port: number; server: Server; seen: number[] }> {
  const port = await freePort();
  const seen: number[] = [];
  const server = createServer((req, res) => {
    seen.push(Date.now());
    const answer = answers.shift();
    if (answer) {
      req.resume();
      res.writeHead(answer.status, answer.retryAfter ? { 'Retry-After': answer.retryAfter } : {}).end();
      return;
    }
    const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      const challenge = up.headers['www-authenticate'];
      if (rewriteChallenge && typeof challenge === 'string') up.headers['www-authenticate'] = rewriteChallenge(challenge);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { port, server, seen };
}

test('429 and 503 are retried, waiting as long as Retry-After says', { skip }, async () => {
  const registry = await restartableRegistry(join(work, 'flaky'));
  await registry.start();
  const front = await flakyFront(registry.port, [{ status: 429, retryAfter: '2' }, { status: 503 }]);
  try {
    const run = await dpk(['push', `localhost:${front.port}/acme/flaky:1`, '--no-engine', '--archive', bigLayout, '--config', configFile, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /HTTP 429; retrying in 2\.0s \(attempt 2 of 5\)/);
    assert.match(run.stderr, /HTTP 503; retrying in \d\.\ds \(attempt 3 of 5\)/);
    assert.ok(front.seen[1]! - front.seen[0]! >= 2000, `waited ${front.seen[1]! - front.seen[0]!}ms after Retry-After: 2`);
    assert.equal(JSON.parse(run.stdout).ok, true);
  } finally {
    await new Promise((resolve) => front.server.close(resolve));
    await registry.destroy();
  }
});

test('Ctrl-C while waiting to retry: exit 130, no tag, no temporary file left', { skip }, async () => {
  const registry = await restartableRegistry(join(work, 'interrupted'));
  await registry.start();
  const front = await flakyFront(registry.port, [{ status: 503, retryAfter: '30' }]);
  try {
    const child = spawn(process.execPath, [bin, 'push', `localhost:${front.port}/acme/interrupted:1`, '--no-engine', '--archive', bigLayout, '--config', configFile], {
      cwd: work,
      env: { PATH: process.env.PATH, HOME: work, TMPDIR: dpkTmp, NO_COLOR: '1', DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}`, DOCKER_CONFIG: join(work, 'no-config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (/retrying in 30\.0s/.test(stderr)) resolve();
      });
      child.on('close', () => resolve());
    });
    const started = Date.now();
    child.kill('SIGINT');
    const code = await closed;
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - started < 10_000, 'the wait was cut short');
    assert.match(stderr, /error: cancelled; no tag was written by this run/);
    assert.deepEqual(await readdir(dpkTmp), [], 'the gzipped layer was removed');
    const tag = await fetch(`http://127.0.0.1:${registry.port}/v2/acme/interrupted/manifests/1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(tag.status, 404);
  } finally {
    await new Promise((resolve) => front.server.close(resolve));
    await registry.destroy();
  }
});

test('a registry that challenges with the plugin scope form gets asked for repository(plugin):NAME:pull,push', { skip }, async () => {
  const issuer = await startTokenIssuer(join(work, 'plugin-scope'), { name: 'robot', password: 'pw-plugin-scope' });
  const registry = await startRegistry({ authYaml: issuer.authYaml() });
  // Docker Hub names plugin repositories with the resource class; this front makes the real registry do the same.
  const front = await flakyFront(Number(registry.address.split(':')[1]), [], (value) => value.replace(/scope="repository:/, 'scope="repository(plugin):'));
  try {
    const configDir = await dockerConfigDir(join(work, 'plugin-scope-config'), { auths: { [`localhost:${front.port}`]: { auth: basicAuth('robot', 'pw-plugin-scope') } } });
    const run = await dpk(['push', `localhost:${front.port}/acme/scoped:1`, '--no-engine', '--archive', bigLayout, '--config', configFile], { DOCKER_CONFIG: configDir });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(issuer.scopes.includes('repository(plugin):acme/scoped:pull,push'), issuer.scopes.join(' '));
    assert.ok(!issuer.scopes.includes('repository:acme/scoped:pull,push'));
  } finally {
    await new Promise((resolve) => front.server.close(resolve));
    await registry.stop();
    await issuer.close();
  }
});

test('on a terminal, upload progress (bytes of total, rate) on stderr; none without one', { skip }, async () => {
  const registry = await startRegistry();
  try {
    const args = ['push', `${registry.host}/acme/progress:1`, '--no-engine', '--archive', bigLayout, '--config', configFile];
    const command = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ');
    const tty = await execa('script', ['-q', '-e', '-c', `${command} 2>&1`, '/dev/null'], {
      env: { PATH: process.env.PATH, HOME: work, TMPDIR: dpkTmp, NO_COLOR: '1', DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}`, DOCKER_CONFIG: join(work, 'no-config') },
      stdin: 'ignore',
    });
    assert.match(tty.stdout, /\r\x1b\[Klocalhost:\d+\/acme\/progress:1: \d+(\.\d)? [KM]iB \/ 2\d\.\d MiB \(\d+(\.\d)? [KM]iB\/s\)/);
    assert.match(tty.stdout, /\r\x1b\[K\S+: layer [0-9a-f]{12} uploaded/, 'the progress line is cleared before the next message');
    assert.match(tty.stdout, /pushed localhost:\d+\/acme\/progress:1 sha256:/);
    const plain = await dpk([...args.slice(0, 1), `${registry.host}/acme/progress:2`, ...args.slice(2)]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(!plain.stderr.includes('\r') && !plain.stderr.includes('MiB /'), 'no progress when stderr is not a terminal');
  } finally {
    await registry.stop();
  }
});

test('a registry that is not there: a clear error after the retries, naming the address', { skip }, async () => {
  const port = await freePort();
  const run = await dpk(['push', `localhost:${port}/acme/none:1`, '--no-engine', '--archive', bigLayout, '--config', configFile, '--retries', '2']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /failed after 2 attempts: ECONNREFUSED/);
  assert.match(run.stderr, new RegExp(`hint: is the registry at http://localhost:${port} running\\?`));
  const usage = await dpk(['push', `localhost:${port}/acme/none:1`, '--no-engine', '--archive', bigLayout, '--retries', '0']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--retries must be a whole number from 1 to 20/);
  const noArchive = await dpk(['push', `localhost:${port}/acme/none:1`, '--no-engine', '--config', configFile, '--image', 'x:1']);
  assert.equal(noArchive.code, 1);
  assert.match(noArchive.stderr, /cannot reach the Docker engine at unix:\/\/\S+: ENOENT, which holds the image to push/);
  assert.match(noArchive.stderr, /hint: start dockerd, or pass --archive FILE \(docker save or OCI\) to push with no engine at all/);
});

test('credentials as docker finds them: auths by host or URL, identity tokens, credHelpers before credsStore, helpers missing or failing', async () => {
  const dir = (name: string) => join(work, 'creds', name);
  const env = (configDir: string, extra: NodeJS.ProcessEnv = {}) => ({ PATH: process.env.PATH, DOCKER_CONFIG: configDir, ...extra });

  assert.equal(await findCredentials('localhost:5000', { env: env(dir('missing')) }), undefined, 'no config file: anonymous');
  const byUrl = await findCredentials('registry.example.com', { env: env(await dockerConfigDir(dir('url'), { auths: { 'https://registry.example.com/v1/': { auth: basicAuth('u', 'p:with:colons') } } })) });
  assert.deepEqual(byUrl?.reveal(), { kind: 'basic', username: 'u', password: 'p:with:colons' });
  const hub = await findCredentials('docker.io', { env: env(await dockerConfigDir(dir('hub'), { auths: { [DOCKER_HUB_AUTH_KEY]: { auth: basicAuth('hubber', 'pw') } } })) });
  assert.equal(hub?.reveal().kind, 'basic');
  const token = await findCredentials('r.example', { env: env(await dockerConfigDir(dir('token'), { auths: { 'r.example': { identitytoken: 'refresh-me' } } })) });
  assert.deepEqual(token?.reveal(), { kind: 'identityToken', token: 'refresh-me', username: undefined });
  // What a Credentials shows when printed or serialised: its source, never the secret.
  assert.ok(!inspect(byUrl).includes('p:with:colons') && !JSON.stringify(byUrl).includes('p:with:colons'));
  assert.ok(!JSON.stringify({ byUrl }).includes(basicAuth('u', 'p:with:colons')));
  await assert.rejects(
    findCredentials('bad.example', { env: env(await dockerConfigDir(dir('bad'), { auths: { 'bad.example': { auth: Buffer.from('no-colon').toString('base64') } } })) }),
    /"bad\.example" has an "auth" value that is not base64 of user:password/,
  );
  await mkdir(dir('broken'), { recursive: true });
  await writeFile(join(dir('broken'), 'config.json'), '{"auths": {"x": {"auth": "c2VjcmV0"}');
  await assert.rejects(findCredentials('x', { env: env(dir('broken')) }), (e: Error) => /config\.json: not valid JSON$/.test(e.message) && !e.message.includes('c2VjcmV0'));

  // Helpers: credHelpers for its registry wins over credsStore; "<token>" means an identity token; "not found" is none.
  const helpers = join(work, 'creds', 'bin');
  await mkdir(helpers, { recursive: true });
  const script = (body: string) => `#!/bin/sh\n[ "$1" = get ] || exit 3\nread server\n${body}\n`;
  await writeFile(join(helpers, 'docker-credential-store'), script(`echo '{"ServerURL":"'$server'","Username":"<token>","Secret":"store-token"}'`));
  await writeFile(join(helpers, 'docker-credential-special'), script(`echo '{"ServerURL":"'$server'","Username":"special","Secret":"special-pw"}'`));
  await writeFile(join(helpers, 'docker-credential-empty'), script('echo "credentials not found in native keychain"; exit 1'));
  await writeFile(join(helpers, 'docker-credential-broken'), script('echo "secret-ish output" ; echo "keychain locked" >&2; exit 1'));
  for (const name of ['store', 'special', 'empty', 'broken']) await chmod(join(helpers, `docker-credential-${name}`), 0o755);
  const path = `${helpers}:${process.env.PATH}`;
  const both = await dockerConfigDir(dir('both'), { credsStore: 'store', credHelpers: { 'special.example': 'special' }, auths: { 'special.example': {} } });
  assert.deepEqual((await findCredentials('special.example', { env: env(both, { PATH: path }) }))?.reveal(), { kind: 'basic', username: 'special', password: 'special-pw' });
  const fromStore = await findCredentials('other.example', { env: env(both, { PATH: path }) });
  assert.deepEqual(fromStore?.reveal(), { kind: 'identityToken', token: 'store-token' });
  assert.equal(fromStore?.source, 'docker-credential-store');
  assert.equal(await findCredentials('x.example', { env: env(await dockerConfigDir(dir('empty'), { credsStore: 'empty' }), { PATH: path }) }), undefined);
  await assert.rejects(findCredentials('x.example', { env: env(await dockerConfigDir(dir('broken-helper'), { credsStore: 'broken' }), { PATH: path }) }), (e: Error) => /docker-credential-broken get failed: keychain locked/.test(e.message) && !e.message.includes('secret-ish'));
  await assert.rejects(findCredentials('x.example', { env: env(await dockerConfigDir(dir('absent'), { credsStore: 'absent' }), { PATH: path }) }), /names credential helper "absent", but docker-credential-absent is not on PATH/);

  // The engine's X-Registry-Auth: base64url JSON of its AuthConfig, padded as Go's base64.URLEncoding wants it.
  for (const user of ['u', 'uu', 'uuu']) assert.equal(engineRegistryAuth(byUrl, `${user}.example`).length % 4, 0, 'padded');
  const header = JSON.parse(Buffer.from(engineRegistryAuth(byUrl, 'registry.example.com'), 'base64url').toString());
  assert.deepEqual(header, { username: 'u', password: 'p:with:colons', serveraddress: 'registry.example.com' });
  assert.deepEqual(JSON.parse(Buffer.from(engineRegistryAuth(fromStore, 'docker.io'), 'base64url').toString()), { identitytoken: 'store-token', serveraddress: DOCKER_HUB_AUTH_KEY });
});

test('protocol details: challenges, the plugin scope form, Retry-After, platform tags, the config blob shape', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository(plugin):acme/x:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository(plugin):acme/x:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="dpk test"'), { scheme: 'basic', params: { realm: 'dpk test' } });
  assert.equal(pushScope('acme/x', 'repository(plugin):acme/x:pull'), 'repository(plugin):acme/x:pull,push', 'the plugin form, when the registry asks for it');
  assert.equal(pushScope('acme/x', 'repository:acme/x:pull'), 'repository:acme/x:pull,push');
  assert.equal(pushScope('acme/x', 'repository:other/y:pull'), 'repository:acme/x:pull,push');
  assert.equal(pushScope('acme/x'), 'repository:acme/x:pull,push');

  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
  assert.equal(retryAfterMs('soon'), undefined);

  assert.equal(platformTag('1.2.0', { arch: 'amd64' }), '1.2.0');
  assert.equal(platformTag('1.2.0', { arch: 'arm64' }), '1.2.0-arm64');
  assert.equal(platformTag('1.2.0', { arch: 'arm', variant: 'v7' }), '1.2.0-armv7');
  assert.deepEqual(parsePlatforms(['linux/amd64,linux/arm/v7']).map((p) => p.text), ['linux/amd64', 'linux/arm/v7']);
  assert.throws(() => parsePlatforms(['linux/amd64', 'linux/amd64']), /lists linux\/amd64 twice/);
  assert.throws(() => parsePlatforms(['amd64']), /expected os\/arch/);

  // Every PluginConfig field, in Go's order, zero values where the config is silent (as the engine marshals it).
  const blob = JSON.parse(pluginConfigBlob({ Entrypoint: ['/x'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 's.sock' } }, 'sha256:ab').toString());
  assert.deepEqual(blob, {
    Args: { Description: '', Name: '', Settable: null, Value: null },
    Description: '',
    Documentation: '',
    Entrypoint: ['/x'],
    Env: null,
    Interface: { Socket: 's.sock', Types: ['docker.volumedriver/1.0'] },
    IpcHost: false,
    Linux: { AllowAllDevices: false, Capabilities: null, Devices: null },
    Mounts: null,
    Network: { Type: '' },
    PidHost: false,
    PropagatedMount: '',
    User: {},
    WorkDir: '',
    rootfs: { diff_ids: ['sha256:ab'], type: 'layers' },
  });
});
