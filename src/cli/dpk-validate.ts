import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a plugin config.json, and optionally its rootfs, for what the engine would refuse or ignore')
    .argument('[config]', 'plugin config file (default: the one plugin.json names, else ./config.json)')
    .option('--rootfs <dir>', 'plugin root filesystem directory: check the entrypoint, its loader and libraries, WorkDir')
    .option('--arch <arch>', 'target architecture for the rootfs checks: amd64, arm64, arm/v7, ... (default: this machine)')
    .option('--strict', 'privilege warnings (CAP_SYS_ADMIN, host network/pid/ipc, all devices, host mounts) are errors')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (config: string | undefined, opts: { rootfs?: string; arch?: string; strict?: boolean; json?: boolean }) => {
      const { validateCommand } = await import('../commands/validate.js');
      await validateCommand({ config, rootfs: opts.rootfs, arch: opts.arch, strict: opts.strict, json: opts.json });
    });
}
