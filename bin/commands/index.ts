import type { Command } from 'commander';

/** Every command of the CLI; each module adds itself to this list. */
export const commands: Array<(program: Command) => void> = [];
