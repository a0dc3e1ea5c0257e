/**
 * Turns config.json text into the config the engine would see, in the engine's casing, and says what the engine
 * would silently do differently from what the author wrote.
 *
 * The engine reads config.json with Go's encoding/json into moby's PluginConfig (plugin/backend_linux.go
 * CreateFromContext: json.Unmarshal, then a validateConfig that is an empty TODO). So, as Go does:
 * - a key matches a field case-insensitively, an exact match first (Go's fold also maps U+212A KELVIN SIGN to "k" and
 *   U+017F LONG S to "s");
 * - an unknown key is dropped without a word: dpk makes it an error with a "did you mean" hint, because the author
 *   meant something by it and the engine will not do it;
 * - a key given twice (in any casing) keeps the last value, objects merging field by field;
 * - null leaves a field unset, and a null array element becomes the element's zero value.
 */
import { fromPlain, JsonSyntaxError, parseJson, type JsonNode, type Position } from './json.js';
import { error, joinPath, warning, type RuleFinding } from './findings.js';
import { pluginConfigSchema } from './schema.js';

export interface NormalisedConfig {
  /** The config in engine casing; types are not checked yet (the schema does that). */
  value: unknown;
  findings: RuleFinding[];
  /** Where each normalised path starts in the file (absent for configs given as objects). */
  positions: Map<string, Position>;
}

export type ParseOutcome = { ok: true; normalised: NormalisedConfig } | { ok: false; finding: RuleFinding; position?: Position };

/** Parse text (or take an already parsed value) and normalise it. A syntax error is a single finding, not a throw. */
export function parseConfig(input: string | object): ParseOutcome {
  let root: JsonNode;
  try {
    root = typeof input === 'string' ? parseJson(input) : fromPlain(input);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const where = e.line > 0 ? `line ${e.line}, column ${e.column}: ` : '';
    return {
      ok: false,
      finding: error('json-syntax', '', `${where}${e.message}`, 'the engine reads config.json with a strict JSON decoder; fix the syntax'),
      position: e.line > 0 ? { line: e.line, column: e.column } : undefined,
    };
  }
  if (root.kind !== 'object') {
    return {
      ok: false,
      finding: error('json-type', '', `the config must be a JSON object, not ${describeKind(root)}`, 'write it as { "Entrypoint": [...], "Interface": {...}, ... }'),
      position: root.line > 0 ? { line: root.line, column: root.column } : undefined,
    };
  }
  const walker = new Normaliser();
  const value = walker.node(root, pluginConfigSchema as SchemaNode, '');
  walker.positions.set('', { line: root.line, column: root.column });
  return { ok: true, normalised: { value, findings: walker.findings, positions: walker.positions } };
}

// ---------------------------------------------------------------------------------------------------------------

interface SchemaNode {
  $ref?: string;
  type?: string | readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

function resolve(schema: SchemaNode): SchemaNode {
  if (schema.$ref === undefined) return schema;
  const name = schema.$ref.replace('#/definitions/', '');
  const definitions = pluginConfigSchema.definitions as Record<string, SchemaNode>;
  const target = definitions[name];
  if (!target) throw new Error(`schema: unresolved $ref ${schema.$ref}`);
  return target;
}

function hasType(schema: SchemaNode, type: string): boolean {
  return schema.type === type || (Array.isArray(schema.type) && schema.type.includes(type));
}

/** Go's case folding for field names (encoding/json foldName): ASCII case, plus the two non-ASCII folds to ASCII. */
export function foldKey(key: string): string {
  return key.replace(/\u212a/g, 'k').replace(/\u017f/g, 's').toLowerCase();
}

/** Keys the engine writes itself when it creates a plugin: whatever the author puts there is overwritten. */
const ENGINE_OWNED: Record<string, string> = {
  DockerVersion: 'the engine sets DockerVersion itself when it creates the plugin; remove it',
  rootfs: 'the engine sets rootfs (the layer digests) itself when it creates the plugin; remove it',
};

/** Keys seen in published configs that never were part of plugin config v1, with what to do instead. */
const NOT_PLUGIN_CONFIG: Record<string, string> = {
  manifestversion: 'ManifestVersion belonged to the pre-release plugin manifest; config v1 has no version field: remove it',
  hooks: 'the engine runs no hooks for plugins; remove it and do the work in the plugin itself',
  name: 'the plugin name is given to `docker plugin create` / `dpk pack --name`, not in config.json',
  capabilities: 'capabilities belong in Linux.Capabilities',
  devices: 'devices belong in Linux.Devices',
  allowalldevices: 'AllowAllDevices belongs in Linux.AllowAllDevices',
  socket: 'the socket belongs in Interface.Socket',
  types: 'interface types belong in Interface.Types',
  workingdir: 'the field is WorkDir',
  cwd: 'the field is WorkDir',
  cmd: 'the command goes in Entrypoint (plus Args.Value)',
  command: 'the command goes in Entrypoint (plus Args.Value)',
  environment: 'environment variables go in Env, as [{"Name": ..., "Value": ...}]',
  networkmode: 'the network goes in Network.Type ("host" shares the host network)',
  privileged: 'managed plugins cannot be privileged; list capabilities in Linux.Capabilities and devices in Linux.Devices',
};

class Normaliser {
  readonly findings: RuleFinding[] = [];
  readonly positions = new Map<string, Position>();

