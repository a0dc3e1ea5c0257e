import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importBusyboxImage, skipWithoutEngine, startEngine, startRegistry } from './helpers/engine.js';

test('a private engine and registry start, run a busybox container, and stop', { skip: await skipWithoutEngine() }, async () => {
  const engine = await startEngine();
  const registry = await startRegistry();
  try {
    const image = await importBusyboxImage(engine);
    const run = await engine.docker(['run', '--rm', '--network', 'none', image, 'echo', 'hello']);
    assert.equal(run.stdout.trim(), 'hello', run.stderr);
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
  } finally {
    await registry.stop();
    await engine.destroy();
  }
});
