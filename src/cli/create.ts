import { Command } from 'commander';
import { VERSION } from '../version.js';
import { runCli } from './run.js';

await runCli(async () => {
  const program = new Command('create-docker-plugin')
    .description('Scaffold a Docker Engine managed plugin (volume, network, logging, authz) in Go')
    .version(VERSION)
    .exitOverride();
  await program.parseAsync(process.argv);
});
