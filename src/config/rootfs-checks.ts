/**
 * Checks of a config against its root filesystem: will the runtime find and execute the entrypoint?
 *
 * Everything is resolved as the plugin process would see it (resolve.ts: inside the rootfs, never on the host).
 * The entrypoint is looked up as runc does (a bare name through the plugin's fixed PATH, a relative path from
 * WorkDir); then what the kernel would execute is checked: an ELF for the target machine whose interpreter and
 * needed libraries are in the rootfs, or a "#!" script whose interpreter is, recursively.
 */
import { ElfError, isElf, machineName, readElf, EM, type ElfInfo } from '../elf.js';
import type { RootfsEntry, RootfsIndex } from '../rootfs/model.js';
import { isExecutableFile, joinInside, lookPath, resolveInRootfs } from '../rootfs/resolve.js';
import { PLUGIN_PATH } from './engine-facts.js';
import { error, warning, type RuleFinding } from './findings.js';

/** A machine a plugin can target, in Docker's platform words. */
export interface Target {
  arch: string;
  class: 32 | 64;
  endianness: 'little' | 'big';
  machine: number;
  /** Debian multiarch directory name, where its libraries live. */
  triplet: string;
}

const TARGETS: Target[] = [
  { arch: 'amd64', class: 64, endianness: 'little', machine: EM.X86_64, triplet: 'x86_64-linux-gnu' },
  { arch: 'arm64', class: 64, endianness: 'little', machine: EM.AARCH64, triplet: 'aarch64-linux-gnu' },
  { arch: 'arm', class: 32, endianness: 'little', machine: EM.ARM, triplet: 'arm-linux-gnueabihf' },
  { arch: '386', class: 32, endianness: 'little', machine: EM.I386, triplet: 'i386-linux-gnu' },
  { arch: 'ppc64le', class: 64, endianness: 'little', machine: EM.PPC64, triplet: 'powerpc64le-linux-gnu' },
  { arch: 's390x', class: 64, endianness: 'big', machine: EM.S390, triplet: 's390x-linux-gnu' },
  { arch: 'riscv64', class: 64, endianness: 'little', machine: EM.RISCV, triplet: 'riscv64-linux-gnu' },
];

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', x64: 'amd64', aarch64: 'arm64', armhf: 'arm', armv7: 'arm', i386: '386', i686: '386', ia32: '386', ppc64: 'ppc64le' };

/** "amd64", "linux/arm64", "arm64/v8", "arm/v7", "aarch64" ... to a Target, or undefined when unknown. */
export function targetFor(arch: string): Target | undefined {
  let name = arch.toLowerCase();
  if (name.startsWith('linux/')) name = name.slice('linux/'.length);
  name = name.split('/')[0] as string;
  name = ARCH_ALIASES[name] ?? name;
  return TARGETS.find((t) => t.arch === name);
}

export function knownArchitectures(): string[] {
  return TARGETS.map((t) => t.arch);
}

/** The architecture of this machine (Node's process.arch) in Docker's words. */
export function hostArch(): string {
  return targetFor(process.arch)?.arch ?? process.arch;
}

const MAX_ELF_BYTES = 256 * 1024 * 1024;
const MAX_LIBRARIES = 128;
const MAX_INTERPRETER_DEPTH = 4; // the kernel allows a few levels of "#!" interpreters

function abs(path: string): string {
  return `/${joinInside('/', path)}`;
}

function rel(path: string): string {
  return joinInside('/', path);
}

function chain(via: string[]): string {
  return via.length > 0 ? ` (${via.join(', ')})` : '';
}

interface Context {
  index: RootfsIndex;
  target: Target;
  cwd: string;
  env: Map<string, string>;
  findings: RuleFinding[];
  /** Libraries already looked for: name -> found path or undefined. */
  libraries: Map<string, string | undefined>;
}

export async function checkRootfs(config: Record<string, unknown>, index: RootfsIndex, target: Target): Promise<RuleFinding[]> {
  const workDir = typeof config.WorkDir === 'string' && config.WorkDir !== '' ? config.WorkDir : '/';
  const env = new Map<string, string>();
  for (const e of Array.isArray(config.Env) ? config.Env : []) {
    const entry = e as Record<string, unknown>;
    if (typeof entry?.Name === 'string' && typeof entry.Value === 'string') env.set(entry.Name, entry.Value);
  }
  const ctx: Context = { index, target, cwd: workDir, env, findings: [], libraries: new Map() };
  checkWorkDir(ctx, config.WorkDir);
  await checkEntrypoint(ctx, config);
  return ctx.findings;
}

