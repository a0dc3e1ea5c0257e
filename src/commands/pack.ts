/**
 * dpk pack: an image (local engine, docker save archive, OCI layout/archive) becomes a managed plugin.
 *
 * Order matters for "nothing half-done": read and flatten the image, validate the config against the flattened
 * rootfs (errors stop here, before the engine is touched), write --output atomically, then create (replacing with
 * --force) and enable in the engine. Every step registers its undo; failure or cancellation (the signal, wired to
 * Ctrl-C by the CLI) runs them: temporary copies removed, a partial output file removed, a plugin this run created
 * removed.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { validateConfig, type ValidationResult } from '../config/validate.js';
import { createEngineClient, type EngineClient } from '../engine/client.js';
import { DpkError, UsageError } from '../errors.js';
import { openImageArchive } from '../image/archive.js';
import { openEngineImage } from '../image/engine-source.js';
import { flattenImage, type FlattenedImage, type FlattenStats } from '../image/flatten.js';
import type { ImageSource } from '../image/model.js';
import { digester, pluginTar, sha256Of } from '../plugin/artifact.js';
import { readProjectManifest, type ProjectManifest } from '../project/manifest.js';
import { parsePluginReference } from '../reference.js';
import { silentLogger, type Logger } from '../ui/logger.js';
import { colors, stderrLogger } from '../ui/terminal.js';
import type { Finding } from '../config/findings.js';
import { findingLine } from './validate.js';

export interface PackOptions {
  /** Image in the local engine; default: plugin.json's "image". */
  image?: string;
  /** A docker save archive, or an OCI archive or layout directory (no engine needed to read it). */
  archive?: string;
  /** Build the image from the project's Dockerfile first (docker build -t IMAGE .). */
  build?: boolean;
  /** Plugin config; default: plugin.json's "config", else config.json. */
  config?: string;
  /** Plugin reference; default: plugin.json's name:tag. */
  name?: string;
  /** Write the plugin artifact (config.json + rootfs/) to this tar file. */
  output?: string;
  /** With --output, also create the plugin in the engine (without --output, creating is the default). */
  create?: boolean;
  enable?: boolean;
  /** Replace an installed plugin of the same name (disable, remove, create). */
  force?: boolean;
  /** Target architecture for the rootfs checks; default: the engine's when creating, else the image's. */
  arch?: string;
  strict?: boolean;
  /** Give up when the engine is silent this long during one call (default: $DPK_TIMEOUT, else 120). */
  timeoutSeconds?: number;
  cwd?: string;
  engine?: EngineClient;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface PackResult {
  name: string;
  source: string;
  config: string;
  arch?: string;
  rootfs: FlattenStats;
  digests: {
    /** sha256 of config.json as packed. */
    config: string;
    /** sha256 of the --output tar. */
    artifact?: string;
    /** The engine's rootfs layer digest (gzip), as `docker plugin push` will upload it. */
    rootfsLayer?: string;
  };
  output?: { path: string; size: number };
  plugin?: { id: string; enabled: boolean; replaced: boolean };
  validation: Pick<ValidationResult, 'valid' | 'errors' | 'warnings' | 'findings' | 'privileges'>;
}

/** A failed validation, carrying the findings so the CLI can print them (and --json can report them). */
export class PackValidationError extends DpkError {
  constructor(
    readonly result: ValidationResult,
    readonly partial: Omit<PackResult, 'validation'>,
  ) {
    super(`${result.file}: ${result.errors} error${result.errors === 1 ? '' : 's'} against ${partial.source}; nothing was created`, {
      hint: 'fix the findings above (dpk validate shows the same report)',
    });
    this.name = 'PackValidationError';
  }
}

const MAX_CONFIG_BYTES = 4 << 20;
const NO_ROOTFS: FlattenStats = { entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, layers: 0 };

