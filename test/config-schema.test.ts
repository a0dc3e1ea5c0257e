/**
 * The published JSON Schema is the one dpk validates with, and wrong types are errors naming the field.
 * Regenerate the file with: UPDATE_GOLDEN=1 node --import tsx --test test/config-schema.test.ts
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { pluginConfigSchema, schemaFileText } from '../src/config/schema.js';
import { validateConfig } from '../src/config/validate.js';

const schemaFile = new URL('../schema/plugin-config.schema.json', import.meta.url);

test('schema/plugin-config.schema.json is current', async () => {
  if (process.env.UPDATE_GOLDEN) await writeFile(schemaFile, schemaFileText());
  const onDisk = await readFile(schemaFile, 'utf8');
  assert.equal(onDisk, schemaFileText(), 'schema file is stale: run UPDATE_GOLDEN=1 node --import tsx --test test/config-schema.test.ts');
});

test('the published schema compiles in strict mode and accepts a config in engine casing with nulls', () => {
  const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(schemaFileText()));
  const ok = validate({
    Description: 'd',
    Entrypoint: ['/plugin'],
    Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'p.sock' },
    Linux: { Capabilities: null, AllowAllDevices: false, Devices: null },
    Mounts: [{ Name: 'state', Source: '', Destination: '/state', Options: ['rbind'], Settable: ['source'] }],
    Env: [{ Name: 'DEBUG', Value: null, Settable: ['value'] }],
    Args: { Name: '', Description: '', Settable: null, Value: null },
    User: {},
  });
  assert.equal(ok, true, JSON.stringify(validate.errors));
  assert.equal(validate({ Entrypoint: '/plugin' }), false);
  assert.equal(validate({ entrypoint: ['/plugin'] }), false, 'the schema file describes the canonical casing');
  assert.deepEqual(Object.keys(pluginConfigSchema.properties).sort(), [
    'Args', 'Description', 'DockerVersion', 'Documentation', 'Entrypoint', 'Env', 'Interface', 'IpcHost', 'Linux', 'Mounts',
    'Network', 'PidHost', 'PropagatedMount', 'User', 'WorkDir', 'rootfs',
  ]);
});

test('wrong types are json-type errors at the field, with the value described', async () => {
  const text = JSON.stringify({
    Entrypoint: '/plugin',
    Interface: { Types: ['docker.volumedriver/1.0', 7], Socket: 12 },
    PidHost: 'yes',
    User: { UID: -1 },
    Mounts: [{ Source: '/x', Destination: '/x', Options: 'rbind' }],
  });
  const result = await validateConfig(text, { file: 'config.json' });
  const byPath = new Map(result.findings.filter((f) => f.ruleId === 'json-type').map((f) => [f.path, f]));
  assert.match(byPath.get('Entrypoint')?.message ?? '', /Entrypoint must be an array, not the string "\/plugin"/);
  assert.match(byPath.get('Interface.Types[1]')?.message ?? '', /must be a string, not the number 7/);
  assert.match(byPath.get('Interface.Socket')?.message ?? '', /must be a string/);
  assert.match(byPath.get('PidHost')?.message ?? '', /must be true or false, not the string "yes"/);
  assert.match(byPath.get('User.UID')?.message ?? '', /between 0 and 4294967295/);
  assert.match(byPath.get('Mounts[0].Options')?.message ?? '', /must be an array/);
  assert.ok([...byPath.values()].every((f) => f.severity === 'error' && /cannot unmarshal/.test(f.hint ?? '')));
  assert.equal(result.valid, false);
});

test('a type error does not stop the other rules from running on the rest', async () => {
  const result = await validateConfig(JSON.stringify({ PidHost: 1, Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'a'.repeat(30) } }), { file: 'config.json' });
  const ids = result.findings.map((f) => f.ruleId);
  assert.ok(ids.includes('json-type'));
  assert.ok(ids.includes('socket-too-long'));
  assert.ok(ids.includes('entrypoint-missing'));
});
