/**
 * The real engine agrees with dpk validate: each config below is created and enabled on a private engine, and what
 * the engine does (refuses at enable, accepts, silently drops) is what dpk's finding says it will do. This is the
 * evidence behind the rules' severities.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { EM } from '../src/elf.js';
import { hostArch } from '../src/config/rootfs-checks.js';
import { validateConfig, type ValidationResult } from '../src/config/validate.js';
import { indexDirectory } from '../src/rootfs/dir.js';
import { makeElf } from './elf-fixture.js';
import { skipWithoutEngine, startEngine, type Engine } from './helpers/engine.js';

const run = promisify(execFile);

/** A plugin that listens on the socket path given as its first argument and answers every request with {}. */
const LISTENER = `package main

import (
	"net"
	"net/http"
	"os"
)

func main() {
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\\n")
		os.Exit(1)
	}
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
		if r.URL.Path == "/Plugin.Activate" {
			w.Write([]byte(\`{"Implements":["VolumeDriver"]}\`))
			return
		}
		w.Write([]byte("{}"))
	}))
}
`;

interface Case {
  name: string;
  config: (socket: string) => Record<string, unknown>;
  socket?: string;
  /** What dpk must say: a rule id with its severity, or nothing. */
  dpk: { ruleId: string; severity: 'error' | 'warning' } | 'clean';
  /** What the engine must do at enable: succeed, or fail with this message. */
  enable: 'ok' | RegExp;
  after?: (engine: Engine, name: string, socket: string) => Promise<void>;
  entrypoint?: 'listener' | 'foreign-elf' | 'none';
}

const volume = (socket: string, extra: Record<string, unknown> = {}) => ({
  Description: 'dpk engine agreement test',
  Entrypoint: ['/bin/plugin', `/run/docker/plugins/${socket}`],
  Interface: { Types: ['docker.volumedriver/1.0'], Socket: socket },
  PropagatedMount: '/data',
  ...extra,
});

const CAP_SYS_ADMIN_BIT = 21n;

async function capEffOf(socket: string): Promise<bigint> {
  // The plugin process is the listener whose argument names its socket.
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(`/run/docker/plugins/${socket}`)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
    }
  }
  throw new Error(`no plugin process for ${socket}`);
}

const cases: Case[] = [
  { name: 'a 22-byte socket name enables', socket: `${'s'.repeat(17)}.sock`, config: (s) => volume(s), dpk: 'clean', enable: 'ok' },
  { name: 'a 23-byte socket name fails', socket: `${'t'.repeat(18)}.sock`, config: (s) => volume(s), dpk: { ruleId: 'socket-too-long', severity: 'error' }, enable: /invalid argument|too long/ },
  {
    name: 'a bind mount without bind/rbind fails',
    config: (s) => volume(s, { Mounts: [{ Source: '/tmp', Destination: '/mnt', Type: 'bind' }] }),
    dpk: { ruleId: 'mount-bind-option-missing', severity: 'error' },
    enable: /no such device/,
  },
  { name: 'a relative WorkDir fails', config: (s) => volume(s, { WorkDir: 'data' }), dpk: { ruleId: 'workdir-not-absolute', severity: 'error' }, enable: /Cwd must be an absolute path/ },
  {
    name: 'a mount without Source fails',
    config: (s) => volume(s, { Mounts: [{ Name: 'm', Destination: '/mnt', Options: ['rbind'], Settable: ['source'] }] }),
    dpk: { ruleId: 'mount-source-missing', severity: 'error' },
    enable: /mount source is not specified/,
  },
  { name: 'a missing WorkDir is created by runc', config: (s) => volume(s, { WorkDir: '/does/not/exist' }), dpk: { ruleId: 'workdir-missing', severity: 'warning' }, enable: 'ok' },
  { name: 'a missing entrypoint fails', config: (s) => volume(s), entrypoint: 'none', dpk: { ruleId: 'entrypoint-not-found', severity: 'error' }, enable: /no such file or directory|not found/ },
  { name: 'an entrypoint for another machine fails', config: (s) => volume(s), entrypoint: 'foreign-elf', dpk: { ruleId: 'elf-arch', severity: 'error' }, enable: /exec format error|connect|no such file|timeout|dial/i },
  {
    name: 'an unknown bind option is accepted and ignored',
    config: (s) => volume(s, { Mounts: [{ Source: '/tmp', Destination: '/mnt', Options: ['rbind', 'r'] }] }),
    dpk: { ruleId: 'mount-option-unknown', severity: 'error' },
    enable: 'ok',
  },
  {
    name: 'a capability without CAP_ is dropped silently',
    config: (s) => volume(s, { Linux: { Capabilities: ['sys_admin'] } }),
    dpk: { ruleId: 'capability-unknown', severity: 'error' },
    enable: 'ok',
    after: async (_engine, _name, socket) => assert.equal((await capEffOf(socket)) & (1n << CAP_SYS_ADMIN_BIT), 0n, 'the plugin runs without CAP_SYS_ADMIN'),
  },
  {
    name: 'CAP_SYS_ADMIN spelt right is granted',
    config: (s) => volume(s, { Linux: { Capabilities: ['CAP_SYS_ADMIN'] } }),
    dpk: { ruleId: 'privilege-capability', severity: 'warning' },
    enable: 'ok',
    after: async (_engine, _name, socket) => assert.notEqual((await capEffOf(socket)) & (1n << CAP_SYS_ADMIN_BIT), 0n),
  },
  {
    name: 'Settable "Value" can never be set',
    config: (s) => volume(s, { Env: [{ Name: 'LEVEL', Value: '1', Settable: ['Value'] }] }),
    dpk: { ruleId: 'settable-field-invalid', severity: 'error' },
    enable: 'ok',
    after: async (engine, name) => {
      assert.equal((await engine.docker(['plugin', 'disable', name])).exitCode, 0);
      const set = await engine.docker(['plugin', 'set', name, 'LEVEL=2']);
      assert.notEqual(set.exitCode, 0);
      assert.match(set.stderr, /"LEVEL\.Value" is not settable/);
    },
  },
];