function checkWorkDir(ctx: Context, workDir: unknown): void {
  if (typeof workDir !== 'string' || !workDir.startsWith('/')) return;
  const resolved = resolveInRootfs(ctx.index, workDir);
  if (resolved.ok && resolved.entry.type === 'dir') return;
  if (!resolved.ok && resolved.reason === 'missing') {
    ctx.findings.push(
      warning('workdir-missing', 'WorkDir', `${workDir} does not exist in the rootfs: runc creates it, empty, when the plugin starts`, `create ${workDir} in the image if the plugin expects files there`),
    );
    return;
  }
  const what = resolved.ok ? `is a ${describeType(resolved.entry)}` : resolved.reason === 'loop' ? 'is a symlink loop' : `cannot be reached (${resolved.path} is not a directory)`;
  ctx.findings.push(error('workdir-not-a-directory', 'WorkDir', `${workDir} ${what}${chain(resolved.via)}: the plugin cannot start in it`, 'make WorkDir an existing directory of the rootfs'));
}

async function checkEntrypoint(ctx: Context, config: Record<string, unknown>): Promise<void> {
  const entrypoint = Array.isArray(config.Entrypoint) ? config.Entrypoint : [];
  const argsValue = (config.Args as Record<string, unknown> | undefined)?.Value;
  const command = entrypoint.length > 0 ? entrypoint[0] : Array.isArray(argsValue) ? argsValue[0] : undefined;
  const path = entrypoint.length > 0 ? 'Entrypoint[0]' : 'Args.Value[0]';
  if (typeof command !== 'string' || command === '') return; // rules.ts reports it

  const found = lookPath(ctx.index, command, { cwd: ctx.cwd, path: PLUGIN_PATH });
  if (!found.ok) {
    ctx.findings.push(notFound(ctx, command, found, path));
    return;
  }
  const shown = found.path === command ? command : `${command} (${found.path})`;
  await checkExecutable(ctx, found.path, found.entry, path, `${shown}${chain(found.via)}`, 0);
}

function notFound(ctx: Context, command: string, found: Extract<ReturnType<typeof lookPath>, { ok: false }>, path: string): RuleFinding {
  if (found.reason === 'not-executable' && found.candidate) {
    const resolved = resolveInRootfs(ctx.index, found.candidate, { cwd: ctx.cwd });
    if (resolved.ok && resolved.entry.type !== 'file') {
      return error('entrypoint-not-file', path, `${found.candidate} is a ${describeType(resolved.entry)}${chain(resolved.via)}, not a program`, 'point Entrypoint at the plugin binary');
    }
    const mode = resolved.ok ? ` (mode ${(resolved.entry.mode & 0o7777).toString(8).padStart(4, '0')})` : '';
    return error('entrypoint-not-executable', path, `${found.candidate} is not executable${mode}: the runtime cannot start it`, `make it executable in the image (chmod 0755 ${found.candidate}, or COPY --chmod=0755)`);
  }
  if (!command.includes('/')) {
    return error('entrypoint-not-found', path, `"${command}" is not in the plugin's PATH (${PLUGIN_PATH.join(':')}) in the rootfs`, 'give the absolute path of the plugin binary, and check the image copies it there');
  }
  const resolved = resolveInRootfs(ctx.index, command, { cwd: ctx.cwd });
  const where = command.startsWith('/') ? command : `${command} (from WorkDir ${ctx.cwd})`;
  if (!resolved.ok && resolved.reason === 'loop') {
    return error('entrypoint-not-found', path, `${where} is a symlink loop${chain(resolved.via.slice(0, 3))}`, 'fix the symlinks in the image');
  }
  const missing = !resolved.ok && resolved.path !== abs(joinInside(ctx.cwd, command)) ? `: ${resolved.path} is ${resolved.reason === 'missing' ? 'missing' : 'not a directory'}` : '';
  const what = resolved.via.length > 0 ? 'leads nowhere in the rootfs' : 'does not exist in the rootfs';
  return error('entrypoint-not-found', path, `${where} ${what}${missing}${chain(resolved.via)}`, 'check the image copies the plugin binary to that path (symlinks resolve inside the rootfs, not on the host)');
}