  node(node: JsonNode, schema: SchemaNode, path: string): unknown {
    const s = resolve(schema);
    if (node.kind === 'object' && s.properties) return this.object(node, s.properties, path);
    if (node.kind === 'array' && s.items) {
      const itemSchema = resolve(s.items);
      return node.items.map((item, i) => {
        const itemPath = joinPath(path, i);
        if (item.line > 0) this.positions.set(itemPath, { line: item.line, column: item.column });
        // Go decodes a null slice element as the element's zero value.
        if (item.kind === 'null') return itemSchema.properties ? {} : hasType(itemSchema, 'string') ? '' : null;
        return this.node(item, itemSchema, itemPath);
      });
    }
    return plain(node);
  }

  private object(node: Extract<JsonNode, { kind: 'object' }>, properties: Record<string, SchemaNode>, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seenAt = new Map<string, { key: string; line: number }>();
    const names = Object.keys(properties);
    for (const member of node.members) {
      const canonical = names.find((n) => n === member.key) ?? names.find((n) => foldKey(n) === foldKey(member.key));
      const memberPath = joinPath(path, canonical ?? member.key);
      if (member.keyPosition.line > 0) this.positions.set(memberPath, member.keyPosition);
      if (canonical === undefined) {
        this.findings.push(this.unknownKey(member.key, path, names));
        continue;
      }
      const previous = seenAt.get(canonical);
      if (previous) {
        const where = previous.line > 0 ? ` (first at line ${previous.line})` : '';
        this.findings.push(
          warning('duplicate-key', memberPath, `"${member.key}" repeats "${previous.key}"${where}; the engine keeps the last value`, 'keep one of them'),
        );
      }
      seenAt.set(canonical, { key: member.key, line: member.keyPosition.line });
      if (member.value.kind === 'null') continue; // Go: null leaves the field as it was.
      if (path === '' && Object.hasOwn(ENGINE_OWNED, canonical)) {
        this.findings.push(warning('engine-owned-key', memberPath, `${canonical} is not read from config.json`, ENGINE_OWNED[canonical]));
      }
      const value = this.node(member.value, properties[canonical] as SchemaNode, memberPath);
      out[canonical] = isRecord(out[canonical]) && isRecord(value) ? { ...out[canonical], ...value } : value;
    }
    return out;
  }

  private unknownKey(key: string, path: string, siblings: string[]): RuleFinding {
    const at = joinPath(path, key);
    const where = path === '' ? 'the config' : path;
    const message = `unknown key "${key}" in ${where}: the engine ignores it`;
    const close = closest(key, siblings);
    if (close) return error('unknown-key', at, message, `did you mean "${close}"?`);
    // Keys seen at the top level of published configs that belong elsewhere or nowhere.
    const note = path === '' && Object.hasOwn(NOT_PLUGIN_CONFIG, foldKey(key)) ? NOT_PLUGIN_CONFIG[foldKey(key)] : undefined;
    if (note) return error('unknown-key', at, message, note);
    const elsewhere = fieldPaths().find((p) => foldKey(p.name) === foldKey(key) && p.parent !== path);
    if (elsewhere) return error('unknown-key', at, message, `did you mean ${elsewhere.path}?`);
    return error('unknown-key', at, message, `known keys here: ${siblings.join(', ')}`);
  }
}

function plain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const m of node.members) if (m.value.kind !== 'null') out[m.key] = plain(m.value);
      return out;
    }
    case 'array':
      return node.items.map(plain);
    case 'null':
      return null;
    default:
      return node.value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeKind(node: JsonNode): string {
  return node.kind === 'array' ? 'an array' : node.kind === 'null' ? 'null' : `a ${node.kind}`;
}

let allFieldPaths: { path: string; name: string; parent: string }[] | undefined;

/** Every field of the schema with its full path ("Linux.Capabilities", "Mounts[].Source"), for cross-level hints. */
function fieldPaths(): { path: string; name: string; parent: string }[] {
  if (allFieldPaths) return allFieldPaths;
  const out: { path: string; name: string; parent: string }[] = [];
  const walk = (schema: SchemaNode, path: string, depth: number) => {
    const s = resolve(schema);
    if (depth > 4) return;
    if (s.properties) {
      for (const [name, child] of Object.entries(s.properties)) {
        const childPath = joinPath(path, name);
        out.push({ path: childPath, name, parent: path });
        walk(child, childPath, depth + 1);
      }
    }
    if (s.items) walk(s.items, `${path}[]`, depth + 1);
  };
  walk(pluginConfigSchema as SchemaNode, '', 0);
  allFieldPaths = out;
  return out;
}

/** The candidate nearest to key by edit distance on folded names, if near enough to be a typo. */
export function closest(key: string, candidates: readonly string[]): string | undefined {
  const folded = foldKey(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(folded, foldKey(candidate));
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(folded.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours (common typos). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}
