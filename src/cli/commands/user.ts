import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { caOption, pinOption } from '../trust-flags.js';

interface CommonFlags {
  db?: string;
  json?: boolean;
  tokenTtl?: string;
}

async function target(flags: CommonFlags) {
  const { loadConfig } = await import('../../server/config.js');
  const cfg = loadConfig({
    ...(flags.db === undefined ? {} : { db: flags.db }),
    ...(flags.tokenTtl === undefined ? {} : { tokenTtl: flags.tokenTtl }),
  });
  return { db: cfg.db, jwtSecret: cfg.jwtSecret, tokenTtlS: cfg.tokenTtlS };
}

/** `sdrlink user add|token|list` (offline, on the server's database) and `user key …` (online). */
export function userCommand(): Command {
  const user = new Command('user').description(
    "manage users directly in the server's database (works offline), and your API keys (user key)",
  );
  user.addCommand(keyCommand());

  user
    .command('add')
    .description('create a user and print a token for it (and the password, when generated)')
    .argument('<name>', 'user name')
    .addOption(
      new Option('--type <type>', '1 = provider (sends data), 2 = consumer (asks for data)')
        .choices(['1', '2'])
        .makeOptionMandatory(),
    )
    .option('--password <password>', 'password (default: generated and printed)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option(
      '--request-types <list>',
      'for providers: the request types served, comma-separated (default: all)',
    )
    .option(
      '--db <path|url>',
      'database file, or postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)',
    )
    .option('--token-ttl <s>', 'token lifetime in seconds (default 86400)')
    .option('--json', 'print one JSON object')
    .action(
      async (
        name: string,
        flags: CommonFlags & {
          type: '1' | '2';
          password?: string;
          passwordStdin?: boolean;
          requestTypes?: string;
        },
      ) => {
        const { addUser } = await import('../../server/admin.js');
        let password = flags.password;
        if (flags.passwordStdin === true)
          password = (readFileSync(0, 'utf8').split('\n')[0] ?? '').replace(/\r$/, '');
        const requestTypes =
          flags.requestTypes === undefined
            ? []
            : flags.requestTypes
                .split(',')
                .map((s) => s.trim())
                .filter((s) => s !== '');
        const r = await addUser(await target(flags), {
          username: name,
          clientType: flags.type === '1' ? 1 : 2,
          ...(password === undefined ? {} : { password }),
          requestTypes,
        });
        const out = {
          user_id: String(r.user.id),
          username: r.user.username,
          client_type: r.user.clientType,
          request_types: r.user.requestTypes,
          token: r.token,
          expires_at: r.expiresAt,
          ...(r.generatedPassword === undefined ? {} : { password: r.generatedPassword }),
        };
        if (flags.json === true) {
          process.stdout.write(JSON.stringify(out) + '\n');
          return;
        }
        process.stderr.write(
          `created ${out.client_type === 1 ? 'provider' : 'consumer'} ${out.username} (user_id ${out.user_id})\n`,
        );
        if (out.password !== undefined) process.stderr.write(`password: ${out.password}\n`);
        process.stderr.write(`token (valid until ${out.expires_at}):\n`);
        process.stdout.write(out.token + '\n');
      },
    );

  user
    .command('token')
    .description('print a fresh token for an existing user')
    .argument('<name>', 'user name')
    .option(
      '--db <path|url>',
      'database file, or postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)',
    )
    .option('--token-ttl <s>', 'token lifetime in seconds (default 86400)')
    .option('--json', 'print one JSON object')
    .action(async (name: string, flags: CommonFlags) => {
      const { tokenFor } = await import('../../server/admin.js');
      const r = await tokenFor(await target(flags), name);
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            user_id: String(r.user.id),
            username: r.user.username,
            client_type: r.user.clientType,
            token: r.token,
            expires_at: r.expiresAt,
          }) + '\n',
        );
      } else {
        process.stdout.write(r.token + '\n');
      }
    });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(verb)
      .description(
        disabled
          ? 'disable a user: its tokens and API keys are refused and its open connections dropped (a running server notices within a second)'
          : 'enable a disabled user again',
      )
      .argument('<name>', 'user name')
      .option(
        '--db <path|url>',
        'database file, or postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)',
      )
      .option('--json', 'print one JSON object')
      .action(async (name: string, flags: CommonFlags) => {
        const { setUserDisabled } = await import('../../server/admin.js');
        const u = await setUserDisabled(await target(flags), name, disabled);
        if (flags.json === true) {
          process.stdout.write(
            JSON.stringify({ user_id: String(u.id), username: u.username, disabled_at: u.disabledAt }) + '\n',
          );
          return;
        }
        process.stderr.write(
          u.disabledAt === null
            ? `user ${u.username} is enabled\n`
            : `user ${u.username} is disabled (since ${u.disabledAt})\n`,
        );
      });
  }

  user
    .command('list')
    .description('list users')
    .option(
      '--db <path|url>',
      'database file, or postgres://USER:PASSWORD@HOST:PORT/DB (env SDRLINK_DATABASE_URL, SDRLINK_DB; default ./.sdrlink/sdrlink.sqlite)',
    )
    .option('--json', 'print a JSON array')
    .action(async (flags: CommonFlags) => {
      const { listUsers } = await import('../../server/admin.js');
      const users = await listUsers(await target(flags));
      const rows = users.map((u) => ({
        user_id: String(u.id),
        username: u.username,
        client_type: u.clientType,
        request_types: u.requestTypes,
        created_at: u.createdAt,
        disabled_at: u.disabledAt,
      }));
      if (flags.json === true) {
        process.stdout.write(JSON.stringify(rows) + '\n');
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${r.user_id}\t${r.username}\t${r.client_type === 1 ? 'provider' : 'consumer'}\t${r.request_types.join(',') || '-'}${r.disabled_at === null ? '' : '\tdisabled'}\n`,
        );
      }
    });

  return user;
}

/** Where `user key …` finds the server and the credential: flag > env > `sdrlink login`'s file. */
function withServer(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'signaling server URL (env SDRLINK_SERVER; default: the stored login)')
    .option('--token <token>', 'JWT or API key (env SDRLINK_TOKEN; default: the stored login)')
    .addOption(caOption())
    .addOption(pinOption());
}

/** `sdrlink user key create|list|revoke`: your API keys on a signaling server (docs/api.md §1.1). */
function keyCommand(): Command {
  const key = new Command('key').description(
    'your API keys on a signaling server: lasting, revocable credentials for agents',
  );
  withServer(
    key
      .command('create')
      .description('create an API key and print it (shown this once)')
      .option('--name <name>', 'what the key is for (default: "key on <host>")')
      .option('--expires <duration>', 'lifetime: 3600, 90m, 12h, 30d, 2w, or never (default never)')
      .option('--json', 'print one JSON object, the key included'),
  ).action(async (o: Record<string, string | boolean | undefined>) => {
    const { runKeyCreate } = await import('../account.js');
    process.exitCode = await runKeyCreate(keyFlags(o));
  });
  withServer(
    key
      .command('list')
      .description('list your API keys (never their secrets)')
      .option('--json', 'print a JSON array'),
  ).action(async (o: Record<string, string | boolean | undefined>) => {
    const { runKeyList } = await import('../account.js');
    process.exitCode = await runKeyList(keyFlags(o));
  });
  withServer(
    key
      .command('revoke')
      .description('revoke one of your API keys: it stops working at once, open connections included')
      .argument('<id>', 'key id (see user key list)')
      .option('--json', 'print the revoked key as JSON'),
  ).action(async (id: string, o: Record<string, string | boolean | undefined>) => {
    const { runKeyRevoke } = await import('../account.js');
    process.exitCode = await runKeyRevoke(id, keyFlags(o));
  });
  return key;
}

function keyFlags(o: Record<string, string | boolean | undefined>) {
  const str = (k: string) => (typeof o[k] === 'string' ? { [k]: o[k] } : {});
  return {
    ...str('server'),
    ...str('token'),
    ...str('name'),
    ...str('expires'),
    ...str('ca'),
    ...str('pin'),
    json: o['json'] === true,
  };
}