function describeType(entry: RootfsEntry): string {
  return { file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'hard link', char: 'character device', block: 'block device', fifo: 'FIFO' }[entry.type];
}

/** Check what the kernel would do when executing `path` (already resolved to a regular executable file). */
async function checkExecutable(ctx: Context, path: string, entry: RootfsEntry, at: string, shown: string, depth: number): Promise<void> {
  const head = await ctx.index.readFile(rel(path), 4096);
  if (head === undefined) return;
  if (isElf(head)) {
    await checkElf(ctx, path, at, shown, true);
    return;
  }
  if (head.subarray(0, 2).toString('latin1') === '#!') {
    await checkScript(ctx, path, head, at, shown, depth);
    return;
  }
  ctx.findings.push(
    error(
      'entrypoint-format',
      at,
      `${shown} is neither an ELF binary nor a "#!" script${entry.size === 0 ? ' (it is empty)' : ''}: the kernel refuses to run it ("exec format error")`,
      'build the binary for Linux, or start the script with a "#!" line',
    ),
  );
}

async function readElfAt(ctx: Context, path: string): Promise<ElfInfo> {
  return readElf(async (length) => (await ctx.index.readFile(rel(path), length)) ?? Buffer.alloc(0), MAX_ELF_BYTES);
}

function matchesTarget(info: ElfInfo, target: Target): boolean {
  return info.machine === target.machine && info.class === target.class && info.endianness === target.endianness;
}

async function checkElf(ctx: Context, path: string, at: string, shown: string, isProgram: boolean): Promise<void> {
  let info: ElfInfo;
  try {
    info = await readElfAt(ctx, path);
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    ctx.findings.push(error('elf-invalid', at, `${shown} is a damaged ELF file (${e.message}): the kernel cannot run it`, 'rebuild the binary and check the image copies it whole'));
    return;
  }
  if (!matchesTarget(info, ctx.target)) {
    ctx.findings.push(
      error(
        'elf-arch',
        at,
        `${shown} is built for ${machineName(info)}, but the plugin targets ${ctx.target.arch}: it fails to start ("exec format error")`,
        `build it for linux/${ctx.target.arch} (Go: GOOS=linux GOARCH=${ctx.target.arch}), or validate with --arch ${machineName(info).split(' ')[0]} if that is the target`,
      ),
    );
    return;
  }
  if (!isProgram || info.interpreter === undefined) return; // static, or a library checked by checkLibraries
  const interpreter = resolveInRootfs(ctx.index, info.interpreter, { cwd: '/' });
  if (!interpreter.ok || interpreter.entry.type !== 'file') {
    ctx.findings.push(
      error(
        'elf-interpreter-missing',
        at,
        `${shown} is dynamically linked and needs the loader ${info.interpreter}, which ${interpreter.ok ? `is a ${describeType(interpreter.entry)}` : 'is not in the rootfs'}${chain(interpreter.via)}: the kernel reports "no such file or directory" for the plugin itself`,
        'build it statically (Go: CGO_ENABLED=0), or copy the C library and its loader into the image',
      ),
    );
    return;
  }
  try {
    const loader = await readElfAt(ctx, interpreter.path);
    if (!matchesTarget(loader, ctx.target)) {
      ctx.findings.push(error('elf-interpreter-missing', at, `the loader ${info.interpreter} of ${shown} is built for ${machineName(loader)}, not ${ctx.target.arch}`, 'copy the loader of the right architecture into the image'));
      return;
    }
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    ctx.findings.push(error('elf-interpreter-missing', at, `the loader ${info.interpreter} of ${shown} is not a valid ELF file (${e.message})`, 'copy a working loader into the image'));
    return;
  }
  await checkLibraries(ctx, path, info, at, shown);
}

/** Where the dynamic loader looks: RPATH (without RUNPATH), LD_LIBRARY_PATH, RUNPATH, ld.so.conf, system dirs. */
async function librarySearchDirs(ctx: Context, objectPath: string, info: ElfInfo): Promise<string[]> {
  const origin = abs(joinInside(objectPath, '..'));
  const expand = (dirs: string[]) => dirs.filter((d) => !/\$(?!ORIGIN|\{ORIGIN\})/.test(d)).map((d) => d.replace(/\$\{?ORIGIN\}?/g, origin));
  const ldLibraryPath = (ctx.env.get('LD_LIBRARY_PATH') ?? '').split(':').filter((d) => d !== '');
  return [
    ...(info.runpath.length === 0 ? expand(info.rpath) : []),
    ...ldLibraryPath,
    ...expand(info.runpath),
    ...(await configuredLibraryDirs(ctx)),
    '/lib',
    '/usr/lib',
    '/lib64',
    '/usr/lib64',
    `/lib/${ctx.target.triplet}`,
    `/usr/lib/${ctx.target.triplet}`,
    '/usr/local/lib',
  ];
}

