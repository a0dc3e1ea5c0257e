/**
 * The prompt flow on a real pseudo-terminal: `script` (util-linux) runs the CLI on a pty, the test types the answers
 * when each question appears, then checks the files. Flags given on the command line are not asked again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/create-docker-plugin.js', import.meta.url));
const DOWN = '\x1b[B';
const ENTER = '\r';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'create-pty-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Run the CLI on a pty; answer each question when its text appears. Resolves with the exit code and all output. */
function onTerminal(args: string[], answers: [RegExp, string][]): Promise<{ code: number | null; output: string; asked: string[] }> {
  const command = [process.execPath, bin, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-q', '-f', '-e', '-c', command, '/dev/null'], {
    cwd: work,
    env: { ...process.env, CI: '', TERM: 'xterm', NO_COLOR: '1' },
  });
  let output = '';
  let pending = '';
  const asked: string[] = [];
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    while (answers.length > 0 && answers[0]![0].test(pending)) {
      const [question, answer] = answers.shift()!;
      asked.push(question.source);
      pending = '';
      setTimeout(() => child.stdin.write(answer), 50);
    }
  });
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, asked });
    });
  });
}

test('every question answered on the terminal', async () => {
  const r = await onTerminal(
    [],
    [
      [/Plugin type/, `${DOWN}${DOWN}${ENTER}`], // volume, network, logging
      [/Project directory/, `my-logs${ENTER}`],
      [/Plugin name/, `localhost:5000/acme/my-logs:0.3.0${ENTER}`],
      [/Go module path/, `github.com/acme/my-logs${ENTER}`],
      [/Description/, `Keeps logs${ENTER}`],
    ],
  );
  assert.equal(r.code, 0, r.output);
  assert.equal(r.asked.length, 5, `questions seen: ${r.asked.join(', ')}\n${r.output}`);
  const manifest = JSON.parse(await readFile(join(work, 'my-logs/plugin.json'), 'utf8'));
  assert.equal(manifest.type, 'logging');
  assert.equal(manifest.name, 'localhost:5000/acme/my-logs');
  assert.equal(manifest.tag, '0.3.0');
  assert.equal(manifest.module, 'github.com/acme/my-logs');
  assert.equal(JSON.parse(await readFile(join(work, 'my-logs/config.json'), 'utf8')).Description, 'Keeps logs');
  assert.match(r.output, /Next steps/);
});

test('a bad answer is explained and asked again; defaults are taken with Enter; flags are not asked', async () => {
  const r = await onTerminal(
    ['--type', 'network', 'net-a'],
    [
      [/Plugin name/, `Bad/Name${ENTER}`],
      [/must be lowercase/, `\x15acme/net-a${ENTER}`], // Ctrl-U clears the line before the second try
      [/Go module path/, ENTER],
      [/Description/, ENTER],
    ],
  );
  assert.equal(r.code, 0, r.output);
  assert.doesNotMatch(r.output, /Plugin type|Project directory/);
  const manifest = JSON.parse(await readFile(join(work, 'net-a/plugin.json'), 'utf8'));
  assert.equal(manifest.type, 'network');
  assert.equal(manifest.name, 'acme/net-a');
  assert.equal(manifest.module, 'example.com/acme/net-a');
});

test('a non-empty directory asks before replacing; No leaves it untouched', async () => {
  await mkdir(join(work, 'taken'));
  await writeFile(join(work, 'taken/keep.txt'), 'mine');
  const r = await onTerminal(['taken', '--type', 'network', '--name', 'acme/taken', '--module', 'example.com/taken', '--description', 'x'], [[/Replace its contents/, `n${ENTER}`]]);
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /nothing written/);
  assert.equal(await readFile(join(work, 'taken/keep.txt'), 'utf8'), 'mine');
  assert.ok(!existsSync(join(work, 'taken/plugin.json')));
});

test('Ctrl-C at a question exits without writing anything', async () => {
  const r = await onTerminal(['--type', 'network'], [[/Project directory/, '\x03']]);
  assert.notEqual(r.code, 0);
  assert.match(r.output, /cancelled/);
  assert.ok(!existsSync(join(work, 'my-network-plugin')));
});
