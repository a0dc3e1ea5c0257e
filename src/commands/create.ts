import { resolve, relative } from 'node:path';
import { UsageError } from '../errors.js';
import { MANIFEST_FILE, type PluginType, type ProjectManifest } from '../project/manifest.js';
import { shortName } from '../reference.js';
import {
  checkDescription,
  checkDirectory,
  checkModule,
  checkName,
  checkType,
  defaultDescription,
  defaultModule,
  nameFromDirectory,
  socketNameFor,
  type Answers,
} from '../scaffold/answers.js';
import type { Questioner } from '../scaffold/prompt.js';
import { renderProject, type RenderedFile, type TemplateVariables } from '../scaffold/render.js';
import { inspectTarget, writeProject } from '../scaffold/write.js';
import { VERSION } from '../version.js';

/** The Go version the generated go.mod and Dockerfile ask for; the templates' go.sum was made with it. */
export const GO_VERSION = '1.24';

export interface CreateOptions {
  directory?: string;
  type?: string;
  name?: string;
  module?: string;
  description?: string;
  force?: boolean;
  /** Ask for what the flags did not give; undefined when prompting is not allowed. */
  questioner?: Questioner;
}

export interface CreateResult {
  directory: string;
  manifest: ProjectManifest;
  files: string[];
  nextSteps: string[];
}

export async function createProject(options: CreateOptions): Promise<CreateResult> {
  const answers = await resolveAnswers(options);
  const ref = checkName(answers.name);
  const binaryName = shortName(ref);
  const variables: TemplateVariables = {
    type: answers.type,
    module: answers.module,
    pluginName: ref.name,
    tag: ref.tag,
    pluginRef: ref.familiar,
    binaryName,
    socketName: socketNameFor(binaryName),
    description: answers.description,
    image: `${binaryName}-rootfs:${ref.tag}`,
    registry: ref.domain,
    goVersion: GO_VERSION,
    generatorVersion: VERSION,
  };
  const manifest: ProjectManifest = {
    generator: `create-docker-plugin@${VERSION}`,
    type: answers.type,
    name: ref.name,
    tag: ref.tag,
    image: variables.image,
    module: answers.module,
    config: 'config.json',
    options: { type: answers.type, name: ref.familiar, module: answers.module, description: answers.description },
  };
  const files: RenderedFile[] = [
    ...(await renderProject(answers.type, variables)),
    { path: MANIFEST_FILE, content: `${JSON.stringify(manifest, null, 2)}\n`, mode: 0o644 },
  ];
  let replace = options.force === true;
  if (!replace && (await inspectTarget(answers.directory)) === 'not-empty') {
    if (!options.questioner) {
      throw new UsageError(`${answers.directory}: exists and is not empty`, { hint: 'choose a new directory, or pass --force to replace its contents' });
    }
    replace = await options.questioner.confirm(`${answers.directory} is not empty. Replace its contents (.git is kept)?`);
    if (!replace) throw new UsageError(`${answers.directory}: exists and is not empty; nothing written`, { hint: 'choose a new directory, or pass --force' });
  }
  const directory = await writeProject(answers.directory, files, { replace });
  return { directory, manifest, files: files.map((file) => file.path).sort(), nextSteps: nextSteps(directory, variables) };
}

async function resolveAnswers(options: CreateOptions): Promise<Answers> {
  const ask = options.questioner;
  let directory = options.directory !== undefined ? checkDirectory(options.directory) : undefined;
  let name = options.name !== undefined ? checkName(options.name).familiar : undefined;
  if (directory === undefined && name === undefined && !ask) {
    throw new UsageError('no project directory and no plugin name given', { hint: 'pass a directory (create-docker-plugin my-volume) or --name <plugin>' });
  }
  const type = options.type !== undefined ? checkType(options.type) : ask ? await ask.type('Plugin type') : undefined;
  if (type === undefined) {
    throw new UsageError('--type is required when not asking on a terminal', { hint: 'pass --type volume, network, logging or authz' });
  }
  if (directory === undefined) {
    const suggested = name !== undefined ? shortName(checkName(name)) : `my-${type}-plugin`;
    directory = ask ? await ask.text('Project directory', { default: suggested, check: checkDirectory }) : suggested;
  }
  if (name === undefined) {
    const suggested = nameFromDirectory(directory);
    if (ask) name = checkName(await ask.text('Plugin name (registry/owner/name[:tag])', { default: suggested, check: (v) => checkName(v, 'plugin name') }), 'plugin name').familiar;
    else if (suggested !== undefined) name = suggested;
    else throw new UsageError(`cannot make a plugin name from directory "${directory}"`, { hint: 'pass --name, e.g. --name myorg/my-volume' });
  }
  const ref = checkName(name);
  const module =
    options.module !== undefined
      ? checkModule(options.module)
      : ask
        ? checkModule(await ask.text('Go module path', { default: defaultModule(ref), check: (v) => checkModule(v, 'Go module path') }), 'Go module path')
        : checkModule(defaultModule(ref), `Go module path derived from the plugin name (pass --module)`);
  const description =
    options.description !== undefined
      ? checkDescription(options.description)
      : ask
        ? checkDescription(await ask.text('Description', { default: defaultDescription(type), check: (v) => checkDescription(v, 'description') }), 'description')
        : defaultDescription(type);
  return { directory, type: type as PluginType, name, module, description };
}

function nextSteps(directory: string, variables: TemplateVariables): string[] {
  const shown = relative(process.cwd(), directory) || '.';
  const cd = shown.startsWith('..') ? resolve(directory) : shown;
  return [
    `cd ${shellQuote(cd)}`,
    'go test ./...',
    `docker build -t ${variables.image} .`,
    ...(variables.type === 'authz' ? ['sudo mkdir -p /etc/docker/authz               # the policy mount\'s source must exist (README: Policy)'] : []),
    'npx -p create-docker-plugin dpk pack --enable',
    `npx -p create-docker-plugin dpk push          # publishes ${variables.pluginRef}`,
  ];
}

/** A path as a POSIX shell reads it back: plain when safe, else single-quoted. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
