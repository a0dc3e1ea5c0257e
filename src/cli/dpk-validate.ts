import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program.command('validate').description('(not implemented yet)').action(() => {
    throw new Error('dpk validate is not implemented yet');
  });
}
