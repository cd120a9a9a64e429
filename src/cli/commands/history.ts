import { Command } from 'commander';
import { caOption, pinOption } from '../trust-flags.js';

/** `sdrlink history`: the caller's transfers and how each ended (`GET /api/transfers`, docs/api.md §3). */
export function historyCommand(): Command {
  return new Command('history')
    .description(
      'list your transfers, newest first: when, type, provider, status, size, path and why it failed',
    )
    .option(
      '--server <url>',
      'signaling server URL, or several of one cluster separated by commas, tried in turn when one fails (env SDRLINK_SERVER; default: the stored login)',
    )
    .option(
      '--token <token>',
      'your token or API key (provider or consumer) (env SDRLINK_TOKEN; default: the stored login)',
    )
    .option(
      '--status <status>',
      'only this status: completed, failed, cancelled, expired, pending, offered, connected, transferring',
    )
    .option('--type <type>', 'only this request type')
    .option('--provider <name>', "only this provider's (user name)")
    .option('--since <time>', 'created at or after (ISO 8601: 2026-12-01 or 2026-12-01T10:00:00Z)')
    .option('--until <time>', 'created before (ISO 8601)')
    .option('--limit <n>', 'at most this many (1–1000)', '50')
    .option('--json', 'print the rows as one JSON array')
    .addOption(caOption())
    .addOption(pinOption())
    .action(async (o: Record<string, unknown>) => {
      const { runHistory } = await import('../history.js');
      process.exitCode = await runHistory(o);
    });
}
