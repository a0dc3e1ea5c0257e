/**
 * The second half of the main job: publish the plugin that dpk pack made on one engine with `dpk push`, then install
 * it on a second, separate engine from the registry, as a user on another host would.
 */
import assert from 'node:assert/strict';
import { dpk } from '../../scripts/lib/project.js';
import { startEngine, type Engine } from './engine.js';

export interface Installed {
  engine: Engine;
  pushed: unknown;
}

/**
 * `dpk push --json` in the project (through `from`), then `docker plugin install --grant-all-permissions` of the same
 * reference on a new engine, with `settings` (key=value) applied at install. The caller destroys the returned engine.
 */
export async function pushAndInstallElsewhere(options: { projectDir: string; pluginRef: string; from: Engine; settings?: string[] }): Promise<Installed> {
  const push = await dpk(['push', options.pluginRef, '--json'], { cwd: options.projectDir, env: options.from.env });
  const pushed = JSON.parse(String(push.stdout)) as unknown;
  const engine = await startEngine();
  try {
    await engine.docker(['plugin', 'install', '--grant-all-permissions', options.pluginRef, ...(options.settings ?? [])]);
    const enabled = await engine.docker(['plugin', 'inspect', '-f', '{{.Enabled}}', options.pluginRef]);
    assert.equal(enabled.stdout.trim(), 'true', `${options.pluginRef} installed and enabled on the second engine`);
    return { engine, pushed };
  } catch (error) {
    await engine.destroy();
    throw error;
  }
}
