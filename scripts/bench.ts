/**
 * npm run bench: dpk side by side with the way plugin projects do it today, as ratios of medians. Not a test: nothing
 * is asserted; the table (markdown, stdout) and bench-results.json are the output, progress goes to stderr.
 *
 *   npm run bench [-- --runs 5] [--sizes 10mb,100mb,1gb] [--only pack,publish,startup] [--out bench-results.json]
 *
 * Starts its own engine and loopback registry (test/helpers/engine.ts) and builds its own images FROM scratch
 * (scripts/lib/bench-images.ts); everything is removed at the end. Each pair runs in alternation (dpk first on odd
 * runs, the usual way first on even ones), so a load change on this shared machine falls on both sides alike.
 * Peak RSS of dpk is the "Maximum resident set size" /usr/bin/time reports for the whole node process.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem, version as osVersion } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEngine, startRegistry, type Engine, type Registry } from '../test/helpers/engine.js';
import { benchConfig, buildBenchImage, IMAGE_SPECS, type ImageSpec } from './lib/bench-images.js';
import { CREATE_BIN, DPK_BIN, REPO } from './lib/project.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'startup-runs': { type: 'string' },
    sizes: { type: 'string', default: IMAGE_SPECS.map((s) => s.key).join(',') },
    only: { type: 'string', default: 'pack,publish,startup' },
    out: { type: 'string', default: 'bench-results.json' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('npm run bench [-- --runs N|N,N,N (per size)] [--startup-runs N] [--sizes 10mb,100mb,1gb] [--only pack,publish,startup] [--out FILE]\n');
  process.exit(0);
}
// --runs N, or one count per --sizes entry (e.g. 5,3,1: a 1 GB pair takes minutes per run on a small machine).
const RUN_COUNTS = values.runs!.split(',').map(Number);
if (RUN_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--runs must be a whole number (or a comma-separated list of them), 1 or more');
const RUNS = RUN_COUNTS[0]!;
const STARTUP_RUNS = Number(values['startup-runs'] ?? Math.max(4 * RUNS, 20));
const ONLY = new Set(values.only!.split(',').map((s) => s.trim()));
const SPECS = values.sizes!.split(',').map((key) => {
  const spec = IMAGE_SPECS.find((s) => s.key === key.trim());
  if (!spec) throw new Error(`--sizes: unknown size "${key}" (known: ${IMAGE_SPECS.map((s) => s.key).join(', ')})`);
  return spec;
});
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const say = (text: string) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Measuring

interface Sample {
  seconds: number;
  /** Peak RSS in bytes (dpk runs, when /usr/bin/time is there). */
  rss?: number;
  /** Seconds from the start to the first stderr line matching each phase mark (dpk's progress messages). */
  marks?: Record<string, number>;
}

/** Where a dpk run's time goes, from its progress messages on stderr: each mark starts a phase. */
type Marks = Record<string, RegExp>;
/** The phase before the first mark, by the first mark's name. */
const FIRST_PHASE: Record<string, string> = { 'flatten + validate': 'start-up + docker save', 'flatten + validate + gzip': 'start-up + archive index', 'export + tar -x': 'docker create' };
const PACK_MARKS: Marks = { 'flatten + validate': /^reading image /, 'engine: POST /plugins/create': /^creating plugin / };
const PUSH_MARKS: Marks = { 'flatten + validate + gzip': /^reading archive /, upload: /^pushing to / };
const PIPELINE_MARKS: Marks = { 'export + tar -x': /^phase: export/, 'docker plugin create': /^phase: create/, 'docker rm + rm -rf': /^phase: cleanup/, 'docker plugin push': /^phase: push/ };

interface Side {
  label: string;
  samples: Sample[];
  /** Set when the side could not run (the pair then reports no ratio). */
  unavailable?: string;
}

interface PairResult {
  group: 'pack' | 'publish' | 'startup' | 'scaffold';
  name: string;
  size?: string;
  dpk: Side;
  usual?: Side;
  target?: { ratio?: number; rssBytes?: number };
  notes?: string;
}

