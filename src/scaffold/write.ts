import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DpkError, UsageError } from '../errors.js';
import type { RenderedFile } from './render.js';

/** What is at the target path before writing. */
export type TargetState = 'missing' | 'empty' | 'not-empty';

/** Refuse what must never be written through: a symlink, a file, a parent that is not a directory. */
export async function inspectTarget(directory: string): Promise<TargetState> {
  const target = resolve(directory);
  let stat;
  try {
    stat = await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new DpkError(`${directory}: cannot inspect: ${(error as Error).message}`);
  }
  if (stat.isSymbolicLink()) throw new UsageError(`${directory}: is a symbolic link; the project is never written through one`, { hint: 'name a real directory' });
  if (!stat.isDirectory()) throw new UsageError(`${directory}: exists and is not a directory`, { hint: 'name a new directory for the project' });
  return (await readdir(target)).length === 0 ? 'empty' : 'not-empty';
}

/**
 * Write the project next to its target and move it into place in one rename, so an interrupted run leaves either
 * nothing or the whole project. With replace, the old directory is moved aside first and deleted only once the new
 * one is in place (its .git is carried over: a regenerated project keeps its history).
 */
export async function writeProject(directory: string, files: RenderedFile[], options: { replace: boolean }): Promise<string> {
  const target = resolve(directory);
  const state = await inspectTarget(directory);
  if (state === 'not-empty' && !options.replace) {
    throw new UsageError(`${directory}: exists and is not empty`, { hint: 'choose a new directory, or pass --force to replace its contents' });
  }
  const parent = dirname(target);
  try {
    await mkdir(parent, { recursive: true });
  } catch (error) {
    throw new DpkError(`${parent}: cannot create the parent directory: ${(error as Error).message}`);
  }
  const suffix = randomBytes(4).toString('hex');
  const staging = join(parent, `.${basename(target)}.create-${suffix}`);
  const aside = join(parent, `.${basename(target)}.old-${suffix}`);
  const cleanup = () => rm(staging, { recursive: true, force: true });
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await mkdir(staging, { mode: 0o755 });
    for (const file of files) {
      const path = join(staging, ...file.path.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content, { mode: file.mode, flag: 'wx' });
    }
    if (state === 'missing') {
      await rename(staging, target);
    } else if (state === 'empty') {
      await rmdir(target);
      await rename(staging, target);
    } else {
      await rename(target, aside);
      try {
        await rename(staging, target);
      } catch (error) {
        await rename(aside, target);
        throw error;
      }
      await rename(join(aside, '.git'), join(target, '.git')).catch(() => undefined);
      await rm(aside, { recursive: true, force: true });
    }
    return target;
  } catch (error) {
    await cleanup();
    if (error instanceof DpkError) throw error;
    throw new DpkError(`${directory}: cannot write the project: ${(error as Error).message}`, { cause: error });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