export async function pack(options: PackOptions = {}): Promise<PackResult> {
  const cwd = options.cwd ?? process.cwd();
  const logger = options.logger ?? silentLogger;
  const signal = options.signal;
  const undo: (() => Promise<void>)[] = [];
  // Set once --force has removed an installed plugin of this name: a later failure cannot bring it back, so say so.
  const replacement = { done: false };
  const manifest = await readProjectManifest(cwd);

  const ref = parsePluginReference(...nameOf(options, manifest));
  const createInEngine = options.output === undefined || options.create === true || options.enable === true;
  if (options.enable && !createInEngine) throw new UsageError('--enable needs the plugin created in the engine');
  if (options.build && options.archive) throw new UsageError('--build and --archive exclude each other', { hint: '--build makes an image in the engine; --archive reads a file' });
  const configShown = options.config ?? manifest?.config ?? 'config.json';
  const configText = await readConfig(resolve(cwd, configShown), configShown);
  // What is wrong with the config alone (JSON syntax, types, rules, --strict privileges) stops pack before an image
  // is exported or read: no point reading gigabytes to report a missing comma.
  const early = await validateConfig(configText, { file: configShown, arch: options.arch, strict: options.strict });
  if (!early.valid) {
    throw new PackValidationError(early, { name: ref.familiar, source: 'the config alone (the image was not read)', config: configShown, rootfs: NO_ROOTFS, digests: { config: sha256Of(configText) } });
  }

  let engine = options.engine;
  const getEngine = () => (engine ??= createEngineClient({ logger, idleTimeoutMs: options.timeoutSeconds === undefined ? undefined : options.timeoutSeconds * 1000 }));
  let source: ImageSource | undefined;
  try {
    checkAborted(signal);
    source = await openSource(options, manifest, cwd, getEngine, logger);
    logger.info(`reading ${source.description} (${source.layers.length} layer${source.layers.length === 1 ? '' : 's'})`);
    const image = await flattenImage(source, { signal });
    const arch = options.arch ?? (createInEngine ? goArchOf((await getEngine().version()).Arch) : source.config.architecture);

    const validation = await validateConfig(configText, { file: configShown, rootfs: image.rootfs, arch, strict: options.strict });
    const partial = {
      name: ref.familiar,
      source: source.description,
      config: configShown,
      arch: validation.arch ?? arch,
      rootfs: image.stats,
      digests: { config: sha256Of(configText) },
    };
    if (!validation.valid) throw new PackValidationError(validation, partial);
    const result: PackResult = {
      ...partial,
      validation: { valid: validation.valid, errors: validation.errors, warnings: validation.warnings, findings: validation.findings, privileges: validation.privileges },
    };

    if (options.output !== undefined) {
      const written = await writeArtifact(resolve(cwd, options.output), configText, image, signal, undo);
      result.output = { path: options.output, size: written.size };
      result.digests.artifact = written.digest;
      logger.info(`wrote ${options.output} (${written.size} bytes)`);
    }
    if (createInEngine) {
      const created = await createPlugin(getEngine(), ref.familiar, configText, image, options, logger, undo, replacement);
      result.plugin = { id: created.Id, enabled: created.Enabled, replaced: created.replaced };
      result.digests.rootfsLayer = created.Config.rootfs?.diff_ids?.[0];
    }
    undo.length = 0;
    return result;
  } catch (error) {
    for (const step of undo.reverse()) await step().catch((e) => logger.warn(`cleanup: ${(e as Error).message}`));
    if (signal?.aborted && !(error instanceof PackValidationError)) {
      const lost = replacement.done ? `; the previous ${ref.familiar} had already been removed by --force` : '';
      // The engine's content store may keep a partial upload of an interrupted create (plugins/storage/ingest): it is
      // the engine's, and no API removes it.
      throw new DpkError(`cancelled; no plugin, container or temporary file of this run was left${lost}`, { exitCode: 130, cause: error });
    }
    throw error;
  } finally {
    await source?.close();
  }
}

export function nameOf(options: PackOptions, manifest: ProjectManifest | undefined, flag = '--name'): [string, string] {
  if (options.name !== undefined) return [options.name, flag];
  if (manifest) return [`${manifest.name}:${manifest.tag}`, 'plugin.json name'];
  throw new UsageError('no plugin name: pass --name NAME[:TAG] (there is no plugin.json here)');
}

export function resolve(cwd: string, path: string): string {
  return isAbsolute(path) ? path : join(cwd, path);
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DpkError('cancelled', { exitCode: 130 });
}

/** Docker's Arch ("amd64", "arm64", sometimes "x86_64") in the words validate uses. */
export function goArchOf(arch: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64' } as Record<string, string>)[arch] ?? arch;
}

