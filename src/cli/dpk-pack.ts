import type { Command } from 'commander';

interface PackFlags {
  image?: string;
  archive?: string;
  build?: boolean;
  config?: string;
  name?: string;
  output?: string;
  create?: boolean;
  enable?: boolean;
  force?: boolean;
  arch?: string;
  strict?: boolean;
  json?: boolean;
  timeout?: string;
}

export function registerPack(program: Command): void {
  program
    .command('pack')
    .description('turn an image into a managed plugin: flatten its layers, validate config.json against it, create it in the engine')
    .option('--image <ref>', 'image in the local engine (default: the "image" plugin.json names); with --archive, which image of the archive')
    .option('--archive <file>', 'read the image from a `docker save` archive, an OCI archive or an OCI layout directory instead')
    .option('--build', "build the image from the project's Dockerfile first (docker build -t IMAGE .)")
    .option('--config <file>', 'plugin config (default: the one plugin.json names, else ./config.json)')
    .option('--name <ref>', 'plugin name[:tag] (default: plugin.json name:tag)')
    .option('--output <plugin.tar>', 'write the plugin (config.json + rootfs/) as a tar file; then the engine is used only with --create or --enable')
    .option('--create', 'with --output: also create the plugin in the engine')
    .option('--enable', 'enable the plugin after creating it')
    .option('--force', 'replace an installed plugin of the same name (disable, remove, create)')
    .option('--arch <arch>', "target architecture for the rootfs checks (default: the engine's, or the image's with --output only)")
    .option('--strict', 'privilege warnings are errors')
    .option('--json', 'print the result as JSON on stdout')
    .option('--timeout <seconds>', 'give up when the engine sends nothing for this long during one call (default: $DPK_TIMEOUT, else 120)')
    .addHelpText('after', '\nEnvironment:\n  DOCKER_HOST   the engine socket (unix:///path/to/docker.sock)\n  DPK_TIMEOUT   seconds the engine may stay silent during one call before dpk gives up (default 120)\n  TMPDIR        where an engine image is copied while it is read (removed afterwards)')
    .action(async (flags: PackFlags, command: Command) => {
      const { packCommand } = await import('../commands/pack.js');
      const { parseTimeoutSeconds } = await import('../engine/client.js');
      const { timeout, ...rest } = flags;
      const timeoutSeconds = timeout === undefined ? undefined : parseTimeoutSeconds(timeout, '--timeout');
      // Ctrl-C aborts the work; the command then removes what it made (temp copy, partial output, created plugin).
      // A second Ctrl-C finds no handler and ends the process at once.
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write('\ninterrupted: cleaning up (Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await packCommand({ ...rest, timeoutSeconds, debug: Boolean(command.optsWithGlobals().debug), signal: controller.signal });
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
