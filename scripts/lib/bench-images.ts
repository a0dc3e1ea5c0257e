/**
 * Deterministic benchmark images: the same bytes on every machine and every run, so timings compare. A root
 * filesystem is generated in a directory (a static busybox as the plugin's entrypoint, many small text files in
 * nested directories, a few large files: some incompressible, some compressible) and built FROM scratch into a
 * two-layer image (small files, then large ones), as a plugin project's multi-stage build would leave it.
 */
import { execa } from 'execa';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { once } from 'node:events';

export interface ImageSpec {
  /** "10mb", "100mb", "1gb": the --sizes key. */
  key: string;
  label: string;
  /** Small text files (source-like), each 256 B to ~4 KiB. */
  smallFiles: number;
  /** Sizes of large incompressible files (AES-CTR keystream). */
  randomFiles: number[];
  /** Sizes of large compressible files (log-like text). */
  textFiles: number[];
}

const MiB = 1 << 20;

export const IMAGE_SPECS: ImageSpec[] = [
  { key: '10mb', label: '10 MB', smallFiles: 300, randomFiles: [3 * MiB], textFiles: [4 * MiB] },
  { key: '100mb', label: '100 MB', smallFiles: 20_000, randomFiles: [20 * MiB, 5 * MiB], textFiles: [20 * MiB, 5 * MiB] },
  { key: '1gb', label: '1 GB', smallFiles: 50_000, randomFiles: [120 * MiB, 120 * MiB, 120 * MiB, 100 * MiB], textFiles: [120 * MiB, 120 * MiB, 120 * MiB, 100 * MiB] },
];

/** Where the plugin binary (a copy of static busybox) lives in every benchmark image. */
export const BENCH_ENTRYPOINT = '/usr/bin/bench-plugin';

/** A small seeded PRNG (xorshift32): deterministic, fast, good enough for file contents and sizes. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = 'the engine plugin volume mount driver request socket layer rootfs config digest registry manifest push pack flatten header entry file directory link error return value index stream buffer'.split(' ');

function textBlock(seed: number, bytes: number): Buffer {
  const next = prng(seed);
  const lines: string[] = [];
  let length = 0;
  while (length < bytes) {
    const words: string[] = [];
    const count = 4 + (next() % 10);
    for (let i = 0; i < count; i++) words.push(WORDS[next() % WORDS.length]!);
    const line = `${String(next() % 100000).padStart(5, '0')} level=${['info', 'debug', 'warn'][next() % 3]} msg="${words.join(' ')}" n=${next() % 1000}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function writeStreamed(path: string, size: number, chunk: (index: number, bytes: number) => Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  let written = 0;
  for (let index = 0; written < size; index++) {
    const bytes = Math.min(MiB, size - written);
    if (!out.write(chunk(index, bytes))) await once(out, 'drain');
    written += bytes;
  }
  out.end();
  await once(out, 'finish');
}

async function writeRandomFile(path: string, size: number, seed: string): Promise<void> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(MiB);
  await writeStreamed(path, size, (_index, bytes) => cipher.update(zeros.subarray(0, bytes)));
}

async function writeTextFile(path: string, size: number, seed: number): Promise<void> {
  // 16 distinct 1 MiB blocks in turn: repeats lie far beyond deflate's 32 KiB window, so it compresses like text.
  const blocks = Array.from({ length: 16 }, (_, i) => textBlock(seed * 31 + i, MiB));
  await writeStreamed(path, size, (index, bytes) => blocks[index % blocks.length]!.subarray(0, bytes));
}

/** Generate the root filesystem of a spec in two directories: base/ (layer 1) and data/ (layer 2). */
export async function generateRootfs(spec: ImageSpec, dir: string): Promise<{ bytes: number; files: number }> {
  const base = join(dir, 'base');
  const data = join(dir, 'data');
  await mkdir(join(base, 'usr/bin'), { recursive: true });
  for (const d of ['tmp', 'etc', 'dev', 'proc', 'sys', 'run/docker/plugins']) await mkdir(join(base, d), { recursive: true });
  await copyFile('/bin/busybox', join(base, BENCH_ENTRYPOINT));
  let bytes = 0;
  const next = prng(0x5eed ^ spec.smallFiles);
  for (let i = 0; i < spec.smallFiles; i++) {
    const size = 256 + (next() % 3840);
    const path = join(base, 'usr/lib/bench', `pkg${Math.floor(i / 400)}`, `mod${Math.floor(i / 20) % 20}`, `file${i}.txt`);
    if (i % 20 === 0) await mkdir(dirname(path), { recursive: true });
    await writeFile(path, textBlock(i + 1, size));
    bytes += size;
  }
  for (const [i, size] of spec.randomFiles.entries()) {
    await writeRandomFile(join(data, 'opt/bench/blobs', `random${i}.bin`), size, `${spec.key}-${i}`);
    bytes += size;
  }
  for (const [i, size] of spec.textFiles.entries()) {
    await writeTextFile(join(data, 'var/lib/bench', `text${i}.log`), size, i + 1);
    bytes += size;
  }
  return { bytes: bytes + 1982256, files: spec.smallFiles + spec.randomFiles.length + spec.textFiles.length + 1 };
}

/**
 * Build the image (docker build FROM scratch, two COPY layers, busybox as entrypoint) and write its docker save
 * archive beside it (the input of the daemonless publish). The generated files are removed afterwards.
 */
export async function buildBenchImage(spec: ImageSpec, options: { env: NodeJS.ProcessEnv; workDir: string; tag: string }): Promise<{ archive: string; bytes: number; files: number }> {
  const context = await mkdtemp(join(tmpdir(), `dpk-bench-${spec.key}-`));
  try {
    const generated = await generateRootfs(spec, context);
    await writeFile(join(context, 'Dockerfile'), ['FROM scratch', 'COPY base/ /', 'COPY data/ /', `ENTRYPOINT ["${BENCH_ENTRYPOINT}"]`, ''].join('\n'));
    await execa('docker', ['build', '-q', '-t', options.tag, context], { env: options.env });
    const archive = join(options.workDir, `${spec.key}.image.tar`);
    await execa('docker', ['save', '-o', archive, options.tag], { env: options.env });
    return { archive, ...generated };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** The plugin config every benchmark run packs: a volume driver, busybox as its (never started) entrypoint. */
export function benchConfig(): string {
  return `${JSON.stringify(
    {
      description: 'dpk benchmark plugin',
      documentation: 'https://example.com/dpk-bench',
      entrypoint: [BENCH_ENTRYPOINT],
      interface: { types: ['docker.volumedriver/1.0'], socket: 'bench.sock' },
      network: { type: 'none' },
    },
    null,
    2,
  )}\n`;
}