export async function readConfig(path: string, shown: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new DpkError(`${shown}: is a directory, not a config file`, { hint: 'pass --config path/to/config.json' });
    if (!info.isFile()) throw new DpkError(`${shown}: not a regular file`, { hint: 'pass --config path/to/config.json' });
    if (info.size > MAX_CONFIG_BYTES) throw new DpkError(`${shown}: ${info.size} bytes is too large for a plugin config`);
    return await readFile(path);
  } catch (error) {
    if (error instanceof DpkError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DpkError(`${shown}: no such file`, { hint: 'pass --config path/to/config.json', cause: error });
    throw new DpkError(`${shown}: cannot read: ${(error as Error).message}`, { cause: error });
  }
}

export async function openSource(options: PackOptions, manifest: ProjectManifest | undefined, cwd: string, engine: () => EngineClient, logger: Logger): Promise<ImageSource> {
  if (options.archive !== undefined) return openImageArchive(resolve(cwd, options.archive), { ref: options.image, arch: options.arch });
  const image = options.image ?? manifest?.image;
  if (!image) throw new UsageError('no image to pack: pass --image NAME or --archive FILE (there is no plugin.json here)');
  if (options.build) await buildImage(image, cwd, engine().host, logger, options.signal);
  return openEngineImage(engine(), image, { signal: options.signal, arch: options.arch, what: options.image !== undefined ? '--image' : 'plugin.json image' });
}

/** `docker build` of the project's Dockerfile; the CLI's output goes to stderr as progress. */
async function buildImage(image: string, cwd: string, host: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  const dockerfile = join(cwd, 'Dockerfile');
  if (!(await stat(dockerfile).then((s) => s.isFile(), () => false))) throw new DpkError(`${dockerfile}: no such file`, { hint: '--build builds the project Dockerfile; run dpk pack in the project directory' });
  logger.info(`building ${image} from ${dockerfile}`);
  // execa is loaded on first use: it is ~100 modules, and only --build runs a program.
  const { execa } = await import('execa');
  const result = await execa('docker', ['build', '--force-rm', '-t', image, cwd], {
    env: { DOCKER_HOST: host },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    all: true,
    reject: false,
    cancelSignal: signal,
  });
  if (signal?.aborted) throw new DpkError('cancelled', { exitCode: 130 });
  if (result.exitCode !== 0) {
    const tail = String(result.all ?? '').trim().split('\n').slice(-3).join(' / ');
    throw new DpkError(`docker build of ${image} failed: ${tail || (result.failed ? result.shortMessage : `exit ${result.exitCode}`)}`, { hint: 'run `docker build .` to see the whole output' });
  }
}

/** Write the artifact beside its destination, then rename: the destination is either complete or untouched. */
async function writeArtifact(path: string, config: Buffer, image: FlattenedImage, signal: AbortSignal | undefined, undo: (() => Promise<void>)[]) {
  const dir = dirname(path);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new DpkError(`--output ${path}: directory ${dir} does not exist`);
  if (await stat(path).then((s) => s.isDirectory(), () => false)) throw new DpkError(`--output ${path}: is a directory`, { hint: 'name a file, e.g. plugin.tar' });
  const temp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.dpk-tmp`);
  const hash = digester();
  try {
    await pipeline(pluginTar({ config, image, signal }), hash, createWriteStream(temp, { flags: 'wx', mode: 0o644 }), { signal });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new DpkError(`--output ${path}: the disk is full; nothing was written`, { cause: error });
    throw error;
  }
  undo.push(() => rm(path, { force: true }));
  return hash.result!;
}

async function createPlugin(
  engine: EngineClient,
  name: string,
  config: Buffer,
  image: FlattenedImage,
  options: PackOptions,
  logger: Logger,
  undo: (() => Promise<void>)[],
  replacement: { done: boolean },
) {
  const existing = await engine.inspectPlugin(name);
  let replaced = false;
  if (existing) {
    if (!options.force) {
      throw new DpkError(`plugin ${name} is already installed${existing.Enabled ? ' and enabled' : ''}`, { hint: 'pass --force to replace it (disable, remove, create), or pack under another --name' });
    }
    logger.info(`replacing installed plugin ${name}`);
    if (existing.Enabled) await engine.disablePlugin(name, { force: true });
    await engine.removePlugin(name, { force: true });
    replaced = true;
    replacement.done = true;
  }
  checkAborted(options.signal);
  // From here on, whatever plugin has this name is this run's: remove it if anything fails.
  undo.push(async () => {
    if (await engine.inspectPlugin(name)) await engine.removePlugin(name, { force: true });
  });
  logger.info(`creating plugin ${name} in the engine at ${engine.host}`);
  try {
    await engine.createPlugin(name, pluginTar({ config, image, uniqueRoot: true, signal: options.signal }), options.signal);
  } catch (error) {
    if (replaced && error instanceof DpkError) {
      throw new DpkError(`${error.message}; the previous ${name} was already removed`, { hint: error.hint, cause: error });
    }
    throw error;
  }
  if (options.enable) {
    logger.info(`enabling ${name}`);
    try {
      await engine.enablePlugin(name, { timeoutSeconds: 30 });
    } catch (error) {
      const reason = (error as Error).message.replace(/^the engine refused [^:]*: /, '');
      throw new DpkError(`plugin ${name} was created but does not enable: ${reason}; it was removed again${replaced ? `, and the previous ${name} had already been removed by --force` : ''}`, {
        hint: enableFailureHint(reason, name),
        cause: error,
      });
    }
  }
  const info = await engine.inspectPlugin(name);
  if (!info) throw new DpkError(`plugin ${name} was created but the engine does not list it`);
  return { ...info, replaced };
}

/** What to do about the engine's reason for not enabling a plugin: its runtime errors rarely say it themselves. */
function enableFailureHint(reason: string, name: string): string {
  const mount = /error mounting "([^"]+)"[^]*no such file or directory/.exec(reason);
  if (mount) {
    return `the mount source ${mount[1]} does not exist on the engine's host: create it, or pack without --enable, run \`docker plugin set ${name} <mount>.source=<dir>\`, then enable`;
  }
  if (/dial unix|connect: no such file/.test(reason)) {
    return 'the plugin did not create its socket: check that the entrypoint listens on /run/docker/plugins/<Interface.Socket>; the engine log has the plugin output';
  }
  return 'the engine log has the plugin output (journalctl -u docker, or dockerd --debug)';
}

