/**
 * dpk validate [config.json] [--rootfs DIR|ARCHIVE|IMAGE] [--arch ARCH] [--strict] [--json]
 *
 * Reads the config (and the rootfs: a directory, an image archive or rootfs tar, or an image in the engine, opened by
 * src/rootfs/open.ts the way dpk pack reads images), runs validateConfig, prints the report on stdout (the report is this
 * command's output), and fails with exit 1 when there are errors. Warnings alone do not fail.
 */
import { readFile, stat } from 'node:fs/promises';
import { printable } from '../ui/printable.js';
import { isAbsolute, join, relative } from 'node:path';
import type { ChalkInstance } from 'chalk';
import { DpkError, UsageError } from '../errors.js';
import { readProjectManifest } from '../project/manifest.js';
import { openRootfs, type OpenedRootfs } from '../rootfs/open.js';
import { createEngineClient, type EngineClient } from '../engine/client.js';
import { hostArch, knownArchitectures, targetFor } from '../config/rootfs-checks.js';
import { validateConfig, type ValidationResult } from '../config/validate.js';
import type { Finding } from '../config/findings.js';
import { colors } from '../ui/terminal.js';

export interface ValidateCommandOptions {
  /** The config file as the user named it; default: what plugin.json names, else config.json. */
  config?: string;
  /** Root filesystem to check the entrypoint against: a directory, an image archive, a rootfs tar or an image ref. */
  rootfs?: string;
  /** Engine to read an image --rootfs from; default: DOCKER_HOST's. Only used when --rootfs names no file. */
  engine?: EngineClient;
  /** Cancels reading an image (the CLI wires Ctrl-C to it); its temporary copy is removed. */
  signal?: AbortSignal;
  arch?: string;
  strict?: boolean;
  json?: boolean;
  cwd?: string;
  stdout?: NodeJS.WritableStream;
}

/** A config.json larger than this is not a plugin config; refusing it keeps memory bounded on hostile input. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export async function validateCommand(options: ValidateCommandOptions = {}): Promise<ValidationResult> {
  const cwd = options.cwd ?? process.cwd();
  const stdout = options.stdout ?? process.stdout;
  const arch = options.arch ?? hostArch();
  if (!targetFor(arch)) throw new UsageError(`--arch ${arch}: unknown architecture`, { hint: `use one of ${knownArchitectures().join(', ')}` });

  const shown = options.config ?? (await readProjectManifest(cwd))?.config ?? 'config.json';
  const configPath = isAbsolute(shown) ? shown : join(cwd, shown);
  const text = await readConfigText(configPath, shown);
  let opened: OpenedRootfs | undefined;
  let result: ValidationResult;
  try {
    if (options.rootfs !== undefined) {
      opened = await openRootfs(options.rootfs, { cwd, arch, signal: options.signal, engine: () => options.engine ?? createEngineClient() });
    }
    result = await validateConfig(text, { file: shown, rootfs: opened?.index, arch, strict: options.strict });
  } catch (error) {
    if (options.signal?.aborted) throw new DpkError('cancelled; nothing was left behind', { exitCode: 130, cause: error });
    throw error;
  } finally {
    await opened?.close();
  }
  if (options.json) {
    const { file, valid, errors, warnings, findings, config, privileges } = result;
    stdout.write(`${JSON.stringify({ file, valid, errors, warnings, findings, config: config ?? null, privileges, ...(result.arch ? { arch: result.arch } : {}) }, null, 2)}\n`);
  } else {
    const rootfsLabel = opened === undefined ? undefined : opened.kind === 'directory' ? displayPath(options.rootfs!) : opened.description;
    stdout.write(formatReport(result, { rootfs: rootfsLabel, color: colors(stdout as NodeJS.WriteStream) }));
  }
  if (!result.valid) {
    throw new DpkError(`${shown}: ${count(result.errors, 'error')}${result.warnings ? `, ${count(result.warnings, 'warning')}` : ''}`, {
      hint: options.strict && result.findings.some((f) => f.ruleId.startsWith('privilege-') && f.severity === 'error') ? 'privileges count as errors with --strict' : undefined,
    });
  }
  return result;
}

async function readConfigText(path: string, shown: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      const inside = await stat(join(path, 'config.json')).then((s) => s.isFile(), () => false);
      throw new DpkError(`${shown}: is a directory, not a config file`, {
        hint: inside ? `pass ${join(shown, 'config.json')} (and --rootfs ${join(shown, 'rootfs')} to check the rootfs too)` : "pass the plugin's config.json",
      });
    }
    if (!info.isFile()) throw new DpkError(`${shown}: not a regular file`, { hint: "pass the plugin's config.json" });
    if (info.size > MAX_CONFIG_BYTES) throw new DpkError(`${shown}: ${info.size} bytes is too large for a plugin config`, { hint: "pass the plugin's config.json" });
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof DpkError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DpkError(`${shown}: no such file`, { hint: 'pass the path of the plugin config: dpk validate path/to/config.json', cause: error });
    throw new DpkError(`${shown}: cannot read: ${(error as Error).message}`, { cause: error });
  }
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The human report: one line per finding ("config.json: Interface.Socket: message (rule-id)") and its hint. */
export function formatReport(result: ValidationResult, options: { /** How to name the rootfs in the summary. */ rootfs?: string; color: ChalkInstance }): string {
  const c = options.color;
  const lines: string[] = [];
  for (const f of result.findings) {
    const label = f.severity === 'error' ? c.red('error:') : c.yellow('warning:');
    lines.push(`${label} ${printable(findingLine(f))} ${c.dim(`(${f.ruleId})`)}`);
    if (f.hint) lines.push(`  ${c.dim('hint:')} ${printable(f.hint)}`);
  }
  if (result.privileges.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push('`docker plugin install` will ask users to grant:');
    for (const p of result.privileges) lines.push(`  - ${p.Name}: ${printable(JSON.stringify(p.Value))}`);
  }
  const checked = options.rootfs !== undefined && result.arch ? ` (rootfs ${options.rootfs} checked for ${result.arch})` : '';
  const summary =
    result.findings.length === 0
      ? `${result.file}: no problems found${checked}`
      : `${result.file}: ${count(result.errors, 'error')}, ${count(result.warnings, 'warning')}${checked}`;
  if (lines.length > 0) lines.push('');
  lines.push(result.valid ? c.green(summary) : c.red(summary));
  return `${lines.join('\n')}\n`;
}

export function findingLine(f: Finding): string {
  return f.path === '' ? `${f.file}: ${f.message}` : `${f.file}: ${f.path}: ${f.message}`;
}

function displayPath(path: string): string {
  return isAbsolute(path) ? path : relative('.', path) || '.';
}