class StepFailed extends Error {}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Run a command and time it; with rss, under /usr/bin/time for the peak RSS. Throws StepFailed with its stderr tail. */
async function timed(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; rss?: boolean; marks?: Marks }): Promise<Sample> {
  const rssFile = options.rss && TIME_BIN ? join(tmpdir(), `dpk-bench-rss-${process.pid}`) : undefined;
  const [cmd, cmdArgs] = rssFile ? [TIME_BIN!, ['-f', '%M', '-o', rssFile, file, ...args]] : [file, args];
  const start = process.hrtime.bigint();
  const child = execa(cmd, cmdArgs, { env: options.env, cwd: options.cwd, reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const marks: Record<string, number> = {};
  if (options.marks) {
    let partial = '';
    child.stderr!.on('data', (data: Buffer) => {
      const at = Number(process.hrtime.bigint() - start) / 1e9;
      const lines = (partial + data.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) for (const [phase, re] of Object.entries(options.marks!)) if (marks[phase] === undefined && re.test(line)) marks[phase] = at;
    });
  }
  const result = await child;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.exitCode !== 0) {
    const tail = String(result.stderr).trim().split('\n').filter((l) => !l.startsWith('Command exited with')).slice(-2).join(' / ');
    throw new StepFailed(`${[file, ...args].join(' ').replace(REPO, '.')}: exit ${result.exitCode}: ${tail}`);
  }
  let rss: number | undefined;
  if (rssFile) {
    rss = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop()) * 1024;
    await rm(rssFile, { force: true });
  }
  return { seconds, rss, ...(options.marks ? { marks } : {}) };
}

/**
 * A pair in alternation: run i does dpk then the usual way when i is odd, the other order when even. prepare/cleanup
 * run untimed around each side. A side that fails is marked unavailable with the reason; the other side goes on.
 */
