import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DpkError } from '../errors.js';

/**
 * plugin.json: what create-docker-plugin generated, so dpk knows the plugin's name and image without flags, and a
 * later generator version can upgrade the project.
 */
export interface ProjectManifest {
  /** "create-docker-plugin@0.1.0" */
  generator: string;
  type: PluginType;
  /** Plugin reference without tag, e.g. "localhost:5000/acme/my-volume". */
  name: string;
  tag: string;
  /** The image `docker build` makes from the project's Dockerfile; dpk pack's default source. */
  image: string;
  /** Go module path. */
  module: string;
  /** Path of the plugin config, relative to the project. */
  config: string;
  /** Answers given to the generator, for upgrades. */
  options: Record<string, string | boolean>;
}

export const PLUGIN_TYPES = ['volume', 'network', 'logging', 'authz'] as const;
export type PluginType = (typeof PLUGIN_TYPES)[number];
export const MANIFEST_FILE = 'plugin.json';

/** The manifest in dir, or undefined when there is none. A broken one is an error naming the file and field. */
export async function readProjectManifest(dir: string): Promise<ProjectManifest | undefined> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DpkError(`${file}: cannot read: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new DpkError(`${file}: not valid JSON: ${(error as Error).message}`, { hint: 'fix the file or regenerate it' });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new DpkError(`${file}: must be a JSON object`);
  const record = data as Record<string, unknown>;
  for (const field of ['name', 'tag', 'image', 'type'] as const) {
    if (typeof record[field] !== 'string' || record[field] === '') {
      throw new DpkError(`${file}: field "${field}" must be a non-empty string`, { hint: `set "${field}" in ${MANIFEST_FILE}` });
    }
  }
  if (!PLUGIN_TYPES.includes(record.type as PluginType)) {
    throw new DpkError(`${file}: field "type" is "${String(record.type)}"; expected one of ${PLUGIN_TYPES.join(', ')}`);
  }
  if (record.config !== undefined && (typeof record.config !== 'string' || record.config === '')) {
    throw new DpkError(`${file}: field "config" must be the config file's path, e.g. "config.json"`, { hint: `fix "config" in ${MANIFEST_FILE}, or remove it to use config.json` });
  }
  return {
    generator: String(record.generator ?? ''),
    type: record.type as PluginType,
    name: record.name as string,
    tag: record.tag as string,
    image: record.image as string,
    module: String(record.module ?? ''),
    config: (record.config as string | undefined) ?? 'config.json',
    options: (record.options as Record<string, string | boolean>) ?? {},
  };
}
