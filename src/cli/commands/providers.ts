import { Command } from 'commander';

/** `sdrlink providers`: who is online and what each offers (docs/api.md §12). */
export function providersCommand(): Command {
  return new Command('providers')
    .description('list the providers online and what each offers (request types, recordings)')
    .requiredOption('--server <url>', 'signaling server URL', process.env['SDRLINK_SERVER'])
    .requiredOption('--token <jwt>', 'a token (consumer or provider)', process.env['SDRLINK_TOKEN'])
    .option('--json', 'print the full list, catalogs included, as one JSON array')
    .action(async (o: { server: string; token: string; json?: boolean }) => {
      const { runProviders } = await import('../providers.js');
      process.exitCode = await runProviders(o);
    });
}
