import { Command } from 'commander';
import { caOption, pinOption, trustFlags } from '../trust-flags.js';

/** `sdrlink logout`: revoke and forget the stored credential. */
export function logoutCommand(): Command {
  return new Command('logout')
    .description('revoke the stored API key of a server and delete it from the credentials file')
    .option('--server <url>', 'which server (env SDRLINK_SERVER; default: the last one logged in to)')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (o: { server?: string; ca?: string; pin?: string }) => {
      const { runLogout } = await import('../account.js');
      process.exitCode = await runLogout({
        ...(o.server === undefined ? {} : { server: o.server }),
        ...trustFlags(o),
      });
    });
}
