import { Command, Option } from 'commander';
import { PLUGIN_TYPES } from '../project/manifest.js';
import { canPrompt, colors } from '../ui/terminal.js';
import { VERSION } from '../version.js';
import { runCli } from './run.js';

await runCli(async () => {
  const program = new Command('create-docker-plugin')
    .description('Scaffold a Docker Engine managed plugin (volume, network, logging, authz) in Go')
    .version(VERSION)
    .argument('[directory]', 'directory to create the project in (default: the plugin name)')
    .addOption(new Option('-t, --type <type>', 'plugin type').choices([...PLUGIN_TYPES]))
    .option('-n, --name <reference>', 'plugin reference: [registry/]owner/name[:tag] (default: the directory name)')
    .option('-m, --module <path>', 'Go module path (default: example.com/<name>)')
    .option('-d, --description <text>', 'one line saying what the plugin does')
    .option('-y, --yes', 'never prompt: defaults fill the gaps (also without a terminal or with CI set)')
    .option('--no-interactive', 'same as --yes')
    .option('-f, --force', 'replace the contents of a non-empty directory (its .git is kept)')
    .option('--json', 'print what was generated as JSON on stdout')
    .option('--debug', 'show stack traces of unexpected errors')
    .exitOverride()
    .action(async (directory: string | undefined, opts: { type?: string; name?: string; module?: string; description?: string; yes?: boolean; interactive: boolean; force?: boolean; json?: boolean }) => {
      const { createProject } = await import('../commands/create.js');
      const interactive = !opts.yes && opts.interactive && canPrompt();
      const questioner = interactive ? await (await import('../scaffold/prompt.js')).inquirerQuestioner() : undefined;
      const result = await createProject({ directory, type: opts.type, name: opts.name, module: opts.module, description: opts.description, force: opts.force, questioner });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ directory: result.directory, manifest: result.manifest, files: result.files }, null, 2)}\n`);
      }
      const c = colors(process.stderr);
      process.stderr.write(
        `${c.green('created')} ${result.manifest.type} plugin ${c.bold(`${result.manifest.name}:${result.manifest.tag}`)} in ${result.directory}\n\nNext steps:\n${result.nextSteps.map((step) => `  ${step}`).join('\n')}\n`,
      );
    });
  await program.parseAsync(process.argv);
});
