import { Command } from 'commander';
import { caOption, pinOption, trustFlags } from '../trust-flags.js';

/** `sdrlink login`: store a lasting credential (an API key) for a signaling server. */
export function loginCommand(): Command {
  return new Command('login')
    .description('log in to a signaling server and store an API key for it (so --token is no longer needed)')
    .option('--server <url>', 'signaling server URL (env SDRLINK_SERVER)')
    .option('--username <name>', 'user name (asked for when absent and stdin is a terminal)')
    .option('--password-stdin', 'read the password from the first line of stdin (else asked for, not echoed)')
    .option('--name <name>', 'name of the API key created (default: "sdrlink login on <host>")')
    .option('--json', 'print one JSON object (never the key)')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { runLogin } = await import('../account.js');
      process.exitCode = await runLogin({
        ...(typeof o['server'] === 'string' ? { server: o['server'] } : {}),
        ...(typeof o['username'] === 'string' ? { username: o['username'] } : {}),
        ...(typeof o['name'] === 'string' ? { name: o['name'] } : {}),
        ...trustFlags(o),
        passwordStdin: o['passwordStdin'] === true,
        json: o['json'] === true,
      });
    });
}