export interface PackCommandOptions extends PackOptions {
  json?: boolean;
  debug?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream;
}

/** The command as the CLI runs it: warnings and findings to stderr, the summary (or --json) to stdout. */
export async function packCommand(options: PackCommandOptions): Promise<PackResult> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const c = colors(stderr);
  const logger = options.logger ?? stderrLogger({ debug: options.debug, quiet: options.json });
  const printFinding = (f: Finding) => {
    const label = f.severity === 'error' ? c.red('error:') : c.yellow('warning:');
    stderr.write(`${label} ${findingLine(f)} ${c.dim(`(${f.ruleId})`)}\n`);
    if (f.hint && f.severity === 'error') stderr.write(`  ${c.dim('hint:')} ${f.hint}\n`);
  };
  try {
    const result = await pack({ ...options, logger });
    result.validation.findings.forEach(printFinding);
    stdout.write(options.json ? `${JSON.stringify({ ok: true, ...result }, null, 2)}\n` : summary(result));
    return result;
  } catch (error) {
    if (error instanceof PackValidationError) {
      error.result.findings.forEach(printFinding);
      if (options.json) {
        const { valid, errors, warnings, findings, privileges } = error.result;
        stdout.write(`${JSON.stringify({ ok: false, ...error.partial, validation: { valid, errors, warnings, findings, privileges } }, null, 2)}\n`);
      }
    }
    throw error;
  }
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function summary(r: PackResult): string {
  const lines = [`packed ${r.name} from ${r.source}`];
  const s = r.rootfs;
  lines.push(`  rootfs:       ${s.entries} entries (${s.files} files, ${s.dirs} directories, ${s.symlinks} symlinks), ${size(s.bytes)}, from ${s.layers} layer${s.layers === 1 ? '' : 's'}`);
  lines.push(`  config:       ${r.config} ${r.digests.config}`);
  if (r.output) lines.push(`  artifact:     ${r.output.path} ${r.digests.artifact} (${size(r.output.size)})`);
  if (r.plugin) {
    lines.push(`  plugin:       ${r.plugin.id.slice(0, 12)} ${r.plugin.replaced ? 'replaced' : 'created'}${r.plugin.enabled ? ', enabled' : ', disabled'}`);
    if (r.digests.rootfsLayer) lines.push(`  rootfs layer: ${r.digests.rootfsLayer}`);
  }
  if (r.validation.warnings > 0) lines.push(`  warnings:     ${r.validation.warnings} (above)`);
  return `${lines.join('\n')}\n`;
}