const configuredCache = new WeakMap<RootfsIndex, string[]>();

/** Directories from /etc/ld.so.conf (glibc, with its include lines) and /etc/ld-musl-*.path (musl). */
async function configuredLibraryDirs(ctx: Context): Promise<string[]> {
  const cached = configuredCache.get(ctx.index);
  if (cached) return cached;
  const dirs: string[] = [];
  const seenFiles = new Set<string>();
  const readConf = async (file: string, depth: number): Promise<void> => {
    if (depth > 4 || seenFiles.has(file) || seenFiles.size > 64) return;
    seenFiles.add(file);
    const resolved = resolveInRootfs(ctx.index, file);
    if (!resolved.ok) return;
    const text = (await ctx.index.readFile(rel(resolved.path), 64 * 1024))?.toString('utf8');
    if (!text) return;
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const include = /^include\s+(.+)$/.exec(line);
      if (include) {
        for (const pattern of (include[1] as string).split(/\s+/)) {
          for (const match of globInRootfs(ctx.index, pattern.startsWith('/') ? pattern : `/etc/${pattern}`)) await readConf(match, depth + 1);
        }
      } else {
        dirs.push(...line.split(/[:\s,]+/).filter((d) => d.startsWith('/')));
      }
    }
  };
  await readConf('/etc/ld.so.conf', 0);
  for (const path of ctx.index.entries.keys()) {
    if (/^etc\/ld-musl-[^/]+\.path$/.test(path)) await readConf(`/${path}`, 0);
  }
  configuredCache.set(ctx.index, dirs);
  return dirs;
}

/** Matches of a pattern whose last component may hold "*" (ld.so.conf's "include /etc/ld.so.conf.d/*.conf"). */
function globInRootfs(index: RootfsIndex, pattern: string): string[] {
  const slash = pattern.lastIndexOf('/');
  const dir = pattern.slice(0, slash);
  const name = pattern.slice(slash + 1);
  const resolvedDir = resolveInRootfs(index, dir || '/');
  if (!resolvedDir.ok) return [];
  const prefix = rel(resolvedDir.path);
  const regex = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  const out: string[] = [];
  for (const path of index.entries.keys()) {
    const parent = path.slice(0, Math.max(0, path.lastIndexOf('/')));
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (parent === prefix && regex.test(base)) out.push(`/${path}`);
  }
  return out.sort();
}

async function findLibrary(ctx: Context, name: string, dirs: string[]): Promise<{ path?: string; wrongArch?: string }> {
  const candidates = name.includes('/') ? [name] : dirs.map((d) => `${d}/${name}`);
  let wrongArch: string | undefined;
  for (const candidate of candidates) {
    const resolved = resolveInRootfs(ctx.index, candidate, { cwd: '/' });
    if (!resolved.ok || resolved.entry.type !== 'file') continue;
    try {
      const info = await readElfAt(ctx, resolved.path);
      if (matchesTarget(info, ctx.target)) return { path: resolved.path };
      wrongArch ??= `${candidate} (${machineName(info)})`;
    } catch (e) {
      if (!(e instanceof ElfError)) throw e;
      // The loader skips files it cannot load, and so do we.
    }
  }
  return { wrongArch };
}

