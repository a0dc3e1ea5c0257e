/**
 * validateConfig: everything dpk knows about a plugin config, as data. Used by `dpk validate` and by `dpk pack`
 * (on the flattened image's rootfs). Silent: it returns findings and never prints or throws for a bad config; it
 * throws only for a bad call (an unknown architecture).
 *
 * Passes: parse and normalise keys as the engine does (parse.ts), types against the JSON Schema (schema.ts, with
 * ajv), semantic rules (rules.ts), privileges (privileges.ts), then, with a rootfs, the entrypoint as the runtime
 * would start it (rootfs-checks.ts).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { DpkError } from '../errors.js';
import type { RootfsIndex } from '../rootfs/model.js';
import type { Position } from './json.js';
import { joinPath, type Finding, type RuleFinding } from './findings.js';
import { parseConfig } from './parse.js';
import { privilegeFindings, privilegesOf, strictPrivileges } from './privileges.js';
import { checkRootfs, hostArch, knownArchitectures, targetFor } from './rootfs-checks.js';
import { runRules } from './rules.js';
import { pluginConfigSchema } from './schema.js';
import type { PluginConfig, PluginPrivilege } from './types.js';

export interface ValidateOptions {
  /** The name findings carry, as the user gave it ("config.json", "plugin/config.json", "image:tag config"). */
  file: string;
  /** The plugin's root filesystem; without it the rootfs checks are skipped. */
  rootfs?: RootfsIndex;
  /** Target architecture in Docker's words (amd64, arm64, arm/v7, ...); default: this machine's. */
  arch?: string;
  /** Privilege warnings become errors. */
  strict?: boolean;
}

export interface ValidationResult {
  file: string;
  /** No errors (warnings allowed). */
  valid: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
  /** The config as the engine would read it, in engine casing; undefined when it is not a JSON object at all. */
  config?: PluginConfig;
  /** What `docker plugin install` will ask users to grant. */
  privileges: PluginPrivilege[];
  /** The architecture the rootfs was checked against, when it was. */
  arch?: string;
}

export async function validateConfig(input: string | Buffer | object, options: ValidateOptions): Promise<ValidationResult> {
  const arch = options.arch ?? hostArch();
  const target = targetFor(arch);
  if (!target) throw new DpkError(`unknown architecture "${arch}"`, { hint: `use one of ${knownArchitectures().join(', ')}`, exitCode: 2 });

  const parsed = parseConfig(Buffer.isBuffer(input) ? input.toString('utf8') : input);
  if (!parsed.ok) {
    return result(options, [{ ...parsed.finding, file: options.file, ...(parsed.position ? { line: parsed.position.line } : {}) }], undefined, []);
  }
  const { value, findings: keyFindings, positions } = parsed.normalised;
  const config = value as Record<string, unknown>;

  const findings: RuleFinding[] = [...keyFindings, ...schemaFindings(config), ...runRules(config)];
  const privileges = privilegeFindings(config);
  findings.push(...(options.strict ? strictPrivileges(privileges) : privileges));
  if (options.rootfs) findings.push(...(await checkRootfs(config, options.rootfs, target)));

  const located = findings.map((f): Finding => {
    const line = lineOf(positions, f.path);
    return { ...f, file: options.file, ...(line ? { line } : {}) };
  });
  return { ...result(options, located, config as PluginConfig, privilegesOf(config)), ...(options.rootfs ? { arch: target.arch } : {}) };
}

function result(options: ValidateOptions, findings: Finding[], config: PluginConfig | undefined, privileges: PluginPrivilege[]): ValidationResult {
  const errors = findings.filter((f) => f.severity === 'error').length;
  return {
    file: options.file,
    valid: errors === 0,
    errors,
    warnings: findings.length - errors,
    findings,
    ...(config ? { config } : {}),
    privileges,
  };
}

/** The line of the nearest enclosing path that has a position ("Mounts[2].Options[0]" -> "Mounts[2]" -> ...). */
function lineOf(positions: Map<string, Position>, path: string): number | undefined {
  let p = path;
  for (;;) {
    const position = positions.get(p);
    if (position && position.line > 0) return position.line;
    if (p === '') return undefined;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut < 0 ? '' : p.slice(0, cut);
  }
}

// --- types, by the JSON Schema -----------------------------------------------------------------------------------

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(pluginConfigSchema);
  return compiled;
}

function schemaFindings(config: Record<string, unknown>): RuleFinding[] {
  const validate = schemaValidator();
  if (validate(config)) return [];
  const out: RuleFinding[] = [];
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    const path = toPath(e.instancePath);
    if (seen.has(path)) continue; // one finding per value is enough
    seen.add(path);
    out.push({
      ruleId: 'json-type',
      severity: 'error',
      path,
      message: describeSchemaError(e, valueAt(config, e.instancePath)),
      hint: 'the engine refuses the whole config when a value has the wrong type ("failed to parse config: json: cannot unmarshal ...")',
    });
  }
  return out;
}

/** "/Mounts/2/Options/0" -> "Mounts[2].Options[0]" */
function toPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path = /^\d+$/.test(part) ? joinPath(path, Number(part)) : joinPath(path, part);
  }
  return path;
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    value = (value as Record<string, unknown> | undefined)?.[part];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `${typeof value === 'number' && !Number.isInteger(value) ? 'the number' : `the ${typeof value}`} ${String(value)}`;
}

function describeSchemaError(e: ErrorObject, value: unknown): string {
  const where = e.instancePath === '' ? 'the config' : toPath(e.instancePath);
  if (e.keyword === 'type') {
    const wanted = String((e.params as { type: string | string[] }).type)
      .split(',')
      .filter((t) => t !== 'null');
    const words: Record<string, string> = { string: 'a string', array: 'an array', object: 'an object', boolean: 'true or false', integer: 'a whole number', number: 'a number' };
    return `${where} must be ${wanted.map((t) => words[t] ?? t).join(' or ')}, not ${describeValue(value)}`;
  }
  if (e.keyword === 'minimum' || e.keyword === 'maximum') return `${where} must be between 0 and 4294967295, not ${describeValue(value)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}
