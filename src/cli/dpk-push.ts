import type { Command } from 'commander';

export function registerPush(program: Command): void {
  program.command('push').description('(not implemented yet)').action(() => {
    throw new Error('dpk push is not implemented yet');
  });
}
