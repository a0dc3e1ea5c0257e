/**
 * dpk push: publish a plugin to a registry.
 *
 * Through the engine (the default when an engine is reachable and has the plugin, e.g. after `dpk pack`): the
 * engine pushes it, with the user's docker credentials passed in X-Registry-Auth.
 *
 * Without an engine (`--no-engine`, `--platform`, no engine reachable, or the engine lacks the plugin): dpk reads the
 * same sources as pack (an image in the engine, a docker save / OCI archive, the project's plugin.json and config),
 * flattens and validates exactly as pack does, and writes what the engine would push (publish/plugin-image.ts)
 * straight to the registry: blobs first, the manifest last, so a tag never names something incomplete.
 *
 * Several architectures (`--platform linux/amd64,linux/arm64`): the engine installs a plugin from one manifest and
 * checks no architecture, so a manifest list under a plugin tag would not work. Each architecture gets its own tag:
 * linux/amd64 keeps the plain tag (what `docker plugin install NAME:TAG` fetches on most hosts, whatever machine
 * pushed it), every other one gets the tag with "-<arch><variant>" appended: 1.2.0-arm64, 1.2.0-armv7, 1.2.0-ppc64le.
 */
import { Readable } from 'node:stream';
import { createEngineClient, EngineError, type EngineClient } from '../engine/client.js';
import { DpkError, UsageError } from '../errors.js';
import { goArch } from '../image/archive.js';
import { flattenImage } from '../image/flatten.js';
import type { ImageSource } from '../image/model.js';
import { validateConfig, type ValidationResult } from '../config/validate.js';
import type { Finding } from '../config/findings.js';
import { readProjectManifest } from '../project/manifest.js';
import { parsePluginReference, type PluginReference } from '../reference.js';
import { buildPluginImage, openLayer, MANIFEST_V2, type PluginImage } from '../publish/plugin-image.js';
import { createRegistryClient, type RegistryClient } from '../registry/client.js';
import { engineRegistryAuth, findCredentials } from '../registry/credentials.js';
import { silentLogger, type Logger } from '../ui/logger.js';
import { colors, stderrLogger } from '../ui/terminal.js';
import { goArchOf, nameOf, openSource, readConfig, resolve } from './pack.js';
import { findingLine } from './validate.js';

export interface PushOptions {
  /** Plugin reference; default: plugin.json's name:tag. */
  name?: string;
  /** Image in the local engine to build the plugin from (no-engine path); default: plugin.json's "image". */
  image?: string;
  /** A docker save archive, OCI archive or OCI layout (an OCI index may hold several platforms). */
  archive?: string;
  config?: string;
  /** "linux/amd64", "linux/arm64", "linux/arm/v7": one tag per platform. */
  platforms?: string[];
  /** Never push through the engine: dpk writes to the registry itself (the image may still be read from one). */
  noEngine?: boolean;
  /** Plain HTTP to the registry (loopback registries are always plain HTTP). */
  insecure?: boolean;
  /** Attempts per registry operation (default 5). */
  retries?: number;
  /** Seconds of silence before a registry connection is given up (default 60). */
  timeoutSeconds?: number;
  strict?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  engine?: EngineClient;
  logger?: Logger;
  signal?: AbortSignal;
  /** Upload progress of the layer being sent. */
  onProgress?: (event: { reference: string; sent: number; total: number }) => void;
  /** Test hook: shorter waits between retries. */
  retryBaseDelayMs?: number;
}

export interface PushedReference {
  /** name:tag as installed with `docker plugin install`. */
  reference: string;
  tag: string;
  platform?: string;
  /** Manifest digest. */
  digest?: string;
  config?: { digest: string; size: number; existed: boolean };
  layer?: { digest: string; size: number; existed: boolean };
}

export interface PushResult {
  name: string;
  via: 'engine' | 'registry';
  registry: string;
  /** Where the credentials came from (never the credentials); absent when the push was anonymous. */
  credentialsFrom?: string;
  pushed: PushedReference[];
}

export class PushValidationError extends DpkError {
  constructor(readonly result: ValidationResult, source: string) {
    super(`${result.file}: ${result.errors} error${result.errors === 1 ? '' : 's'} against ${source}${result.arch ? ` (${result.arch})` : ''}; nothing was pushed`, {
      hint: 'fix the findings above (dpk validate shows the same report)',
    });
    this.name = 'PushValidationError';
  }
}

