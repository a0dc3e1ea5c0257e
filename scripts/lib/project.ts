/**
 * The main job's steps, shared by the demo (README's first command), the end-to-end tests and the benchmark:
 * scaffold a project, test it, build its binary on the host and an image FROM scratch (nothing can be pulled here, so
 * the generated multi-stage Dockerfile is for users with network access; this builds the same binary the same way).
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CREATE_BIN = join(REPO, 'bin/create-docker-plugin.js');
export const DPK_BIN = join(REPO, 'bin/dpk.js');

export interface GeneratedProject {
  dir: string;
  manifest: { name: string; tag: string; image: string; type: string; config: string };
  binaryName: string;
  entrypoint: string;
}

export async function scaffold(options: { parent: string; dirName: string; type: string; name: string; module?: string; env?: NodeJS.ProcessEnv }): Promise<GeneratedProject> {
  const dir = join(options.parent, options.dirName);
  await execa(process.execPath, [CREATE_BIN, dir, '--type', options.type, '--name', options.name, '--module', options.module ?? `example.com/dpk-e2e/${options.dirName}`, '--yes'], {
    env: { ...options.env, CI: 'true' },
    stdin: 'ignore',
  });
  const manifest = JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')) as GeneratedProject['manifest'];
  const config = JSON.parse(await readFile(join(dir, manifest.config ?? 'config.json'), 'utf8')) as { Entrypoint?: string[]; entrypoint?: string[] };
  const entrypoint = (config.Entrypoint ?? config.entrypoint ?? [])[0];
  if (!entrypoint?.startsWith('/')) throw new Error(`generated config.json has no absolute Entrypoint: ${JSON.stringify(config)}`);
  return { dir, manifest, binaryName: entrypoint.split('/').pop()!, entrypoint };
}

/** `go test ./...` in the generated project. */
export async function goTest(project: GeneratedProject): Promise<string> {
  const r = await execa('go', ['test', './...'], { cwd: project.dir, env: { CGO_ENABLED: '0' }, all: true });
  return String(r.all);
}

/** What a generated project must pass before anything else: gofmt -l lists nothing, go vet, go test. Returns go test's output. */
export async function checkGo(project: GeneratedProject): Promise<string> {
  const unformatted = (await execa('gofmt', ['-l', '.'], { cwd: project.dir })).stdout.trim();
  if (unformatted !== '') throw new Error(`gofmt -l lists files in ${project.dir}: ${unformatted.replace(/\n/g, ', ')}`);
  await execa('go', ['vet', './...'], { cwd: project.dir });
  return goTest(project);
}

/**
 * Build the plugin's static binary on the host and an image FROM scratch holding it at the config's Entrypoint
 * (plus /tmp and an empty /etc, which a scratch image lacks). Tags it as plugin.json's "image".
 */
export async function buildScratchImage(project: GeneratedProject, env: NodeJS.ProcessEnv): Promise<string> {
  const context = await mkdtemp(join(tmpdir(), 'dpk-image-'));
  try {
    await execa('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', join(context, 'plugin-binary'), '.'], {
      cwd: project.dir,
      env: { CGO_ENABLED: '0', GOOS: 'linux' },
    });
    await mkdir(join(context, 'empty'));
    await writeFile(
      join(context, 'Dockerfile'),
      ['FROM scratch', `COPY plugin-binary ${project.entrypoint}`, 'COPY empty /tmp', 'COPY empty /etc', `ENTRYPOINT ["${project.entrypoint}"]`, ''].join('\n'),
    );
    await execa('docker', ['build', '-q', '-t', project.manifest.image, context], { env });
    return project.manifest.image;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

export async function dpk(args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; reject?: boolean }) {
  return execa(process.execPath, [DPK_BIN, ...args], { cwd: options.cwd, env: options.env, reject: options.reject ?? true, stdin: 'ignore' });
}

