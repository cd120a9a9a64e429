#!/usr/bin/env node
/**
 * The `sdrlink` command. Each verb lives in `commands/<verb>.ts`, which declares its options and loads
 * the heavy code only when it runs (vite's CLI), so `sdrlink --help` stays instant.
 */
import { Command } from 'commander';
import { commands } from './commands/index.js';
import { packageVersion } from './version.js';

const program = new Command()
  .name('sdrlink')
  .description('Datasets delivered peer to peer: a signaling server, providers and consumers over WebRTC.')
  .version(packageVersion())
  .showHelpAfterError();

for (const make of commands) program.addCommand(make());

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sdrlink: ${message}\n`);
  process.exit(1);
});