interface Platform {
  os: string;
  arch: string;
  variant?: string;
  /** "linux/arm/v7" */
  text: string;
}

export function parsePlatforms(values: string[]): Platform[] {
  const seen = new Set<string>();
  const platforms: Platform[] = [];
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')) {
    const parts = value.split('/');
    const [os, arch, variant] = parts;
    if (parts.length < 2 || parts.length > 3 || !os || !arch || !/^[a-z0-9]+$/.test(arch) || (variant !== undefined && !/^[a-z0-9]+$/.test(variant))) {
      throw new UsageError(`--platform "${value}": expected os/arch[/variant], e.g. linux/arm64`);
    }
    if (os !== 'linux') throw new UsageError(`--platform "${value}": managed plugins run on linux only`);
    const text = [os, arch, variant].filter(Boolean).join('/');
    if (seen.has(text)) throw new UsageError(`--platform lists ${text} twice`);
    seen.add(text);
    platforms.push({ os, arch, variant, text });
  }
  if (platforms.length === 0) throw new UsageError('--platform is empty', { hint: 'e.g. --platform linux/amd64,linux/arm64' });
  return platforms;
}

/** The tag a platform is published under (see the file comment): amd64 keeps the tag, others get a suffix. */
export function platformTag(tag: string, platform: Pick<Platform, 'arch' | 'variant'>): string {
  if (platform.arch === 'amd64') return tag;
  const tagged = `${tag}-${platform.arch}${platform.variant ?? ''}`;
  if (tagged.length > 128) throw new UsageError(`tag "${tag}" is too long to carry the "-${platform.arch}${platform.variant ?? ''}" suffix (128 characters at most)`);
  return tagged;
}

export async function push(options: PushOptions = {}): Promise<PushResult> {
  const cwd = options.cwd ?? process.cwd();
  const logger = options.logger ?? silentLogger;
  const env = options.env ?? process.env;
  const manifest = await readProjectManifest(cwd);
  if (options.name === undefined && !manifest) throw new UsageError('no plugin name: pass NAME[:TAG] (there is no plugin.json here)');
  const ref = parsePluginReference(...nameOf(options, manifest, 'plugin name'));
  const platforms = options.platforms ? parsePlatforms(options.platforms) : undefined;
  if (options.retries !== undefined && (!Number.isInteger(options.retries) || options.retries < 1 || options.retries > 20)) throw new UsageError('--retries must be a whole number from 1 to 20');
  if (options.timeoutSeconds !== undefined && (!(options.timeoutSeconds > 0) || options.timeoutSeconds > 3600)) throw new UsageError('--timeout must be a number of seconds from 1 to 3600');

  let engine = options.engine;
  const getEngine = () => (engine ??= createEngineClient({ logger, env }));
  const throughEngine = !options.noEngine && !platforms && options.archive === undefined && options.image === undefined && options.config === undefined;
  if (throughEngine) {
    const installed = await getEngine().inspectPlugin(ref.familiar).catch((error: unknown) => {
      if (error instanceof DpkError && !(error instanceof EngineError) && /cannot reach the Docker engine/.test(error.message)) {
        logger.info(`no engine reachable (${error.message.replace(/^cannot reach the Docker engine at /, '')}); pushing without one`);
        engine = undefined;
        return undefined;
      }
      throw error;
    });
    if (installed) return pushThroughEngine(getEngine(), ref, options, logger);
    if (engine) logger.info(`plugin ${ref.familiar} is not in the engine at ${getEngine().host}; building it from its image and config`);
  }
  // Even with --no-engine the image may be read from an engine (--image); only the push itself bypasses it.
  return pushToRegistry(ref, platforms, options, cwd, manifest, getEngine, logger, env);
}

