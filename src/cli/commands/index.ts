import type { Command } from 'commander';

/**
 * Every verb of the CLI. A module here only declares options; its action imports the implementation.
 * Add one line per verb.
 */
export const commands: Array<() => Command> = [];
