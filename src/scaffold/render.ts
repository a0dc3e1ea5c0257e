import Handlebars from 'handlebars';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DpkError } from '../errors.js';
import type { PluginType } from '../project/manifest.js';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates', import.meta.url));
const SHARED = '_shared';

/** The variables every template may use; a template using anything else fails to render (strict mode). */
export interface TemplateVariables {
  type: PluginType;
  module: string;
  pluginName: string;
  tag: string;
  pluginRef: string;
  binaryName: string;
  socketName: string;
  description: string;
  image: string;
  /** Registry host the plugin is pushed to (docker.io when the name has none). */
  registry: string;
  goVersion: string;
  generatorVersion: string;
}

export interface RenderedFile {
  /** Path inside the project, with "/" separators. */
  path: string;
  content: string;
  mode: number;
}

/**
 * Render templates/_shared and templates/<type> (a type's file overrides the shared one of the same path).
 * Names: a trailing ".hbs" is dropped and a leading "_" becomes "." (npm would drop or rename dotfiles on publish).
 */
export async function renderProject(type: PluginType, variables: TemplateVariables, templatesDir = TEMPLATES_DIR): Promise<RenderedFile[]> {
  const sources = new Map<string, string>();
  for (const layer of [SHARED, type]) {
    for (const file of await listFiles(join(templatesDir, layer))) {
      sources.set(outputPath(relative(join(templatesDir, layer), file)), file);
    }
  }
  if (sources.size === 0) throw new DpkError(`no templates for type "${type}" in ${templatesDir}`, { hint: 'reinstall create-docker-plugin' });
  const files: RenderedFile[] = [];
  for (const [path, source] of [...sources].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const text = await readFile(source, 'utf8');
    let content: string;
    try {
      const template = Handlebars.compile(text, { noEscape: true, strict: true });
      content = template(path.endsWith('.json') ? jsonEscaped(variables) : variables);
    } catch (error) {
      throw new DpkError(`template ${source}: ${(error as Error).message}`, { cause: error });
    }
    files.push({ path, content, mode: /\.(sh)$/.test(path) ? 0o755 : 0o644 });
  }
  return files;
}

function outputPath(templatePath: string): string {
  return templatePath
    .split(sep)
    .map((part) => part.replace(/^_/, '.'))
    .join('/')
    .replace(/\.hbs$/, '');
}

/** In JSON files every value lands inside a string literal, so it is escaped for one. */
function jsonEscaped(variables: TemplateVariables): TemplateVariables {
  const escaped = { ...variables };
  for (const key of Object.keys(escaped) as (keyof TemplateVariables)[]) {
    (escaped as Record<string, string>)[key] = JSON.stringify(String(escaped[key])).slice(1, -1);
  }
  return escaped;
}

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}
