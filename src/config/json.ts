/**
 * A small JSON parser that keeps where every value and key starts, so findings can point at a line, and that keeps
 * duplicate keys (JSON.parse silently keeps the last one, and so does Go; dpk says so).
 *
 * It accepts exactly what Go's encoding/json accepts (RFC 8259: no comments, no trailing commas, no NaN, no leading
 * zeros, no raw control characters in strings, nothing after the value), because that is what the engine uses to
 * read config.json. Lone surrogates in \u escapes become U+FFFD, as Go does.
 */

export interface Position {
  line: number;
  column: number;
}

interface NodeBase extends Position {
  offset: number;
}

export type JsonNode =
  | (NodeBase & { kind: 'object'; members: JsonMember[] })
  | (NodeBase & { kind: 'array'; items: JsonNode[] })
  | (NodeBase & { kind: 'string'; value: string })
  | (NodeBase & { kind: 'number'; value: number })
  | (NodeBase & { kind: 'boolean'; value: boolean })
  | (NodeBase & { kind: 'null' });

export interface JsonMember {
  key: string;
  keyPosition: Position;
  value: JsonNode;
}

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Deeper nesting than this is refused: the input is untrusted and the parser is recursive. */
const MAX_DEPTH = 512;

export function parseJson(text: string): JsonNode {
  return new Parser(text).document();
}

/** The plain value of a node (last duplicate key wins, like JSON.parse and Go). */
export function toPlain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const m of node.members) out[m.key] = toPlain(m.value);
      return out;
    }
    case 'array':
      return node.items.map(toPlain);
    case 'null':
      return null;
    default:
      return node.value;
  }
}

/** A node tree without positions for a value that did not come from text (dpk pack hands in objects). */
export function fromPlain(value: unknown, depth = 0): JsonNode {
  const at = { line: 0, column: 0, offset: -1 };
  if (depth > MAX_DEPTH) throw new JsonSyntaxError('value is nested too deeply', 0, 0);
  if (value === null || value === undefined) return { ...at, kind: 'null' };
  if (Array.isArray(value)) return { ...at, kind: 'array', items: value.map((v) => fromPlain(v, depth + 1)) };
  switch (typeof value) {
    case 'string':
      return { ...at, kind: 'string', value };
    case 'number':
      return { ...at, kind: 'number', value };
    case 'boolean':
      return { ...at, kind: 'boolean', value };
    case 'object':
      return {
        ...at,
        kind: 'object',
        members: Object.entries(value as Record<string, unknown>).map(([key, v]) => ({
          key,
          keyPosition: { line: 0, column: 0 },
          value: fromPlain(v, depth + 1),
        })),
      };
    default:
      throw new JsonSyntaxError(`a ${typeof value} cannot be written as JSON`, 0, 0);
  }
}

class Parser {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  document(): JsonNode {
    if (this.text.charCodeAt(0) === 0xfeff) {
      // Go refuses a byte order mark ("invalid character 'ï' looking for beginning of value").
      throw new JsonSyntaxError('the file starts with a byte order mark (BOM), which the engine refuses; save it as UTF-8 without BOM', 0, 0);
    }
    this.skipWhitespace();
    if (this.pos >= this.text.length) throw new JsonSyntaxError('the file is empty; a plugin config is a JSON object', 0, 0);
    const node = this.value(0);
    this.skipWhitespace();
    if (this.pos < this.text.length) throw this.error(`unexpected ${this.describe()} after the end of the JSON value`);
    return node;
  }