async function checkLibraries(ctx: Context, programPath: string, program: ElfInfo, at: string, shown: string): Promise<void> {
  const queue: { path: string; info: ElfInfo; neededBy: string }[] = [{ path: programPath, info: program, neededBy: shown }];
  const missing: string[] = [];
  let checked = 0;
  while (queue.length > 0 && checked < MAX_LIBRARIES) {
    const { path, info, neededBy } = queue.shift() as (typeof queue)[number];
    if (info.dynamicUnread) {
      ctx.findings.push(warning('elf-unchecked', at, `could not read the dynamic section of ${path} within ${MAX_ELF_BYTES / 1024 / 1024} MiB; its libraries were not checked`));
      continue;
    }
    const dirs = await librarySearchDirs(ctx, path, info);
    for (const name of info.needed) {
      if (ctx.libraries.has(name)) continue;
      checked++;
      const found = await findLibrary(ctx, name, dirs);
      ctx.libraries.set(name, found.path);
      if (!found.path) {
        missing.push(`${name}${neededBy !== shown ? ` (needed by ${neededBy})` : ''}${found.wrongArch ? `; only ${found.wrongArch} is there` : ''}`);
        continue;
      }
      try {
        queue.push({ path: found.path, info: await readElfAt(ctx, found.path), neededBy: found.path });
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
      }
    }
  }
  if (missing.length > 0) {
    const list = missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, and ${missing.length - 8} more` : '');
    ctx.findings.push(
      error(
        'elf-library-missing',
        at,
        `${shown} needs shared libraries that are not in the rootfs: ${list}; the loader stops it at start ("error while loading shared libraries")`,
        'build it statically (Go: CGO_ENABLED=0), or copy those libraries into the image (ldd shows where they come from)',
      ),
    );
  }
}

async function checkScript(ctx: Context, path: string, head: Buffer, at: string, shown: string, depth: number): Promise<void> {
  // The kernel reads the "#!" line from the first 256 bytes (BINPRM_BUF_SIZE) and splits it once, at the first blank.
  const firstLine = head.subarray(2, 256).toString('latin1').split('\n')[0] as string;
  const line = firstLine.replace(/^[ \t]+/, '');
  const crlf = line.endsWith('\r');
  const [interpreter = '', ...rest] = line.replace(/[ \t]+$/, '').split(/[ \t]+/);
  const argument = rest.join(' ');
  if (interpreter === '') {
    ctx.findings.push(error('script-interpreter-missing', at, `${shown} starts with "#!" but names no interpreter`, 'write the interpreter path after "#!", e.g. "#!/bin/sh"'));
    return;
  }
  const resolved = resolveInRootfs(ctx.index, interpreter, { cwd: ctx.cwd });
  if (!resolved.ok || resolved.entry.type !== 'file') {
    ctx.findings.push(
      error(
        'script-interpreter-missing',
        at,
        `${shown} is a script for ${JSON.stringify(interpreter)}, which ${resolved.ok ? `is a ${describeType(resolved.entry)}` : 'is not in the rootfs'}${chain(resolved.via)}: the plugin fails to start ("no such file or directory")`,
        crlf ? 'the script has Windows line endings ("\\r\\n"): convert it to "\\n"' : `add ${interpreter} to the image, or change the "#!" line`,
      ),
    );
    return;
  }
  if (!isExecutableFile(resolved.entry)) {
    ctx.findings.push(error('script-interpreter-invalid', at, `the interpreter ${interpreter} of ${shown} is not executable${chain(resolved.via)}`, `make ${interpreter} executable in the image`));
    return;
  }
  if (depth + 1 > MAX_INTERPRETER_DEPTH) return;
  const interpreterShown = `${interpreter}${chain(resolved.via)}, the interpreter of ${path}`;
  await checkExecutable(ctx, resolved.path, resolved.entry, at, interpreterShown, depth + 1);

  // "#!/usr/bin/env NAME": env then looks NAME up in the plugin's PATH.
  if (/(^|\/)env$/.test(interpreter) && argument !== '') {
    const words = argument.split(/\s+/);
    const name = words[0] === '-S' ? words[1] : words.find((w) => !w.startsWith('-') && !w.includes('='));
    if (name && !name.startsWith('-')) {
      const found = lookPath(ctx.index, name, { cwd: ctx.cwd, path: PLUGIN_PATH });
      if (!found.ok) {
        ctx.findings.push(
          error(
            'script-interpreter-missing',
            at,
            `${shown} runs "${name}" through ${interpreter}, and "${name}" is not ${found.reason === 'not-executable' ? 'executable' : 'found'} in the plugin's PATH (${PLUGIN_PATH.join(':')})`,
            crlf ? 'the script has Windows line endings ("\\r\\n"): convert it to "\\n"' : `add ${name} to the image, or use its absolute path in the "#!" line`,
          ),
        );
      } else {
        await checkExecutable(ctx, found.path, found.entry, at, `${name} (${found.path}), the interpreter of ${path}`, depth + 1);
      }
    }
  }
}