async function pushThroughEngine(engine: EngineClient, ref: PluginReference, options: PushOptions, logger: Logger): Promise<PushResult> {
  const credentials = await findCredentials(ref.domain, { env: options.env });
  logger.info(`pushing ${ref.familiar} through the engine at ${engine.host}${credentials ? ` (credentials from ${credentials.source})` : ''}`);
  let pushed;
  try {
    pushed = await engine.pushPlugin(ref.familiar, engineRegistryAuth(credentials, ref.domain), options.signal);
  } catch (error) {
    // When a plain-HTTP registry refuses the credentials, the engine goes on to try HTTPS and reports only that.
    if (error instanceof DpkError && /server gave HTTP response to HTTPS client/.test(error.message)) {
      throw new DpkError(`${error.message}`, {
        hint: `the engine reports the last endpoint it tried: most often ${ref.domain} refused the credentials${credentials ? ` from ${credentials.source}` : ' (none were found)'}; run docker login ${ref.domain}, or dpk push --no-engine to see the registry's own answer`,
        cause: error,
      });
    }
    throw error;
  }
  return { name: ref.name, via: 'engine', registry: ref.domain, credentialsFrom: credentials?.source, pushed: [{ reference: ref.familiar, tag: ref.tag, digest: pushed.digest }] };
}

interface Prepared {
  reference: string;
  tag: string;
  platform?: string;
  image: PluginImage;
}

async function pushToRegistry(
  ref: PluginReference,
  platforms: Platform[] | undefined,
  options: PushOptions,
  cwd: string,
  manifest: Awaited<ReturnType<typeof readProjectManifest>>,
  getEngine: () => EngineClient,
  logger: Logger,
  env: NodeJS.ProcessEnv,
): Promise<PushResult> {
  const configShown = options.config ?? manifest?.config ?? 'config.json';
  const configText = await readConfig(resolve(cwd, configShown), configShown);
  const prepared: Prepared[] = [];
  try {
    // Everything is built and validated before the first byte goes to the registry.
    for (const platform of platforms ?? [undefined]) {
      if (options.signal?.aborted) throw new DpkError('cancelled', { exitCode: 130 });
      let source: ImageSource | undefined;
      try {
        source = await openSource({ image: options.image, archive: options.archive, arch: platform?.arch, signal: options.signal }, manifest, cwd, getEngine, logger).catch((error: unknown) => {
          if (error instanceof DpkError && /^cannot reach the Docker engine/.test(error.message)) {
            throw new DpkError(`${error.message}, which holds the image to push`, { hint: 'start dockerd, or pass --archive FILE (docker save or OCI) to push with no engine at all', cause: error });
          }
          throw error;
        });
        const imageArch = source.config.architecture ? goArchOf(source.config.architecture) : undefined;
        if (platform && imageArch && imageArch !== platform.arch) {
          throw new DpkError(`${source.description} is ${imageArch}, not ${platform.arch}`, {
            hint: 'pass --archive with an OCI archive or layout holding every platform (docker buildx build --platform ... --output type=oci,dest=FILE)',
          });
        }
        const arch = platform?.arch ?? imageArch ?? goArch();
        logger.info(`reading ${source.description}${platform ? ` for ${platform.text}` : ''}`);
        const image = await flattenImage(source, { signal: options.signal });
        const validation = await validateConfig(configText, { file: configShown, rootfs: image.rootfs, arch: platform ? [platform.arch, platform.variant].filter(Boolean).join('/') : arch, strict: options.strict });
        if (!validation.valid || !validation.config) throw new PushValidationError(validation, source.description);
        for (const f of validation.findings) logger.warn(`${findingLine(f)} (${f.ruleId})`);
        const tag = platform ? platformTag(ref.tag, platform) : ref.tag;
        const built = await buildPluginImage(image, validation.config as Record<string, unknown>, { signal: options.signal });
        prepared.push({ reference: `${ref.name}:${tag}`, tag, platform: platform?.text, image: built });
      } finally {
        await source?.close();
      }
    }

    const credentials = await findCredentials(ref.domain, { env });
    const client = createRegistryClient({
      domain: ref.domain,
      repository: ref.path,
      credentials,
      insecure: options.insecure,
      env,
      logger,
      signal: options.signal,
      retry: { attempts: options.retries, baseDelayMs: options.retryBaseDelayMs },
      timeouts: options.timeoutSeconds ? { idleMs: options.timeoutSeconds * 1000 } : undefined,
    });
    logger.info(`pushing to ${client.baseUrl}/v2/${ref.path}${credentials ? ` (credentials from ${credentials.source})` : ''}`);
    const pushed: PushedReference[] = [];
    for (const item of prepared) pushed.push(await pushOne(client, item, options, logger));
    return { name: ref.name, via: 'registry', registry: ref.domain, credentialsFrom: credentials?.source, pushed };
  } catch (error) {
    if (options.signal?.aborted && !(error instanceof PushValidationError)) throw new DpkError('cancelled; no tag was written by this run', { exitCode: 130, cause: error });
    throw error;
  } finally {
    for (const item of prepared) await item.image.dispose();
  }
}

