import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a plugin config.json, and optionally its rootfs, for what the engine would refuse or ignore')
    .argument('[config]', 'plugin config file (default: the one plugin.json names, else ./config.json)')
    .option(
      '--rootfs <dir|image|archive>',
      'plugin root filesystem to check the entrypoint, its loader and libraries, WorkDir against: a directory, a `docker save`/OCI archive or layout, a rootfs tar (`docker export`), or an image in the engine',
    )
    .option('--arch <arch>', 'target architecture for the rootfs checks: amd64, arm64, arm/v7, ... (default: this machine)')
    .option('--strict', 'privilege warnings (CAP_SYS_ADMIN, host network/pid/ipc, all devices, host mounts) are errors')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText('after', '\nEnvironment (for an image --rootfs):\n  DOCKER_HOST   the engine socket (unix:///path/to/docker.sock)\n  DPK_TIMEOUT   seconds the engine may stay silent during one call before dpk gives up (default 120)\n  TMPDIR        where the image is copied while it is read (removed afterwards)')
    .action(async (config: string | undefined, opts: { rootfs?: string; arch?: string; strict?: boolean; json?: boolean }) => {
      const { validateCommand } = await import('../commands/validate.js');
      // Ctrl-C while an image is read: abort, so the temporary copy is removed before exiting.
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await validateCommand({ config, rootfs: opts.rootfs, arch: opts.arch, strict: opts.strict, json: opts.json, signal: controller.signal });
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
