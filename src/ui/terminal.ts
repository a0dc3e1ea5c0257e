import { Chalk, type ChalkInstance } from 'chalk';
import type { Logger } from './logger.js';
import { printable } from './printable.js';

/** Colour only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function colors(stream: NodeJS.WriteStream = process.stderr): ChalkInstance {
  return new Chalk({ level: useColor(stream) ? 1 : 0 });
}

/** True when prompting is allowed: a TTY on both ends and not in CI. */
export function canPrompt(): boolean {
  const ci = process.env.CI;
  if (ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false') return false;
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Messages and progress go to stderr; stdout is kept for data. */
export function stderrLogger(options: { debug?: boolean; quiet?: boolean } = {}): Logger {
  const c = colors(process.stderr);
  return {
    info: (message) => {
      if (!options.quiet) process.stderr.write(`${printable(message)}\n`);
    },
    warn: (message) => process.stderr.write(`${c.yellow('warning:')} ${printable(message)}\n`),
    debug: (message) => {
      if (options.debug) process.stderr.write(`${c.dim(`debug: ${printable(message)}`)}\n`);
    },
  };
}
