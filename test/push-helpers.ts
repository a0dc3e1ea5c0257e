/**
 * What the push tests stand up around the real registry: a token issuer the registry trusts (ES256 JWTs with the
 * certificate in x5c, checked against the registry's rootcertbundle), a registry that can be stopped and started
 * again on the same storage, a TCP relay in front of it that stops the registry at a chosen moment of an upload,
 * (ES256 or RS256; GET with basic credentials, POST with an identity token), a small Go volume plugin, and OCI layouts holding several platforms.
 */
import { execa } from 'execa';
import { createHash, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { freePort } from './helpers/engine.js';
import { tarOf, type FixtureEntry } from './helpers/layers.js';

// ---------------------------------------------------------------------------------------------------------------
// Token issuer

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Every scope asked for, in order (for assertions). */
  scopes: string[];
  /** Requests refused for bad credentials. */
  refused: number;
  /** Answer with `access_token` instead of `token`. */
  useAccessToken: boolean;
  /** The identity (refresh) token it accepts on POST grant_type=refresh_token. */
  refreshToken: string;
  /** Requests made with the refresh token. */
  refreshed: number;
  /** Grant at most these actions, whatever was asked (a user with read access only). */
  grantOnly?: string[];
  authYaml(): string;
  close(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenIssuer(dir: string, user: { name: string; password: string }, alg: 'ES256' | 'RS256' = 'ES256'): Promise<TokenIssuer> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, 'issuer.key');
  const certFile = join(dir, 'issuer.crt');
  const keyArgs = alg === 'ES256' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  await execa('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=dpk-test-issuer']);
  const key: KeyObject = createPrivateKey(await readFile(keyFile));
  const certDer = Buffer.from((await readFile(certFile, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const port = await freePort();
  const issuer: TokenIssuer = {
    realm: `http://127.0.0.1:${port}/token`,
    service: 'dpk-test-registry',
    issuer: 'dpk-test-issuer',
    certFile,
    scopes: [],
    refused: 0,
    useAccessToken: false,
    refreshToken: randomBytes(16).toString('hex'),
    refreshed: 0,
    authYaml: () => `auth: {token: {realm: "${issuer.realm}", service: ${issuer.service}, issuer: ${issuer.issuer}, rootcertbundle: ${certFile}}}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const issue = (res: ServerResponse, service: string, scopes: string[], asAccessToken: boolean) => {
    const access = scopes.flatMap((scope) => {
      issuer.scopes.push(scope);
      const m = /^([a-z]+)(?:\(([a-z]+)\))?:(.+):([a-z,*]+)$/.exec(scope);
      const actions = m ? m[4]!.split(',').filter((a) => !issuer.grantOnly || issuer.grantOnly.includes(a)) : [];
      return m ? [{ type: m[1], name: m[3], actions }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg, x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer.issuer, sub: user.name, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const payload = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = alg === 'ES256' ? sign('sha256', Buffer.from(payload), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(payload), key);
    const token = `${payload}.${b64url(signature)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(asAccessToken ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 }));
  };
  const refuse = (res: ServerResponse) => {
    issuer.refused++;
    res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
  };
  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer.realm);
    if (req.method === 'POST') {
      // OAuth2 form: grant_type=refresh_token with an identity token (what docker uses after an OAuth login).
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(parts).toString());
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== issuer.refreshToken) return refuse(res);
        issuer.refreshed++;
        issue(res, form.get('service') ?? '', (form.get('scope') ?? '').split(' ').filter(Boolean), true);
      });
      return;
    }
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const decoded = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
    if (decoded !== `${user.name}:${user.password}`) return refuse(res);
    issue(res, url.searchParams.get('service') ?? '', url.searchParams.getAll('scope'), issuer.useAccessToken);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return issuer;
}

// ---------------------------------------------------------------------------------------------------------------
// A registry that keeps its storage across stop/start

export interface RestartableRegistry {
  /** Storage directory (kept across restarts). */
  dir: string;
  port: number;
  start(): Promise<void>;
  /** SIGKILL: as abrupt as a crash. */
  kill(): void;
  stopped(): Promise<void>;
  destroy(): Promise<void>;
}