test('the engine does what dpk validate says it will', { skip: await skipWithoutEngine(), timeout: 600_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'dpk-validate-engine-'));
  const engine = await startEngine();
  try {
    await writeFile(join(work, 'main.go'), LISTENER);
    await writeFile(join(work, 'go.mod'), 'module listener\n\ngo 1.21\n');
    await run('go', ['build', '-o', join(work, 'listener'), '.'], { cwd: work, env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' } });
    const foreign = makeElf({ machine: hostArch() === 'arm64' ? EM.X86_64 : EM.AARCH64 });

    let n = 0;
    for (const c of cases) {
      await t.test(c.name, async () => {
        const name = `dpk-agree-${n++}`;
        const socket = c.socket ?? `p${n}.sock`;
        const dir = join(work, name);
        await mkdir(join(dir, 'rootfs/bin'), { recursive: true });
        await mkdir(join(dir, 'rootfs/data'), { recursive: true });
        await writeFile(join(dir, 'rootfs/case'), `${name}\n`); // identical rootfs content would collide in the engine's store
        if ((c.entrypoint ?? 'listener') === 'listener') await copyFile(join(work, 'listener'), join(dir, 'rootfs/bin/plugin'));
        if (c.entrypoint === 'foreign-elf') await writeFile(join(dir, 'rootfs/bin/plugin'), foreign);
        if (c.entrypoint !== 'none') await chmod(join(dir, 'rootfs/bin/plugin'), 0o755);
        const config = c.config(socket);
        await writeFile(join(dir, 'config.json'), JSON.stringify(config));

        const result: ValidationResult = await validateConfig(JSON.stringify(config), { file: 'config.json', rootfs: await indexDirectory(join(dir, 'rootfs')) });
        if (c.dpk === 'clean') assert.deepEqual(result.findings, []);
        else {
          const expected = c.dpk;
          const hit = result.findings.find((f) => f.ruleId === expected.ruleId);
          assert.equal(hit?.severity, expected.severity, JSON.stringify(result.findings));
        }

        const created = await engine.docker(['plugin', 'create', name, dir]);
        assert.equal(created.exitCode, 0, created.stderr);
        const id = (await engine.docker(['plugin', 'inspect', '-f', '{{.Id}}', name])).stdout.trim();
        try {
          const enabled = await engine.docker(['plugin', 'enable', '--timeout', '20', name]);
          if (c.enable === 'ok') assert.equal(enabled.exitCode, 0, enabled.stderr);
          else {
            assert.notEqual(enabled.exitCode, 0, 'the engine enabled it');
            assert.match(enabled.stderr, c.enable);
          }
          await c.after?.(engine, name, socket);
        } finally {
          await engine.docker(['plugin', 'rm', '-f', name]);
          // A failed enable can leave the engine's empty socket directory behind on the host: remove only ours.
          if (/^[0-9a-f]{64}$/.test(id)) await rmdir(join('/run/docker/plugins', id)).catch(() => undefined);
        }
      });
    }
  } finally {
    await engine.destroy();
    await rm(work, { recursive: true, force: true });
  }
});
