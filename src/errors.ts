/**
 * Errors are data: commands throw these, and the entry point alone decides how to print them and which exit code
 * to use. Anything else that escapes is a bug and gets a stack trace.
 */
export class DpkError extends Error {
  /** Exit code the CLI uses for this error: 1 for a failure, 2 for a usage mistake. */
  readonly exitCode: number;
  /** What the user can do about it, printed after the message. */
  readonly hint?: string;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DpkError';
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
  }
}

/** A mistake in how the command was called (bad flag value, missing answer without a TTY). Exit code 2. */
export class UsageError extends DpkError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: 2 });
    this.name = 'UsageError';
  }
}

/** The message of any thrown value, without a stack. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
