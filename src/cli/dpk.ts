import { Command } from 'commander';
import { VERSION } from '../version.js';
import { runCli } from './run.js';
import { registerValidate } from './dpk-validate.js';
import { registerPack } from './dpk-pack.js';
import { registerPush } from './dpk-push.js';

// Each register* only declares flags; the command's library code is imported lazily so --help stays fast.
await runCli(async () => {
  const program = new Command('dpk')
    .description('Validate, pack and push Docker Engine managed plugins')
    .version(VERSION)
    .option('--debug', 'show debug output and stack traces')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerValidate(program);
  registerPack(program);
  registerPush(program);
  await program.parseAsync(process.argv);
});
