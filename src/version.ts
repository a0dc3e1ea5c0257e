import { readFileSync } from 'node:fs';

/** The package's own version, read once from package.json next to dist/ and src/. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