async function alternate(
  runs: number,
  sides: { label: string; prepare?: (run: number) => Promise<void>; run: (run: number) => Promise<Sample>; cleanup?: (run: number) => Promise<void> }[],
): Promise<Side[]> {
  const results: Side[] = sides.map((s) => ({ label: s.label, samples: [] }));
  for (let run = 1; run <= runs; run++) {
    const order = run % 2 === 1 ? sides.map((_, i) => i) : sides.map((_, i) => i).reverse();
    for (const i of order) {
      const side = sides[i]!;
      const result = results[i]!;
      if (result.unavailable) continue;
      try {
        await side.prepare?.(run);
        const sample = await side.run(run);
        result.samples.push(sample);
        say(`    run ${run}/${runs} ${side.label}: ${sample.seconds.toFixed(3)} s${sample.rss ? `, peak RSS ${mb(sample.rss)}` : ''}`);
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
        result.unavailable = `failed: ${error.message}`;
        say(`    run ${run}/${runs} ${side.label}: ${result.unavailable}`);
      } finally {
        await side.cleanup?.(run).catch(() => {});
      }
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// The pairs

/** The pipeline plugin projects use today (Makefiles of published plugins do exactly these steps). */
const PIPELINE = `set -eo pipefail
cid=$(docker create "$IMAGE")
work=$(mktemp -d)
mkdir "$work/rootfs"
echo "phase: export" >&2
docker export "$cid" | tar -x -C "$work/rootfs"
cp "$CONFIG" "$work/config.json"
echo "phase: create" >&2
docker plugin create "$NAME" "$work" >/dev/null
echo "phase: cleanup" >&2
docker rm -v "$cid" >/dev/null
rm -rf "$work"
if [ -n "$PUSH" ]; then echo "phase: push" >&2; docker plugin push "$NAME" >/dev/null; fi
`;

interface Context {
  engine: Engine;
  registry: Registry;
  work: string;
  config: string;
}

async function removePlugin(ctx: Context, name: string): Promise<void> {
  await ctx.engine.docker(['plugin', 'rm', '-f', name]);
}

async function pushAvailable(ctx: Context): Promise<string | undefined> {
  const help = await execa(process.execPath, [DPK_BIN, 'push', '--help'], { env: ctx.engine.env, reject: false, stdin: 'ignore' });
  if (help.exitCode !== 0) return `dpk push --help exits ${help.exitCode}: ${String(help.stderr).trim().split('\n')[0]}`;
  if (!String(help.stdout).includes('--no-engine')) return 'dpk push has no --no-engine option yet';
  return undefined;
}

async function benchSize(ctx: Context, spec: ImageSpec, runs: number): Promise<{ results: PairResult[]; image: Record<string, unknown> }> {
  const tag = `dpk-bench/${spec.key}:latest`;
  say(`\n== ${spec.label} image: generating and building`);
  const built = await buildBenchImage(spec, { env: ctx.engine.env, workDir: ctx.work, tag });
  const archiveBytes = (await execa('stat', ['-c', '%s', built.archive])).stdout;
  say(`   ${built.files} files, ${mb(built.bytes)} of content; docker save archive ${mb(Number(archiveBytes))}`);
  const results: PairResult[] = [];
  const env = ctx.engine.env;

  if (ONLY.has('pack')) {
    say(`-- pack into the engine (${spec.label})`);
    const name = `dpk-bench/pack-${spec.key}:latest`;
    const [dpkSide, usualSide] = await alternate(runs, [
      {
        label: 'dpk pack',
        prepare: () => removePlugin(ctx, name),
        run: () => timed(process.execPath, [DPK_BIN, 'pack', '--image', tag, '--name', name, '--force', '--config', ctx.config], { env, cwd: ctx.work, rss: true, marks: PACK_MARKS }),
      },
      {
        label: 'docker create/export/tar -x/plugin create',
        prepare: () => removePlugin(ctx, name),
        run: () => timed('bash', ['-c', PIPELINE], { env: { ...env, IMAGE: tag, CONFIG: ctx.config, NAME: name, PUSH: '' }, marks: PIPELINE_MARKS }),
      },
    ]);
    await removePlugin(ctx, name);
    results.push({ group: 'pack', name: 'pack into the engine', size: spec.label, dpk: dpkSide!, usual: usualSide!, target: { ratio: 0.55 } });
  }

  if (ONLY.has('publish')) {
    say(`-- publish to the loopback registry (${spec.label})`);
    const unavailable = await pushAvailable(ctx);
    const repo = (who: string, run: number) => `${ctx.registry.host}/dpk-bench/${who}-${spec.key}-r${run}:1.0`;
    const dpkRuns: Side = { label: 'dpk push --no-engine', samples: [], unavailable };
    const sides = await alternate(runs, [
      ...(unavailable
        ? []
        : [
            {
              label: 'dpk push --no-engine',
              // A new repository per run: the registry links blobs per repository, so nothing is "already there".
              run: (run: number) => timed(process.execPath, [DPK_BIN, 'push', repo('dpk', run), '--no-engine', '--archive', built.archive, '--config', ctx.config], { env, cwd: ctx.work, rss: true, marks: PUSH_MARKS }),
            },
          ]),
      {
        label: 'pipeline + docker plugin push',
        run: (run: number) => timed('bash', ['-c', PIPELINE], { env: { ...env, IMAGE: tag, CONFIG: ctx.config, NAME: repo('usual', run), PUSH: '1' }, marks: PIPELINE_MARKS }),
        cleanup: (run: number) => removePlugin(ctx, repo('usual', run)),
      },
    ]);
    const dpkSide = unavailable ? dpkRuns : sides[0]!;
    const usualSide = unavailable ? sides[0]! : sides[1]!;
    if (unavailable) dpkSide.unavailable = `unavailable: ${unavailable}`;
    results.push({
      group: 'publish',
      name: 'publish to a registry',
      size: spec.label,
      dpk: dpkSide,
      usual: usualSide,
      target: { ratio: 0.35 },
      notes: 'dpk reads the docker save archive (as from a daemonless CI build); the pipeline reads the image in the engine',
    });
  }

  await ctx.engine.docker(['rmi', '-f', tag]);
  await rm(built.archive, { force: true });
  return { results, image: { size: spec.label, runs, files: built.files, contentBytes: built.bytes, archiveBytes: Number(archiveBytes), layers: 2 } };
}

async function benchStartup(ctx: Context): Promise<PairResult[]> {
  say(`\n-- start-up (${STARTUP_RUNS} runs each, in alternation)`);
  const env = { ...ctx.engine.env, NO_COLOR: '1' };
  const [node, dpkHelp, createHelp] = await alternate(STARTUP_RUNS, [
    { label: 'node -e 0', run: () => timed(process.execPath, ['-e', '0'], { env }) },
    { label: 'dpk --help', run: () => timed(process.execPath, [DPK_BIN, '--help'], { env }) },
    { label: 'create-docker-plugin --help', run: () => timed(process.execPath, [CREATE_BIN, '--help'], { env }) },
  ]);
  const results: PairResult[] = [
    { group: 'startup', name: 'dpk --help', dpk: dpkHelp!, usual: node!, target: { ratio: 1.5 } },
    { group: 'startup', name: 'create-docker-plugin --help', dpk: createHelp!, usual: node! },
  ];
  for (const type of ['volume', 'network', 'logging', 'authz']) {
    const parent = await mkdtemp(join(ctx.work, `scaffold-${type}-`));
    const [scaffoldSide] = await alternate(RUNS, [
      {
        label: `scaffold ${type}`,
        run: (run) => timed(process.execPath, [CREATE_BIN, join(parent, `p${run}`), '--type', type, '--yes'], { env: { ...env, CI: 'true' } }),
        cleanup: (run) => rm(join(parent, `p${run}`), { recursive: true, force: true }),
      },
    ]);
    results.push({ group: 'scaffold', name: `create-docker-plugin DIR --type ${type} --yes`, dpk: scaffoldSide!, usual: node! });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function mb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function seconds(side: Side | undefined): number | undefined {
  return side && !side.unavailable && side.samples.length > 0 ? median(side.samples.map((s) => s.seconds)) : undefined;
}

function timeCell(value: number | undefined, side: Side | undefined): string {
  if (side?.unavailable) return side.unavailable.slice(0, 160);
  if (value === undefined) return '—';
  return value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
}

/** "start-up + read 1.2 s · flatten + validate 0.4 s · ..." from the marks of each sample. */
function phaseMedians(side: Side): string | undefined {
  const samples = side.samples.filter((s) => s.marks && Object.keys(s.marks).length > 0);
  if (side.unavailable || samples.length === 0) return undefined;
  const names = Object.keys(samples[0]!.marks!);
  const parts: string[] = [];
  const durations = (from: (s: Sample) => number, to: (s: Sample) => number) => median(samples.map((s) => to(s) - from(s)));
  parts.push(`${FIRST_PHASE[names[0]!] ?? 'start'} ${durations(() => 0, (s) => s.marks![names[0]!] ?? s.seconds).toFixed(1)} s`);
  names.forEach((name, i) => {
    const next = names[i + 1];
    parts.push(`${name} ${durations((s) => s.marks![name] ?? s.seconds, (s) => (next ? s.marks![next] : undefined) ?? s.seconds).toFixed(1)} s`);
  });
  return parts.join(' · ');
}

interface Row {
  pair: string;
  size: string;
  dpk: string;
  usual: string;
  ratio: string;
  target: string;
  met: string;
}

function rowsOf(results: PairResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    const a = seconds(r.dpk);
    const b = seconds(r.usual);
    const ratio = a !== undefined && b !== undefined ? a / b : undefined;
    const target = r.target?.ratio;
    rows.push({
      pair: r.group === 'pack' ? 'pack: dpk pack vs create/export/tar/plugin create' : r.group === 'publish' ? 'publish: dpk push --no-engine vs pipeline + plugin push' : r.name,
      size: r.size ?? '',
      dpk: timeCell(a, r.dpk),
      usual: r.usual ? `${timeCell(b, r.usual)}${r.group === 'scaffold' || r.group === 'startup' ? ' (node -e 0)' : ''}` : '',
      ratio: ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      target: target === undefined ? '' : `≤ ${target}×`,
      met: target === undefined || ratio === undefined ? '' : ratio <= target ? 'yes' : '**no**',
    });
  }
  for (const r of results) {
    const phases = phaseMedians(r.dpk);
    const usualPhases = r.usual ? phaseMedians(r.usual) : undefined;
    if (phases || usualPhases) rows.push({ pair: `where the time goes (${r.group}, medians)`, size: r.size ?? '', dpk: phases ?? '', usual: usualPhases ?? '', ratio: '', target: '', met: '' });
  }
  const rss = results.filter((r) => r.dpk.samples.some((s) => s.rss));
  for (const r of rss) {
    const peaks = r.dpk.samples.map((s) => s.rss ?? 0);
    const peak = Math.max(...peaks);
    const isTarget = r.size === '1 GB';
    rows.push({
      pair: `peak RSS of ${r.group === 'pack' ? 'dpk pack' : 'dpk push --no-engine'} (max of runs; median ${mb(median(peaks))})`,
      size: r.size ?? '',
      dpk: mb(peak),
      usual: '',
      ratio: '',
      target: isTarget ? '≤ 150 MB' : '',
      met: isTarget ? (peak <= 150e6 ? 'yes' : '**no**') : '',
    });
  }
  return rows;
}

function markdown(rows: Row[]): string {
  const head = ['what', 'size', 'dpk (median)', 'usual way (median)', 'ratio', 'target', 'met'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.pair, r.size, r.dpk, r.usual, r.ratio, r.target, r.met].map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

async function machine(engine: Engine): Promise<Record<string, unknown>> {
  const cpu = cpus();
  const server = await engine.docker(['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}})']);
  const client = await engine.docker(['version', '--format', '{{.Client.Version}}']);
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memory: mb(totalmem()),
    kernel: `${release()} ${osVersion()}`,
    node: process.version,
    engine: server.stdout.trim(),
    dockerCli: client.stdout.trim(),
    loadAverageAtStart: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  say(`starting a private engine and a loopback registry`);
  const engine = await startEngine();
  let registry: Registry | undefined;
  const work = await mkdtemp(join(tmpdir(), 'dpk-bench-'));
  const stopAll = async () => {
    await registry?.stop().catch(() => {});
    await engine.destroy().catch(() => {});
    await rm(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    say('\ninterrupted: stopping the engine and the registry');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    registry = await startRegistry();
    const config = join(work, 'config.json');
    await writeFile(config, benchConfig());
    const ctx: Context = { engine, registry, work, config };
    const info = await machine(engine);
    say(`machine: ${JSON.stringify(info)}`);
    const results: PairResult[] = [];
    const images: Record<string, unknown>[] = [];
    const out = resolve(process.cwd(), values.out!);
    // Written after every part, marked partial until the end: a long run that is stopped still leaves its numbers.
    const save = async (complete: boolean) => {
      info.loadAverageAtEnd = loadavg().map((l) => l.toFixed(2)).join(' ');
      const rows = rowsOf(results);
      await writeFile(
        out,
        `${JSON.stringify({ date: started.toISOString(), complete, runs: RUN_COUNTS, startupRuns: STARTUP_RUNS, rssMethod: TIME_BIN ? '/usr/bin/time %M (maximum resident set size)' : 'not measured', machine: info, images, table: markdown(rows), rows, results }, null, 2)}\n`,
      );
      return rows;
    };
    if (ONLY.has('startup')) {
      results.push(...(await benchStartup(ctx)));
      await save(false);
    }
    if (ONLY.has('pack') || ONLY.has('publish')) {
      for (const [i, spec] of SPECS.entries()) {
        const size = await benchSize(ctx, spec, RUN_COUNTS[i] ?? RUN_COUNTS[RUN_COUNTS.length - 1]!);
        results.push(...size.results);
        images.push(size.image);
        await save(false);
      }
    }
    const rows = await save(true);
    process.stdout.write(`\n${markdown(rows)}\nMachine: ${info.cpu}, ${info.cores} cores, ${info.memory}, Linux ${String(info.kernel).split(' ')[0]}, node ${info.node}, Docker Engine ${info.engine}; runs per pair: ${SPECS.map((s, i) => `${s.label} ${RUN_COUNTS[i] ?? RUN_COUNTS[RUN_COUNTS.length - 1]}`).join(', ')}, start-up ${STARTUP_RUNS}, scaffold ${RUNS}; medians.\n`);
    say(`wrote ${out}`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
}

await main();
