import { Command } from 'commander';

/** Start-up failures printed as one line `sdrlink server: CODE: message` (docs/errors.md). */
const START_ERRORS = new Set([
  'ERR_TLS',
  'ERR_DB_URL',
  'ERR_DB_UNREACHABLE',
  'ERR_DB_AUTH',
  'ERR_MIGRATION',
  'ERR_STORAGE',
]);

/** `sdrlink server`: the signaling server (docs/api.md). */
export function serverCommand(): Command {
  return new Command('server')
    .description('run the signaling server (SQLite or PostgreSQL database, REST + WebSocket push + relay)')
    .option('--host <host>', 'address to listen on (env SDRLINK_HOST)', undefined)
    .option('--port <port>', 'port, 0 = any free port (env SDRLINK_PORT; default 8080)')
    .option(
      '--db <path|url>',
      'SQLite database file, or PostgreSQL postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite); PostgreSQL needs SDRLINK_JWT_SECRET',
    )
    .option(
      '--log-level <level>',
      'fatal|error|warn|info|debug|trace|silent (env SDRLINK_LOG_LEVEL; default info)',
    )
    .option(
      '--ice-servers <json>',
      'ICE servers for clients, JSON array of {"urls":…} (env SDRLINK_ICE_SERVERS; default [])',
    )
    .option(
      '--session-ttl <ms>',
      'expire sessions untouched this long (env SDRLINK_SESSION_TTL_MS; default 600000)',
    )
    .option('--sweep-interval <ms>', 'how often to look for stale sessions (env SDRLINK_SWEEP_INTERVAL_MS)')
    .option(
      '--claim-timeout <duration>',
      'release a claimed session that reaches no channel within this long and offer it to the other providers: 15s, 500ms, off (env SDRLINK_CLAIM_TIMEOUT; default 15s)',
    )
    .option(
      '--request-types <list>',
      'request types accepted without a provider declaring them (env SDRLINK_REQUEST_TYPES; default spectrum,signal,spectrogram,battery-report)',
    )
    .option('--token-ttl <s>', 'token lifetime in seconds (env SDRLINK_TOKEN_TTL_S; default 86400)')
    .option(
      '--registration <open|closed>',
      'whether anyone may register (env SDRLINK_REGISTRATION; default closed: create users with sdrlink user add)',
    )
    .option('--open-registration', 'let anyone register (same as --registration open)')
    .option(
      '--sessions-per-minute <n>',
      'sessions one user may create per minute (env SDRLINK_SESSIONS_PER_MINUTE; default 120)',
    )
    .option(
      '--max-push-per-user <n>',
      'push WebSockets one user may hold open (env SDRLINK_MAX_PUSH_PER_USER; default 20)',
    )
    .option(
      '--max-relays-per-user <n>',
      'relays one user may take part in at once (env SDRLINK_MAX_RELAYS_PER_USER; default 10)',
    )
    .option(
      '--retention <age>',
      "delete final sessions' signals, candidates and status history after this age, keeping the transfer history: 30d, 12h, off (env SDRLINK_RETENTION; default 30d)",
    )
    .option(
      '--relay-window <bytes>',
      'relay backpressure window (env SDRLINK_RELAY_WINDOW_BYTES; default 4194304)',
    )
    .option(
      '--relay-join-timeout <ms>',
      'how long a relay side waits for its peer (env SDRLINK_RELAY_JOIN_TIMEOUT_MS; default 30000)',
    )
    .option('--max-relays <n>', 'relays open at once (env SDRLINK_RELAY_MAX; default 100)')
    .option(
      '--cors-origin <list>',
      'browser origins allowed to call the API and open its WebSockets, scheme://host[:port],… or * (env SDRLINK_CORS_ORIGIN; default none)',
    )
    .option(
      '--metrics-token <token>',
      'require Authorization: Bearer <token> on GET /metrics, 16+ visible characters (env SDRLINK_METRICS_TOKEN, which keeps it out of ps; default: /metrics open)',
    )
    .option(
      '--turn-url <list>',
      'TURN servers sharing --turn-secret, turn:HOST[:PORT],… (UDP only; env SDRLINK_TURN_URL; default none)',
    )
    .option(
      '--turn-secret <secret>',
      "the TURN server's static-auth-secret, 16+ visible characters (env SDRLINK_TURN_SECRET, which keeps it out of ps)",
    )
    .option(
      '--turn-ttl <duration>',
      'lifetime of the TURN credentials handed out, e.g. 1h (env SDRLINK_TURN_TTL; default 1h)',
    )
    .option(
      '--stun-port <port|off>',
      'UDP port of the built-in STUN responder, 0 = any free port (env SDRLINK_STUN_PORT; default: the HTTP port number)',
    )
    .option(
      '--tls',
      'serve HTTPS and WSS with a self-signed certificate made at first start and kept beside the database (<db>.cert.pem, <db>.key.pem); its SHA-256 fingerprint is printed (env SDRLINK_TLS=1)',
    )
    .option('--tls-cert <file>', 'serve HTTPS and WSS with this certificate, PEM (env SDRLINK_TLS_CERT)')
    .option('--tls-key <file>', "the certificate's private key, PEM, unencrypted (env SDRLINK_TLS_KEY)")
    .option(
      '--instance-id <id>',
      "this server's id among the servers on one PostgreSQL database (env SDRLINK_INSTANCE_ID; default: a random short id)",
    )
    .option(
      '--advertise-url <url>',
      'the URL the other servers on the database reach this one at, for relays (env SDRLINK_ADVERTISE_URL; default: the listening URL)',
    )
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const { loadConfig } = await import('../../server/config.js');
      const { startServer } = await import('../../server/main.js');
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer(loadConfig(flags));
      } catch (err) {
        const e = err as Error & { code?: unknown };
        if (typeof e.code !== 'string' || !START_ERRORS.has(e.code)) throw err;
        // one line (the database's errors never carry its password); the stack only when asked for
        process.stderr.write(`sdrlink server: ${e.code}: ${e.message}\n`);
        const level = flags['logLevel'] ?? process.env['SDRLINK_LOG_LEVEL'];
        if ((level === 'debug' || level === 'trace') && e.stack !== undefined)
          process.stderr.write(`${e.stack}\n`);
        process.exitCode = 1;
        return;
      }
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stderr.write(`sdrlink server: ${signal} again, exiting now\n`);
          process.exit(1);
        }
        stopping = true;
        process.stderr.write(`sdrlink server: ${signal}, shutting down\n`);
        server.close().then(
          () => {
            process.stdout.write(JSON.stringify({ event: 'stopped' }) + '\n');
            process.exit(0);
          },
          (err: unknown) => {
            process.stderr.write(
              `sdrlink server: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`,
            );
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
