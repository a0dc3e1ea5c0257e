/**
 * The one source of the plugin config JSON Schema (plugin config version 1, "Plugin V2"), in the engine's own casing.
 *
 * It mirrors moby's api/types/plugin.go (PluginConfig, PluginConfigInterface, PluginMount, PluginDevice, PluginEnv,
 * PluginConfigArgs, PluginConfigLinux, PluginConfigNetwork, PluginConfigUser, PluginConfigRootfs) and
 * docs/extend/config.md. The engine decodes config.json with Go's encoding/json: keys match case-insensitively,
 * unknown keys are dropped and `null` leaves a field unset, so dpk normalises keys (parse.ts) before this schema
 * sees the document, and every field here also accepts null.
 *
 * The schema only describes shapes and types; what the engine does with the values is checked by rules.ts, which
 * can explain itself better than a schema keyword can. schema/plugin-config.schema.json is this object, written out
 * (test/config-schema.test.ts keeps it current).
 */

type Schema = Record<string, unknown>;

function nullable(type: string, rest: Schema = {}): Schema {
  return { type: [type, 'null'], ...rest };
}

const stringList = (description: string): Schema => nullable('array', { description, items: { type: 'string' } });

/** PluginSetting, embedded by mounts, env, devices and args: what `docker plugin set` can address. */
const settingProperties = (settableFields: string): Schema => ({
  Name: nullable('string', { description: 'Name used by `docker plugin set NAME[.field]=value`.' }),
  Description: nullable('string', { description: 'Shown by `docker plugin inspect`.' }),
  Settable: stringList(`Fields users may change with \`docker plugin set\`; the engine allows ${settableFields}.`),
});

export const pluginConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Docker Engine managed plugin config (config.json, plugin config version 1)',
  description:
    'The config.json of a managed plugin, in the engine casing. The engine matches keys case-insensitively and ignores unknown keys; `dpk validate` reports both.',
  type: 'object',
  additionalProperties: false,
  properties: {
    Description: nullable('string', { description: 'One line shown by `docker plugin ls`.' }),
    Documentation: nullable('string', { description: 'Link to the plugin documentation.' }),
    Interface: nullable('object', {
      description: 'How the engine talks to the plugin.',
      additionalProperties: false,
      properties: {
        Types: nullable('array', {
          description: 'Interfaces the plugin implements, e.g. "docker.volumedriver/1.0".',
          items: { type: 'string' },
        }),
        Socket: nullable('string', {
          description: 'File name of the unix socket the plugin listens on, under /run/docker/plugins inside the plugin.',
        }),
        ProtocolScheme: nullable('string', { description: 'Protocol on the socket; empty means "moby.plugins.http/v1".' }),
      },
    }),
    Entrypoint: stringList('Command the plugin runs, like a Dockerfile ENTRYPOINT in exec form.'),
    WorkDir: nullable('string', { description: 'Absolute working directory of the plugin process; "/" when empty.' }),
    User: nullable('object', {
      description: 'Ignored by the engine: the plugin process always runs as root.',
      additionalProperties: false,
      properties: {
        UID: nullable('integer', { minimum: 0, maximum: 4294967295 }),
        GID: nullable('integer', { minimum: 0, maximum: 4294967295 }),
      },
    }),
    Network: nullable('object', {
      additionalProperties: false,
      properties: {
        Type: nullable('string', { description: '"host" shares the host network; anything else gives loopback only.' }),
      },
    }),
    Linux: nullable('object', {
      additionalProperties: false,
      properties: {
        Capabilities: stringList('Capabilities added to the runtime defaults, e.g. "CAP_SYS_ADMIN".'),
        AllowAllDevices: nullable('boolean', { description: 'Grant rwm access to every device (cgroup rule "a *:* rwm").' }),
        Devices: nullable('array', { items: { $ref: '#/definitions/Device' } }),
      },
    }),
    PropagatedMount: nullable('string', {
      description: 'Path inside the plugin mounted rshared, so mounts made below it are visible to the engine (volume drivers).',
    }),
    IpcHost: nullable('boolean', { description: 'Share the host IPC namespace.' }),
    PidHost: nullable('boolean', { description: 'Share the host PID namespace.' }),
    Mounts: nullable('array', { items: { $ref: '#/definitions/Mount' } }),
    Env: nullable('array', { items: { $ref: '#/definitions/Env' } }),
    Args: { $ref: '#/definitions/Args' },
    DockerVersion: nullable('string', { description: 'Set by the engine when it creates the plugin.' }),
    rootfs: nullable('object', {
      description: 'Set by the engine when it creates the plugin.',
      additionalProperties: false,
      properties: {
        type: nullable('string'),
        diff_ids: stringList('Layer digests.'),
      },
    }),
  },
  definitions: {
    Mount: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...settingProperties('only "source"'),
        Source: nullable('string', { description: 'Host path (bind mounts) or filesystem source; required, may be "" when settable.' }),
        Destination: nullable('string', { description: 'Absolute path inside the plugin.' }),
        Type: nullable('string', { description: 'Filesystem type; ignored for bind mounts (options bind/rbind).' }),
        Options: stringList('Mount options as the runtime (runc) reads them, e.g. ["rbind", "ro"].'),
      },
    },
    Env: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...settingProperties('only "value"'),
        Value: nullable('string', { description: 'Default value; without one the variable is unset until set.' }),
      },
    },
    Device: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...settingProperties('only "path"'),
        Path: nullable('string', { description: 'Host device path, e.g. "/dev/fuse".' }),
      },
    },
    Args: nullable('object', {
      additionalProperties: false,
      properties: {
        ...settingProperties('only "value"'),
        Value: stringList('Arguments appended to Entrypoint.'),
      },
    }),
  },
} as const;

/** The schema file as published (schema/plugin-config.schema.json): stable formatting, trailing newline. */
export function schemaFileText(): string {
  return `${JSON.stringify(pluginConfigSchema, null, 2)}\n`;
}
