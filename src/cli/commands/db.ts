import { Command } from 'commander';

/** `sdrlink db prune`: maintenance of the server's database file (works beside a running server). */
export function dbCommand(): Command {
  const db = new Command('db').description("maintenance of the signaling server's database");
  db.command('prune')
    .description(
      "delete final sessions' signals, candidates, status history and declines older than an age; the transfer history stays",
    )
    .option('--older-than <age>', 'age: 30d, 12h, 90m, 45s (default 30d)', '30d')
    .option('--db <path>', 'database file (env SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)')
    .option('--json', 'print one JSON object')
    .action(async (flags: { olderThan: string; db?: string; json?: boolean }) => {
      const { loadConfig, parseDurationMs } = await import('../../server/config.js');
      const { pruneDatabase } = await import('../../server/admin.js');
      const cfg = loadConfig(flags.db === undefined ? {} : { db: flags.db });
      const olderThanMs = parseDurationMs(flags.olderThan, '--older-than');
      if (olderThanMs === 0) {
        const { ConfigError } = await import('../../server/config.js');
        throw new ConfigError('--older-than: must be a positive age (e.g. 30d)');
      }
      const r = await pruneDatabase({ db: cfg.db }, olderThanMs);
      if (flags.json === true) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      process.stderr.write(
        `pruned ${r.sessions} final sessions last changed before ${r.cutoff}: ${r.signals} signals and candidates, ${r.history} history entries, ${r.declines} declines deleted\n`,
      );
    });
  return db;
}
