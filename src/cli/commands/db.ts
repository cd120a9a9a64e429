import { Command } from 'commander';

/**
 * `sdrlink db prune`: maintenance of the server's database file (works beside a running server);
 * `sdrlink db migrate`: moves a SQLite database to PostgreSQL (src/storage/postgres/copy.ts).
 */
export function dbCommand(): Command {
  const db = new Command('db').description("maintenance of the signaling server's database");
  db.command('prune')
    .description(
      "delete final sessions' signals, candidates, status history and declines older than an age; the transfer history stays",
    )
    .option('--older-than <age>', 'age: 30d, 12h, 90m, 45s (default 30d)', '30d')
    .option(
      '--db <path|url>',
      'database file, or postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)',
    )
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
  db.command('migrate')
    .description(
      'copy a SQLite database (users, sessions, signals, transfers, API keys, catalogs: every table) into PostgreSQL, in one transaction, and check the row counts',
    )
    .requiredOption('--from <file>', 'the SQLite database file')
    .requiredOption('--to <url>', 'the PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DB')
    .option('--replace', 'empty a target that holds rows first (default: refuse it)')
    .option('--json', 'print one JSON object')
    .action(async (flags: { from: string; to: string; replace?: boolean; json?: boolean }) => {
      const { copySqliteToPostgres } = await import('../../storage/postgres/copy.js');
      const { existsSync } = await import('node:fs');
      const { resolve } = await import('node:path');
      let r: Awaited<ReturnType<typeof copySqliteToPostgres>>;
      try {
        r = await copySqliteToPostgres(resolve(flags.from), flags.to, { replace: flags.replace === true });
      } catch (err) {
        const e = err as Error & { code?: unknown };
        if (typeof e.code !== 'string' || !e.code.startsWith('ERR_')) throw err;
        process.stderr.write(`sdrlink db migrate: ${e.code}: ${e.message}\n`);
        process.exitCode = 1;
        return;
      }
      if (flags.json === true) {
        process.stdout.write(JSON.stringify(r) + '\n');
      } else {
        const width = Math.max(...r.tables.map((t) => t.table.length));
        process.stdout.write(`copied ${r.from} → ${r.to} (row counts checked on both sides):\n`);
        for (const t of r.tables) process.stdout.write(`  ${t.table.padEnd(width)}  ${t.rows}\n`);
      }
      // tokens the SQLite server signed verify only with the same secret
      const secret = `${resolve(flags.from)}.jwt-secret`;
      if (existsSync(secret))
        process.stderr.write(
          `sdrlink db migrate: to keep the tokens already issued valid, run the servers with SDRLINK_JWT_SECRET set to the content of ${secret}\n`,
        );
    });
  return db;
}
