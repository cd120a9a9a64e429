import { Command } from 'commander';
import { caOption, pinOption } from '../trust-flags.js';

/** `sdrlink providers`: who is online and what each offers (docs/api.md §12). */
export function providersCommand(): Command {
  return new Command('providers')
    .description('list the providers online and what each offers (request types, recordings)')
    .option(
      '--server <url>',
      'signaling server URL, or several of one cluster separated by commas, tried in turn when one fails (env SDRLINK_SERVER; default: the stored login)',
    )
    .option(
      '--token <token>',
      'a token or API key (consumer or provider) (env SDRLINK_TOKEN; default: the stored login)',
    )
    .option('--json', 'print the full list, catalogs included, as one JSON array')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (o: { server?: string; token?: string; json?: boolean; ca?: string; pin?: string }) => {
      const { runProviders } = await import('../providers.js');
      process.exitCode = await runProviders(o);
    });
}