async function pushOne(client: RegistryClient, item: Prepared, options: PushOptions, logger: Logger): Promise<PushedReference> {
  const { image } = item;
  const layer = await client.pushBlob({ digest: image.layer.digest, size: image.layer.size, open: () => openLayer(image) }, (sent) =>
    options.onProgress?.({ reference: item.reference, sent, total: image.layer.size }),
  );
  logger.info(`${item.reference}: layer ${image.layer.digest.slice(7, 19)} ${layer.existed ? 'already there' : `uploaded (${image.layer.size} bytes)`}`);
  const config = await client.pushBlob({ digest: image.config.digest, size: image.config.size, open: () => bufferStream(image.config.data) });
  const digest = await client.putManifest(item.tag, image.manifest.data, MANIFEST_V2);
  if (digest !== image.manifest.digest) throw new DpkError(`the registry stored ${item.reference} as ${digest}, not ${image.manifest.digest}`, { hint: 'the manifest was altered on the way (a proxy?)' });
  logger.info(`${item.reference}: manifest ${digest}`);
  return {
    reference: item.reference,
    tag: item.tag,
    platform: item.platform,
    digest,
    config: { digest: config.digest, size: config.size, existed: config.existed },
    layer: { digest: layer.digest, size: layer.size, existed: layer.existed },
  };
}

async function* once(data: Buffer) {
  yield data;
}
function bufferStream(data: Buffer) {
  return Readable.from(once(data), { objectMode: false });
}

export interface PushCommandOptions extends PushOptions {
  json?: boolean;
  debug?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream;
}

/** As the CLI runs it: messages and progress on stderr, the summary (or --json) on stdout. */
export async function pushCommand(options: PushCommandOptions): Promise<PushResult> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const c = colors(stderr);
  const progress = stderr.isTTY && !options.json ? progressPrinter(stderr) : undefined;
  const base = options.logger ?? stderrLogger({ debug: options.debug, quiet: options.json });
  // A message ends the progress line first, so it starts on a line of its own.
  const logger: Logger = progress
    ? { info: (m) => (progress.done(), base.info(m)), warn: (m) => (progress.done(), base.warn(m)), debug: (m) => (progress.done(), base.debug(m)) }
    : base;
  try {
    const result = await push({ ...options, logger, onProgress: progress?.update });
    progress?.done();
    if (options.json) stdout.write(`${JSON.stringify({ ok: true, ...result }, null, 2)}\n`);
    else for (const p of result.pushed) stdout.write(`pushed ${p.reference}${p.platform ? ` (${p.platform})` : ''}${p.digest ? ` ${p.digest}` : ''}\n`);
    return result;
  } catch (error) {
    progress?.done();
    if (error instanceof PushValidationError) {
      for (const f of error.result.findings) {
        const label = f.severity === 'error' ? c.red('error:') : c.yellow('warning:');
        stderr.write(`${label} ${findingLine(f)} ${c.dim(`(${f.ruleId})`)}\n`);
      }
      if (options.json) stdout.write(`${JSON.stringify({ ok: false, error: error.message, findings: error.result.findings satisfies Finding[] }, null, 2)}\n`);
    } else if (options.json && error instanceof DpkError) {
      stdout.write(`${JSON.stringify({ ok: false, error: error.message, ...(error.hint ? { hint: error.hint } : {}) }, null, 2)}\n`);
    }
    throw error;
  }
}

/** One self-overwriting line: bytes sent of total and the rate, at most ten times a second. */
function progressPrinter(stderr: NodeJS.WriteStream) {
  let last = 0;
  let started = 0;
  let shown = false;
  return {
    update: (event: { reference: string; sent: number; total: number }) => {
      const now = Date.now();
      if (started === 0 || event.sent === 0) started = now;
      if (now - last < 100 && event.sent < event.total) return;
      last = now;
      const seconds = Math.max(0.001, (now - started) / 1000);
      stderr.write(`\r\x1b[K${event.reference}: ${mib(event.sent)} / ${mib(event.total)} (${mib(event.sent / seconds)}/s)`);
      shown = true;
    },
    done: () => {
      if (shown) stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

function mib(bytes: number): string {
  return bytes < 1 << 20 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
