import type { Command } from 'commander';

interface PushFlags {
  image?: string;
  archive?: string;
  config?: string;
  platform?: string[];
  engine?: boolean;
  insecure?: boolean;
  retries?: string;
  timeout?: string;
  strict?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPush(program: Command): void {
  program
    .command('push')
    .argument('[name]', 'plugin name[:tag] (default: plugin.json name:tag)')
    .description('publish a plugin to a registry: through the engine when it has the plugin, else straight to the registry with no engine')
    .option('--no-engine', 'never push through the engine: dpk builds the plugin itself (from --archive, or from --image in the engine) and speaks the registry API')
    .option('--platform <os/arch,...>', 'publish one tag per platform: linux/amd64 keeps the tag, others get "-<arch><variant>" (1.2.0-arm64, 1.2.0-armv7)', collect)
    .option('--image <ref>', 'image to build the plugin from (default: the "image" plugin.json names)')
    .option('--archive <file>', 'read the image from a docker save archive, an OCI archive or an OCI layout (several platforms: an OCI index)')
    .option('--config <file>', 'plugin config (default: the one plugin.json names, else ./config.json)')
    .option('--insecure', 'plain HTTP to the registry (loopback registries always are)')
    .option('--retries <n>', 'attempts per registry request on 408/429/5xx and dropped connections', '5')
    .option('--timeout <seconds>', 'give up on a registry connection silent for this long', '60')
    .option('--strict', 'privilege warnings are errors')
    .option('--json', 'print the pushed references and digests as JSON on stdout')
    .action(async (name: string | undefined, flags: PushFlags, command: Command) => {
      const { pushCommand } = await import('../commands/push.js');
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write('\ninterrupted: stopping (Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await pushCommand({
          name,
          image: flags.image,
          archive: flags.archive,
          config: flags.config,
          platforms: flags.platform,
          noEngine: flags.engine === false,
          insecure: flags.insecure,
          retries: Number(flags.retries),
          timeoutSeconds: Number(flags.timeout),
          strict: flags.strict,
          json: flags.json,
          debug: Boolean(command.optsWithGlobals().debug),
          signal: controller.signal,
        });
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
