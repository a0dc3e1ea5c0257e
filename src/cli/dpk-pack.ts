import type { Command } from 'commander';

export function registerPack(program: Command): void {
  program.command('pack').description('(not implemented yet)').action(() => {
    throw new Error('dpk pack is not implemented yet');
  });
}
