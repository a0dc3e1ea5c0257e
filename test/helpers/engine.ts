/**
 * A private Docker Engine and registry for tests: own socket, data-root and exec-root, on loopback, stopped and
 * removed afterwards. Tests never talk to an engine they did not start.
 *
 * In CI (CI set) a missing dockerd is a failure; elsewhere tests that need an engine may skip via engineAvailable().
 */
import { execa, type Options } from 'execa';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile, symlink, copyFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Engine {
  /** DOCKER_HOST value: unix:///.../docker.sock */
  host: string;
  socketPath: string;
  dataRoot: string;
  execRoot: string;
  /** Environment for a docker CLI (or dpk) talking to this engine only. */
  env: NodeJS.ProcessEnv;
  /** Run the docker CLI against this engine. */
  docker(args: string[], options?: Options): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** Stop it with SIGTERM (then SIGKILL), and unmount what it left. Data stays, so it can be restarted. */
  stop(): Promise<void>;
  /** Start it again on the same directories, with extra dockerd flags (e.g. --authorization-plugin=NAME). */
  restart(extraArgs?: string[]): Promise<void>;
  /** stop() and remove every directory it used. */
  destroy(): Promise<void>;
  log(): Promise<string>;
}

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** Why an engine cannot be started here, or undefined when it can. */
export async function engineUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'tests that start a Docker Engine must run as root';
  const found = await execa('sh', ['-c', 'command -v dockerd && command -v docker'], { reject: false });
  if (found.exitCode !== 0) return 'dockerd/docker not installed (bash scripts/setup.sh installs them)';
  return undefined;
}

/** A test's skip option: never skips in CI (a missing engine fails there). */
export async function skipWithoutEngine(): Promise<string | false> {
  const reason = await engineUnavailableReason();
  if (reason === undefined) return false;
  if (inCI()) throw new Error(`CI needs a real engine: ${reason}`);
  return reason;
}

async function unmountUnder(dirs: string[]): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && dirs.some((d) => p === d || p.startsWith(`${d}/`)))
    .map((p) => p.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await execa('umount', ['-l', point], { reject: false });
}

export async function startEngine(options: { extraArgs?: string[] } = {}): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), 'dpk-engine-'));
  // A short exec-root keeps containerd's and the engine's own sockets well under the 107-byte unix socket path limit.
  // (Plugin sockets are not under it: on Linux the engine always puts them in /run/docker/plugins/<id>/.)
  const execRoot = `/tmp/x${randomBytes(3).toString('hex').slice(0, 5)}`;
  await mkdir(execRoot, { recursive: false });
  const dataRoot = join(dir, 'data');
  const socketPath = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  const host = `unix://${socketPath}`;
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'client-config') };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  await mkdir(join(dir, 'client-config'));
  let child: ChildProcess | undefined;
  let exitPromise: Promise<void> = Promise.resolve();

  const launch = async (extraArgs: string[]) => {
    const logFd = openSync(logPath, 'a');
    child = spawn(
      'dockerd',
      [
        '--data-root', dataRoot,
        '--exec-root', execRoot,
        '--pidfile', join(dir, 'dockerd.pid'),
        '-H', host,
        '--iptables=false', '--ip-masq=false', '--bridge=none',
        ...extraArgs,
      ],
      { stdio: ['ignore', logFd, logFd], detached: true },
    );
    closeSync(logFd);
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    exitPromise = exited;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const probe = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { env, reject: false });
      if (probe.exitCode === 0) return;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        const log = await readFile(logPath, 'utf8').catch(() => '');
        throw new Error(`dockerd did not start (log ${logPath}):\n${log.split('\n').slice(-25).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exitPromise;
      clearTimeout(timer);
    }
    child = undefined;
    await unmountUnder([dataRoot, execRoot]);
  };

  const engine: Engine = {
    host,
    socketPath,
    dataRoot,
    execRoot,
    env,
    docker: async (args, opts = {}) => {
      const r = await execa('docker', args, { env, reject: false, ...opts });
      return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 1 };
    },
    stop,
    restart: async (extraArgs = []) => {
      await stop();
      await launch([...(options.extraArgs ?? []), ...extraArgs]);
    },
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
      await rm(execRoot, { recursive: true, force: true });
    },
    log: () => readFile(logPath, 'utf8').catch(() => ''),
  };
  try {
    await launch(options.extraArgs ?? []);
  } catch (error) {
    await engine.destroy();
    throw error;
  }
  return engine;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface Registry {
  /** host:port on loopback, e.g. 127.0.0.1:41234; the engine treats loopback registries as insecure (plain HTTP). */
  address: string;
  /** localhost:PORT, the form the engine accepts as insecure without configuration. */
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * The real registry (Debian's docker-registry) on loopback. `htpasswd` adds basic auth; `extraConfig` is appended to
 * the YAML (e.g. a token auth section).
 */
export async function startRegistry(options: { htpasswd?: { user: string; password: string }; authYaml?: string } = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), 'dpk-registry-'));
  const port = await freePort();
  let auth = options.authYaml ?? '';
  if (options.htpasswd) {
    const file = join(dir, 'htpasswd');
    await execa('htpasswd', ['-Bbc', file, options.htpasswd.user, options.htpasswd.password]);
    auth = `auth: {htpasswd: {realm: dpk-test, path: ${file}}}`;
  }
  const config = join(dir, 'registry.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}}`,
      auth,
      '',
    ].join('\n'),
  );
  const child = execa('docker-registry', ['serve', config], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false, detached: true, cleanup: true, buffer: true });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const r = await child;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start: ${String(r.stderr).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    host: `localhost:${port}`,
    url,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await child;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A busybox root filesystem directory (sh, ls, cat, echo, sleep, ...), from Debian's busybox-static. */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox-static is not installed (bash scripts/setup.sh installs it)');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(busybox, join(dir, 'bin/busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'sleep', 'mkdir', 'rm', 'ip', 'ping', 'wget', 'test', 'wc', 'head', 'seq', 'nc', 'grep', 'true', 'false', 'touch', 'stat', 'id']) {
    await symlink('busybox', join(dir, 'bin', applet));
  }
  for (const d of ['tmp', 'etc', 'dev', 'proc', 'sys']) await mkdir(join(dir, d), { recursive: true });
}

/** `docker import` a busybox rootfs as NAME into the engine (nothing is pulled). */
export async function importBusyboxImage(engine: Engine, name = 'dpk-test/busybox:latest'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dpk-busybox-'));
  try {
    await makeBusyboxRootfs(dir);
    const tar = execa('tar', ['-C', dir, '-c', '.'], { buffer: false, stdout: 'pipe' });
    const imp = execa('docker', ['import', '-', name], { env: engine.env, stdin: 'pipe' });
    tar.stdout!.pipe(imp.stdin!);
    await Promise.all([tar, imp]);
    return name;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
