/**
 * Every plugin type, generated non-interactively with fixed answers:
 * - the output equals the testdata kept in test/testdata/scaffold/<type> (regenerate it with
 *   UPDATE_GOLDEN=1 node --import tsx --test test/scaffold-templates.test.ts, and review the diff);
 * - gofmt -l prints nothing, go vet and go test pass, and CGO_ENABLED=0 go build gives a static Linux binary.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EM, readElf } from '../src/elf.js';
import { PLUGIN_TYPES } from '../src/project/manifest.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/create-docker-plugin.js', import.meta.url));
const testdata = fileURLToPath(new URL('./testdata/scaffold', import.meta.url));

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'create-templates-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      files.set(relative(dir, path), await readFile(path, 'utf8'));
    }
  }
  return files;
}

for (const type of PLUGIN_TYPES) {
  test(`${type}: generated output equals the testdata, and the Go project formats, vets, tests and builds statically`, async () => {
    const dir = join(work, `my-${type}`);
    await run(process.execPath, [bin, dir, '--type', type, '--name', `localhost:5000/acme/my-${type}:0.1.0`, '--module', `example.com/acme/my-${type}`, '--yes'], {
      env: { ...process.env, CI: 'true' },
    });

    const generated = await filesUnder(dir);
    const golden = join(testdata, type);
    if (process.env.UPDATE_GOLDEN) {
      await rm(golden, { recursive: true, force: true });
      for (const [path, content] of generated) {
        await mkdir(dirname(join(golden, path)), { recursive: true });
        await writeFile(join(golden, path), content);
      }
    }
    const kept = await filesUnder(golden).catch(() => new Map<string, string>());
    assert.deepEqual([...generated.keys()].sort(), [...kept.keys()].sort(), `file list differs from ${golden}: run UPDATE_GOLDEN=1 and review`);
    for (const [path, content] of generated) {
      assert.equal(content, kept.get(path), `${type}/${path} differs from the testdata: run UPDATE_GOLDEN=1 and review the diff`);
    }

    const go = (args: string[], env: NodeJS.ProcessEnv = {}) => run('go', args, { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    const gofmt = await run('gofmt', ['-l', '.'], { cwd: dir });
    assert.equal(gofmt.stdout, '', `gofmt -l lists files in ${type}`);
    await go(['vet', './...']);
    await go(['test', '-count=1', './...']);
    const binary = join(work, `${type}.bin`);
    await go(['build', '-o', binary, '.'], { CGO_ENABLED: '0', GOOS: 'linux', GOARCH: 'amd64' });
    const handle = await open(binary);
    try {
      const info = await readElf(async (length) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, 0);
        return buffer.subarray(0, bytesRead);
      }, 1 << 20);
      assert.equal(info.machine, EM.X86_64);
      assert.equal(info.interpreter, undefined, 'static: no dynamic loader');
      assert.deepEqual(info.needed, [], 'static: no shared libraries');
    } finally {
      await handle.close();
    }
  });
}