  private value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) throw this.error('value is nested too deeply');
    const ch = this.text[this.pos];
    const start = this.here();
    switch (ch) {
      case '{':
        return this.object(depth, start);
      case '[':
        return this.array(depth, start);
      case '"':
        return { ...start, kind: 'string', value: this.string() };
      case 't':
        this.literal('true');
        return { ...start, kind: 'boolean', value: true };
      case 'f':
        this.literal('false');
        return { ...start, kind: 'boolean', value: false };
      case 'n':
        this.literal('null');
        return { ...start, kind: 'null' };
      default:
        if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return { ...start, kind: 'number', value: this.number() };
        throw this.error(`unexpected ${this.describe()}; expected a JSON value`);
    }
  }

  private object(depth: number, start: NodeBase): JsonNode {
    this.pos++;
    const members: JsonMember[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { ...start, kind: 'object', members };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') {
        const trailing = this.text[this.pos] === '}' && members.length > 0;
        throw this.error(
          trailing ? 'trailing comma before "}" (JSON allows none)' : `unexpected ${this.describe()}; expected a property name in double quotes`,
        );
      }
      const keyPosition = { line: this.line, column: this.pos - this.lineStart + 1 };
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') throw this.error(`unexpected ${this.describe()}; expected ":" after property name "${key}"`);
      this.pos++;
      this.skipWhitespace();
      const value = this.value(depth + 1);
      members.push({ key, keyPosition, value });
      this.skipWhitespace();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === '}') {
        this.pos++;
        return { ...start, kind: 'object', members };
      }
      throw this.error(`unexpected ${this.describe()}; expected "," or "}" after the value of "${key}"`);
    }
  }

  private array(depth: number, start: NodeBase): JsonNode {
    this.pos++;
    const items: JsonNode[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { ...start, kind: 'array', items };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] === ']' && items.length > 0) throw this.error('trailing comma before "]" (JSON allows none)');
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === ']') {
        this.pos++;
        return { ...start, kind: 'array', items };
      }
      throw this.error(`unexpected ${this.describe()}; expected "," or "]" in the array`);
    }
  }

  private string(): string {
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) throw this.error('unterminated string');
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos++;
        return out;
      }
      if (code < 0x20) throw this.error(`raw control character U+${code.toString(16).padStart(4, '0')} in a string; escape it (e.g. \\n)`);
      if (code !== 0x5c) {
        out += this.text[this.pos];
        this.pos++;
        continue;
      }
      const esc = this.text[this.pos + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (esc !== undefined && esc in simple) {
        out += simple[esc];
        this.pos += 2;
        continue;
      }
      if (esc === 'u') {
        const unit = this.hex4(this.pos + 2);
        this.pos += 6;
        if (unit >= 0xd800 && unit <= 0xdbff && this.text[this.pos] === '\\' && this.text[this.pos + 1] === 'u') {
          const low = this.hex4(this.pos + 2);
          if (low >= 0xdc00 && low <= 0xdfff) {
            out += String.fromCharCode(unit, low);
            this.pos += 6;
            continue;
          }
        }
        out += unit >= 0xd800 && unit <= 0xdfff ? '\ufffd' : String.fromCharCode(unit);
        continue;
      }
      this.pos++;
      throw this.error(`invalid escape ${esc === undefined ? 'at end of input' : `"\\${esc}"`} in a string`);
    }
  }

  private hex4(at: number): number {
    const digits = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
      this.pos = at;
      throw this.error('invalid \\u escape: expected four hex digits');
    }
    return parseInt(digits, 16);
  }

  private number(): number {
    const match = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!match) throw this.error(`invalid number starting with ${this.describe()}`);
    const after = this.text[this.pos + match[0].length];
    if (after !== undefined && /[0-9.eE+\-a-zA-Z]/.test(after)) {
      this.pos += match[0].length;
      throw this.error(`invalid number: unexpected ${this.describe()}`);
    }
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private literal(word: string): void {
    if (this.text.startsWith(word, this.pos)) {
      const after = this.text[this.pos + word.length];
      if (after === undefined || !/[A-Za-z0-9_]/.test(after)) {
        this.pos += word.length;
        return;
      }
    }
    throw this.error(`unexpected ${this.describe()}; expected a JSON value (strings need double quotes)`);
  }

  private skipWhitespace(): void {
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === ' ' || ch === '\t' || ch === '\r') this.pos++;
      else if (ch === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else return;
    }
  }

  private here(): NodeBase {
    return { line: this.line, column: this.pos - this.lineStart + 1, offset: this.pos };
  }

  private describe(): string {
    if (this.pos >= this.text.length) return 'end of file';
    const ch = this.text[this.pos] as string;
    if (ch === '/' && (this.text[this.pos + 1] === '/' || this.text[this.pos + 1] === '*')) return 'comment (JSON has no comments)';
    if (ch === '#') return 'comment "#" (JSON has no comments)';
    if (ch === "'") return "single quote (JSON strings use double quotes)";
    return JSON.stringify(ch);
  }

  private error(message: string): JsonSyntaxError {
    // Columns count UTF-16 units from 1; lines count from 1.
    return new JsonSyntaxError(message, this.line, this.pos - this.lineStart + 1);
  }
}
