/**
 * Parsing as the engine does: strict JSON with line and column on errors, keys matched case-insensitively (Go's
 * encoding/json), unknown keys reported with a "did you mean", duplicates and nulls handled like Go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson, JsonSyntaxError } from '../src/config/json.js';
import { editDistance, closest, foldKey } from '../src/config/parse.js';
import { validateConfig } from '../src/config/validate.js';

const ok = { Entrypoint: ['/plugin'], Interface: { Types: ['docker.logdriver/1.0'], Socket: 'p.sock' } };

function syntaxError(text: string): JsonSyntaxError {
  try {
    parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return e;
    throw e;
  }
  assert.fail(`parsed: ${text}`);
}

test('invalid JSON is one json-syntax error with line and column', async () => {
  const text = '{\n  "Entrypoint": ["/plugin"],\n  "Interface": {\n    "Socket": "p.sock",\n  }\n}\n';
  const result = await validateConfig(text, { file: 'config.json' });
  assert.equal(result.valid, false);
  assert.equal(result.findings.length, 1);
  const [f] = result.findings;
  assert.equal(f?.ruleId, 'json-syntax');
  assert.equal(f?.line, 5);
  assert.match(f?.message ?? '', /^line 5, column 3: trailing comma before "}"/);
  assert.equal(result.config, undefined);
});

test('syntax errors Go refuses: comments, single quotes, trailing commas, leading zeros, raw newlines, trailing data', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  # comment\n}', 2, 3, /comment "#"/],
    ['{"a": 1 // c\n}', 1, 9, /comment/],
    ["{'a': 1}", 1, 2, /single quote/],
    ['[1, 2,]', 1, 7, /trailing comma before "\]"/],
    ['{"a": 01}', 1, 8, /invalid number/],
    ['{"a": "x\ny"}', 1, 9, /raw control character/],
    ['{"a": 1} {"b": 2}', 1, 10, /after the end/],
    ['{"a": tru}', 1, 7, /expected a JSON value/],
    ['{"a": "\\x"}', 1, 9, /invalid escape/],
    ['{"a" 1}', 1, 6, /expected ":"/],
    ['{"a": 1', 1, 8, /expected "," or "}"/],
  ];
  for (const [text, line, column, message] of cases) {
    const e = syntaxError(text);
    assert.match(e.message, message, text);
    assert.deepEqual([e.line, e.column], [line, column], `${text}: ${e.message}`);
  }
});

test('empty file, whitespace-only file and byte order mark are clear errors', async () => {
  for (const text of ['', '  \n\t\n']) {
    const result = await validateConfig(text, { file: 'config.json' });
    assert.equal(result.findings[0]?.ruleId, 'json-syntax');
    assert.match(result.findings[0]?.message ?? '', /the file is empty/);
  }
  const bom = await validateConfig(`\ufeff${JSON.stringify(ok)}`, { file: 'config.json' });
  assert.match(bom.findings[0]?.message ?? '', /byte order mark/);
});

test('a JSON value that is not an object is a json-type error', async () => {
  for (const text of ['[]', '"config"', '42', 'null']) {
    const result = await validateConfig(text, { file: 'config.json' });
    assert.equal(result.findings[0]?.ruleId, 'json-type', text);
    assert.match(result.findings[0]?.message ?? '', /must be a JSON object/);
  }
});

test('escapes decode like Go: surrogate pairs, and lone surrogates become U+FFFD', () => {
  const node = parseJson('{"a": "\\ud83d\\ude00 \\ud800 \\u00e9\\/"}');
  assert.equal(node.kind, 'object');
  const value = node.kind === 'object' ? node.members[0]?.value : undefined;
  assert.deepEqual(value && value.kind === 'string' ? value.value : undefined, '\u{1f600} \ufffd \u00e9/');
});

test('deep nesting is refused, not a stack overflow', () => {
  assert.match(syntaxError(`${'['.repeat(5000)}${']'.repeat(5000)}`).message, /nested too deeply/);
});

test('keys match case-insensitively, exact first, and come out in engine casing', async () => {
  const text = JSON.stringify({
    entrypoint: ['/plugin'],
    INTERFACE: { types: ['docker.volumedriver/1.0'], socket: 'p.sock' },
    propagatedmount: '/data',
    linux: { capabilities: ['CAP_SYS_ADMIN'], allowAllDevices: false, devices: [{ path: '/dev/fuse' }] },
    mounts: [{ name: 'state', source: '', destination: '/state', options: ['rbind'], settable: ['source'] }],
    env: [{ name: 'DEBUG', value: '0', settable: ['value'] }],
    workdir: '/',
  });
  const result = await validateConfig(text, { file: 'config.json' });
  assert.deepEqual(result.findings.filter((f) => f.severity === 'error'), []);
  assert.deepEqual(result.config, {
    Entrypoint: ['/plugin'],
    Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'p.sock' },
    PropagatedMount: '/data',
    Linux: { Capabilities: ['CAP_SYS_ADMIN'], AllowAllDevices: false, Devices: [{ Path: '/dev/fuse' }] },
    Mounts: [{ Name: 'state', Source: '', Destination: '/state', Options: ['rbind'], Settable: ['source'] }],
    Env: [{ Name: 'DEBUG', Value: '0', Settable: ['value'] }],
    WorkDir: '/',
  });
});

test("Go's fold maps the Kelvin sign and long s to ASCII", () => {
  assert.equal(foldKey('\u212aey'), 'key');
  assert.equal(foldKey('\u017focket'), 'socket');
});

test('unknown keys are errors with a did-you-mean: typo, wrong level, or not part of config v1', async () => {
  const text = JSON.stringify({
    ...ok,
    propogatedMount: '/data',
    capabilities: ['CAP_SYS_ADMIN'],
    manifestVersion: 'v0',
    Interface: { ...ok.Interface, Sockett: 'x' },
    Mounts: [{ Source: '/x', Destination: '/x', Options: ['rbind'], Readonly: true }],
  });
  const result = await validateConfig(text, { file: 'config.json' });
  const unknown = new Map(result.findings.filter((f) => f.ruleId === 'unknown-key').map((f) => [f.path, f]));
  assert.equal(unknown.get('propogatedMount')?.severity, 'error');
  assert.match(unknown.get('propogatedMount')?.hint ?? '', /did you mean "PropagatedMount"\?/);
  assert.match(unknown.get('capabilities')?.hint ?? '', /Linux\.Capabilities/);
  assert.match(unknown.get('manifestVersion')?.hint ?? '', /no version field/);
  assert.match(unknown.get('Interface.Sockett')?.hint ?? '', /did you mean "Socket"\?/);
  assert.match(unknown.get('Mounts[0].Readonly')?.message ?? '', /unknown key "Readonly" in Mounts\[0\]: the engine ignores it/);
  assert.ok(unknown.get('propogatedMount')?.line, 'findings carry the line of the key');
  assert.equal(result.config && 'propogatedMount' in result.config, false, 'unknown keys are dropped, as the engine does');
});

test('duplicate keys in any casing: warning, last value wins, objects merge like Go', async () => {
  const text = '{"Entrypoint": ["/a"], "entrypoint": ["/plugin"], "Interface": {"Types": ["docker.logdriver/1.0"]}, "interface": {"Socket": "p.sock"}}';
  const result = await validateConfig(text, { file: 'config.json' });
  const dups = result.findings.filter((f) => f.ruleId === 'duplicate-key');
  assert.deepEqual(dups.map((f) => [f.path, f.severity]), [['Entrypoint', 'warning'], ['Interface', 'warning']]);
  assert.match(dups[0]?.message ?? '', /first at line 1/);
  assert.deepEqual(result.config?.Entrypoint, ['/plugin']);
  assert.deepEqual(result.config?.Interface, { Types: ['docker.logdriver/1.0'], Socket: 'p.sock' });
});

test('null leaves a field unset, and a null list element becomes its zero value', async () => {
  const text = JSON.stringify({ ...ok, Linux: { Capabilities: null, Devices: null }, Env: [{ Name: 'A', Value: null }], Mounts: null, Args: { Value: ['x', null] } });
  const result = await validateConfig(text, { file: 'config.json' });
  assert.deepEqual(result.config?.Linux, {});
  assert.deepEqual(result.config?.Env, [{ Name: 'A' }]);
  assert.equal(result.config?.Mounts, undefined);
  assert.deepEqual(result.config?.Args, { Value: ['x', ''] });
  assert.equal(result.findings.filter((f) => f.ruleId === 'json-type').length, 0);
});

test('engine-owned keys are warnings; so is a User the engine ignores', async () => {
  const result = await validateConfig(JSON.stringify({ ...ok, DockerVersion: '20.10', rootfs: { type: 'layers', diff_ids: [] }, User: { UID: 1000 } }), {
    file: 'config.json',
  });
  const ids = result.findings.map((f) => `${f.severity} ${f.ruleId} ${f.path}`);
  assert.ok(ids.includes('warning engine-owned-key DockerVersion'));
  assert.ok(ids.includes('warning engine-owned-key rootfs'));
  assert.ok(ids.includes('warning user-ignored User'));
  const empty = await validateConfig(JSON.stringify({ ...ok, User: {} }), { file: 'config.json' });
  assert.equal(empty.findings.length, 0, 'an empty User (what the engine writes itself) is fine');
});

test('objects handed in by dpk pack are normalised the same way', async () => {
  const result = await validateConfig({ entrypoint: ['/plugin'], interface: { types: ['docker.logdriver/1.0'], socket: 'p.sock' } }, { file: 'image config' });
  assert.equal(result.valid, true);
  assert.deepEqual(result.config, ok);
  assert.equal(result.findings.length, 0);
});

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('propogated', 'propagated'), 1);
  assert.equal(editDistance('sokcet', 'socket'), 1);
  assert.equal(closest('workdri', ['WorkDir', 'Entrypoint']), 'WorkDir');
  assert.equal(closest('zzz', ['WorkDir', 'Entrypoint']), undefined);
});