export async function restartableRegistry(dir: string): Promise<RestartableRegistry> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, 'registry.yml');
  await writeFile(config, ['version: 0.1', 'log: {level: warn}', `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`, `http: {addr: 127.0.0.1:${port}}`, ''].join('\n'));
  let child: ReturnType<typeof execa> | undefined;
  const registry: RestartableRegistry = {
    dir,
    port,
    start: async () => {
      child = execa('docker-registry', ['serve', config], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', reject: false, cleanup: true });
      const deadline = Date.now() + 30_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200, () => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error('docker-registry did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill: () => child?.kill('SIGKILL'),
    stopped: async () => {
      await child;
    },
    destroy: async () => {
      registry.kill();
      await child;
      await rm(dir, { recursive: true, force: true });
    },
  };
  return registry;
}

// ---------------------------------------------------------------------------------------------------------------
// A relay that lets a test act at a moment of the traffic

export interface Relay {
  port: number;
  /** Sees each chunk going to the registry and the running total of client bytes; 'drop' cuts the connection. */
  onUpstream?: (chunk: Buffer, total: number) => 'forward' | 'drop';
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let total = 0;
  const relay: Relay = {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createNetServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (relay.onUpstream?.(chunk, total) === 'drop') {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return relay;
}

// ---------------------------------------------------------------------------------------------------------------
// A volume plugin in Go: remembers the volumes it was asked to create

export const VOLUME_PLUGIN_GO = `package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"sync"
)

type request struct {
	Name string
}

func main() {
	os.MkdirAll("/run/docker/plugins", 0o755)
	os.Remove("/run/docker/plugins/pushed.sock")
	l, err := net.Listen("unix", "/run/docker/plugins/pushed.sock")
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	volumes := map[string]bool{}
	reply := func(w http.ResponseWriter, v interface{}) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
		json.NewEncoder(w).Encode(v)
	}
	http.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]interface{}{"Implements": []string{"VolumeDriver"}})
	})
	http.HandleFunc("/VolumeDriver.Create", func(w http.ResponseWriter, r *http.Request) {
		var req request
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		volumes[req.Name] = true
		mu.Unlock()
		reply(w, map[string]string{"Err": ""})
	})
	http.HandleFunc("/VolumeDriver.List", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		list := []map[string]string{}
		for name := range volumes {
			list = append(list, map[string]string{"Name": name})
		}
		reply(w, map[string]interface{}{"Volumes": list, "Err": ""})
	})
	http.HandleFunc("/VolumeDriver.Get", func(w http.ResponseWriter, r *http.Request) {
		var req request
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		if !volumes[req.Name] {
			reply(w, map[string]string{"Err": "no such volume"})
			return
		}
		reply(w, map[string]interface{}{"Volume": map[string]string{"Name": req.Name}, "Err": ""})
	})
	http.HandleFunc("/VolumeDriver.Capabilities", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]interface{}{"Capabilities": map[string]string{"Scope": "local"}})
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"Err": ""})
	})
	panic(http.Serve(l, nil))
}
`;

export async function buildVolumePlugin(dir: string, goarch: string): Promise<Buffer> {
  const src = join(dir, `go-${goarch}`);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'main.go'), VOLUME_PLUGIN_GO);
  await writeFile(join(src, 'go.mod'), 'module example.com/pushed\n\ngo 1.20\n');
  const out = join(src, 'plugin');
  await execa('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', out, '.'], { cwd: src, env: { CGO_ENABLED: '0', GOOS: 'linux', GOARCH: goarch, GOFLAGS: '-mod=mod' } });
  return readFile(out);
}

export const VOLUME_PLUGIN_CONFIG = {
  Description: 'a volume plugin pushed by dpk tests',
  Documentation: 'https://example.com/pushed',
  Entrypoint: ['/usr/bin/pushed'],
  Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'pushed.sock' },
  Network: { Type: 'none' },
  Env: [{ Name: 'DEBUG', Description: 'debug output', Settable: ['value'], Value: '0' }],
  Mounts: [{ Name: 'state', Description: 'state dir', Source: '/tmp', Destination: '/state', Type: 'bind', Options: ['rbind'], Settable: ['source'] }],
  Linux: { Capabilities: [] as string[] },
};

/** The rootfs of the plugin image as layer fixture entries. */
export function pluginRootfsEntries(binary: Buffer): FixtureEntry[] {
  return [
    { name: 'usr/', type: 'dir', mode: 0o755 },
    { name: 'usr/bin/', type: 'dir', mode: 0o755 },
    { name: 'usr/bin/pushed', type: 'file', mode: 0o755, content: binary },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
    { name: 'etc/', type: 'dir', mode: 0o755 },
    { name: 'state/', type: 'dir', mode: 0o755 },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// OCI layout with several platforms

function sha(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An OCI image layout whose index names one single-layer image per architecture. */
export async function writeMultiPlatformLayout(dir: string, images: { arch: string; entries: FixtureEntry[] }[]): Promise<void> {
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer) => {
    const digest = sha(data);
    await writeFile(join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const manifests = [];
  for (const image of images) {
    const tar = tarOf(image.entries);
    const layer = await put(gzipSync(tar));
    const config = await put(Buffer.from(JSON.stringify({ architecture: image.arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(tar)] }, config: {} })));
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      ),
    );
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture: image.arch, os: 'linux' } });
  }
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

/** A temporary DOCKER_CONFIG directory holding config. */
export async function dockerConfigDir(dir: string, config: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  return dir;
}

export const basicAuth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
