/**
 * A finding is one problem dpk found in a plugin config or its rootfs. Rules produce them; commands print them.
 */
export type Severity = 'error' | 'warning';

export interface Finding {
  /** Stable id of the rule that produced it, e.g. "socket-too-long". */
  ruleId: string;
  severity: Severity;
  /** Where in the config, in engine casing: "Interface.Socket", "Mounts[2].Options[0]"; "" for the whole file. */
  path: string;
  /** One line saying what is wrong and what the engine will do with it. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /** The config file name as the user gave it. */
  file: string;
  /** 1-based line in the file where `path` starts, when the config came from text. */
  line?: number;
}

/** A finding before validate.ts adds the file name and line. */
export type RuleFinding = Omit<Finding, 'file' | 'line'>;

export function error(ruleId: string, path: string, message: string, hint?: string): RuleFinding {
  return { ruleId, severity: 'error', path, message, ...(hint ? { hint } : {}) };
}

export function warning(ruleId: string, path: string, message: string, hint?: string): RuleFinding {
  return { ruleId, severity: 'warning', path, message, ...(hint ? { hint } : {}) };
}

/** "Mounts" + 2 -> "Mounts[2]"; "" + "Interface" -> "Interface". */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}
