/**
 * The library is silent: it takes a Logger that defaults to doing nothing. The CLI wires one to stderr.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** Only shown with --debug. */
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };
