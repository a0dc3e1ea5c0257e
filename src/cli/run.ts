import { CommanderError } from 'commander';
import { DpkError, messageOf } from '../errors.js';
import { printable } from '../ui/printable.js';
import type { ChalkInstance } from 'chalk';

/**
 * The one exit policy: a known error is printed as one line (plus its hint) with its own exit code; commander's
 * usage errors exit 2; anything else is a bug and shows its stack only with --debug or DPK_DEBUG.
 */
export async function runCli(program: () => Promise<void>): Promise<void> {
  const debug = process.argv.includes('--debug') || Boolean(process.env.DPK_DEBUG);
  try {
    await program();
  } catch (error) {
    // --help and --version end here too (as commander errors); colours (chalk) are loaded only for a real error.
    if (error instanceof CommanderError) {
      process.exitCode = commanderExitCode(error);
      return;
    }
    const { colors } = await import('../ui/terminal.js');
    process.exitCode = reportError(error, debug, colors(process.stderr));
  }
}

export function reportError(error: unknown, debug: boolean, c: ChalkInstance): number {
  if (error instanceof CommanderError) return commanderExitCode(error);
  if (isPromptExit(error)) {
    process.stderr.write(`${c.red('error:')} cancelled\n`);
    return 130;
  }
  if (error instanceof DpkError) {
    process.stderr.write(`${c.red('error:')} ${oneLine(error.message)}\n`);
    if (error.hint) process.stderr.write(`  ${c.dim('hint:')} ${oneLine(error.hint)}\n`);
    if (debug && error.cause) process.stderr.write(`${String((error.cause as Error).stack ?? error.cause)}\n`);
    return error.exitCode;
  }
  process.stderr.write(`${c.red('error:')} ${oneLine(messageOf(error))}\n`);
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write(`  ${c.dim('(run with --debug for a stack trace)')}\n`);
  return 1;
}

/** commander already printed its message; --help and --version are not failures, anything else is a usage error. */
function commanderExitCode(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
  return 2;
}

function oneLine(text: string): string {
  return printable(text.replace(/\s*\n\s*/g, ' ').trim());
}

function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}
