import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DpkError, UsageError } from '../errors.js';
import type { RenderedFile } from './render.js';

/** What is at the target path before writing. */
export type TargetState = 'missing' | 'empty' | 'not-empty';

/** Refuse what must never be written through: a symlink, or something that is not a directory. */
export async function inspectTarget(directory: string): Promise<TargetState> {
  let stat;
  try {
    stat = await lstat(resolve(directory));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new DpkError(`${directory}: cannot inspect: ${(error as Error).message}`);
  }
  if (stat.isSymbolicLink()) throw new UsageError(`${directory}: is a symbolic link; the project is never written through one`, { hint: 'name a real directory' });
  if (!stat.isDirectory()) throw new UsageError(`${directory}: exists and is not a directory`, { hint: 'name a new directory for the project' });
  return (await readdir(resolve(directory))).length === 0 ? 'empty' : 'not-empty';
}

/**
 * Write the whole project into a hidden staging directory inside the target, then move its entries into place, so a
 * failure or Ctrl-C leaves the target as it was (a directory this created is removed again). Nothing is written
 * outside the target. With replace, the old entries (but .git: a regenerated project keeps its history) are moved
 * aside first and deleted only once the new ones are in place.
 */
export async function writeProject(directory: string, files: RenderedFile[], options: { replace: boolean }): Promise<string> {
  const target = resolve(directory);
  const state = await inspectTarget(directory);
  if (state === 'not-empty' && !options.replace) {
    throw new UsageError(`${directory}: exists and is not empty`, { hint: 'choose a new directory, or pass --force to replace its contents' });
  }
  const suffix = randomBytes(4).toString('hex');
  const staging = join(target, `.create-docker-plugin-${suffix}`);
  const aside = join(target, `.create-docker-plugin-old-${suffix}`);
  const movedAside: string[] = [];
  const placed: string[] = [];
  let createdTop: string | undefined;
  // A signal only marks the run as interrupted: the steps below stop at the next check and the one undo runs, so
  // nothing is undone while a step is still moving files.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
  };
  const checkpoint = () => {
    if (interrupted) throw new DpkError('cancelled; nothing was written', { exitCode: interrupted === 'SIGINT' ? 130 : 143 });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (state === 'missing') {
      try {
        createdTop = (await mkdir(target, { recursive: true })) ?? target;
      } catch (error) {
        throw new DpkError(`${directory}: cannot create: ${(error as Error).message}`, { hint: 'check the path and its permissions' });
      }
    }
    await mkdir(staging);
    for (const file of files) {
      checkpoint();
      const path = join(staging, ...file.path.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content, { mode: file.mode, flag: 'wx' });
    }
    checkpoint();
    if (state === 'not-empty') {
      await mkdir(aside);
      for (const name of await readdir(target)) {
        if (name === '.git' || join(target, name) === staging || join(target, name) === aside) continue;
        await rename(join(target, name), join(aside, name));
        movedAside.push(name);
      }
    }
    for (const name of await readdir(staging)) {
      await rename(join(staging, name), join(target, name));
      placed.push(name);
    }
    checkpoint();
    await rmdir(staging);
    if (state === 'not-empty') await rm(aside, { recursive: true, force: true });
    return target;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    for (const name of placed) await rm(join(target, name), { recursive: true, force: true });
    for (const name of movedAside) await rename(join(aside, name), join(target, name)).catch(() => undefined);
    await rmdir(aside).catch(() => undefined);
    // Only directories this run created (mkdir -p of the target and missing parents) are removed.
    if (createdTop) await rm(createdTop, { recursive: true, force: true });
    if (error instanceof DpkError) throw error;
    throw new DpkError(`${directory}: cannot write the project: ${(error as Error).message}`, { cause: error });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
