/**
 * `sdrlink login`, `sdrlink logout` and `sdrlink user key create|list|revoke` (see commands/login.ts,
 * commands/logout.ts, commands/user.ts): the credential a user keeps, and the API keys behind it.
 */
import { hostname } from 'node:os';
import { AgentError } from '../agents/errors.js';
import { warnIfCleartext } from '../agents/server-trust.js';
import { SignalingClient } from '../agents/signaling-client.js';
import type { ApiKeyWire } from '../wire/keys.js';
import {
  CredentialError,
  credentialsPath,
  readCredentials,
  removeCredential,
  resolveTarget,
  resolveTrust,
  serverKey,
  storeCredential,
  type StoredCredential,
} from './credentials.js';
import { readSecretLine, promptLine } from './prompt.js';

/**
 * Exit codes of the verbs that talk to a signaling server (README "Exit codes"): 1 a failure, 2 a bad
 * flag or no credential to use, 3 the server refused the credential (revoked, expired, unknown).
 */
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;
export const EXIT_AUTH = 3;

/** The exit code for an error a verb ends with. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CredentialError) return EXIT_CONFIG;
  if (err instanceof AgentError) {
    if (err.code === 'ERR_AUTH') return EXIT_AUTH;
    if (err.code === 'ERR_CONFIG') return EXIT_CONFIG;
  }
  return EXIT_FAILURE;
}

/** Prints `sdrlink <verb>: <code>: <message>` and returns the exit code. */
export function reportFailure(verb: string, err: unknown): number {
  const e = err as Error & { code?: unknown };
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  process.stderr.write(`sdrlink ${verb}: ${code}${e.message}\n`);
  return exitCodeFor(err);
}

/**
 * One line telling a user whose credential the server refused what happened and what to do, from the
 * server's code (never its text).
 * @example credentialRefusedLine('provide', 'ERR_KEY_REVOKED')
 * // 'sdrlink provide: credential revoked (ERR_KEY_REVOKED); create a new key with sdrlink user key create'
 */
export function credentialRefusedLine(verb: string, serverCode: string | undefined): string {
  const code = serverCode ?? 'ERR_AUTH';
  switch (code) {
    case 'ERR_KEY_REVOKED':
      return `sdrlink ${verb}: credential revoked (${code}); create a new key with sdrlink user key create`;
    case 'ERR_TOKEN_EXPIRED':
      return `sdrlink ${verb}: credential expired (${code}); log in again (sdrlink login) or use an API key that does not expire (sdrlink user key create)`;
    case 'ERR_TOKEN_MISSING':
      return `sdrlink ${verb}: no credential sent (${code}); give --token or log in (sdrlink login)`;
    default:
      return `sdrlink ${verb}: credential refused (${code}); log in again (sdrlink login) or give a valid --token`;
  }
}

/** A key name from a host name: the characters a key name allows, at most 64. */
function defaultKeyName(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return `sdrlink login on ${host || 'this host'}`.slice(0, 64);
}

/** `30d`, `12h`, `90m`, `3600s`, `3600`, `2w` → seconds; `never` → undefined. */
export function parseExpires(text: string): number | undefined {
  if (text === 'never') return undefined;
  const m = /^(\d{1,10})([smhdw]?)$/.exec(text.trim());
  if (m === null)
    throw new AgentError(
      'ERR_CONFIG',
      `--expires: ${JSON.stringify(text)} is not a duration (e.g. 3600, 90m, 12h, 30d, 2w, never)`,
    );
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  const s = Number(m[1]) * unit;
  if (s < 1) throw new AgentError('ERR_CONFIG', '--expires: must be at least 1 second');
  return s;
}

export interface LoginFlags {
  server?: string;
  ca?: string;
  pin?: string;
  username?: string;
  passwordStdin?: boolean;
  name?: string;
  json?: boolean;
}

/** `sdrlink login`: password → JWT → a new API key, stored for the server. */
export async function runLogin(flags: LoginFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const rawServer = flags.server ?? env['SDRLINK_SERVER'];
    if (rawServer === undefined || rawServer === '')
      throw new CredentialError('ERR_NO_CREDENTIAL', 'give --server URL (or SDRLINK_SERVER)');
    const server = serverKey(rawServer);
    const path = credentialsPath(env);
    const before = readCredentials(path).servers[server]; // a damaged or loose file stops us before any call
    // --ca/--pin (or SDRLINK_CA/SDRLINK_PIN), else what an earlier login stored; kept with the new key
    const trust = resolveTrust({ ca: flags.ca, pin: flags.pin }, env, before);
    warnIfCleartext(server);
    let username = flags.username;
    if (username === undefined) {
      if (process.stdin.isTTY !== true)
        throw new CredentialError('ERR_NO_CREDENTIAL', 'give --username (stdin is not a terminal)');
      username = await promptLine('username: ');
    }
    let password: string;
    if (flags.passwordStdin === true) {
      password = await readSecretLine({ fromStdin: true });
    } else if (process.stdin.isTTY === true) {
      password = await readSecretLine({
        fromStdin: false,
        prompt: `password for ${username} at ${server}: `,
      });
    } else {
      throw new CredentialError(
        'ERR_NO_CREDENTIAL',
        'stdin is not a terminal: give --password-stdin and the password on stdin',
      );
    }
    if (password === '') throw new CredentialError('ERR_NO_CREDENTIAL', 'empty password');
    const login = await new SignalingClient(server, '', { trust }).login(username, password);
    const created = await new SignalingClient(server, login.token, { trust }).createKey(
      flags.name ?? defaultKeyName(),
    );
    const cred: StoredCredential = {
      server,
      username,
      user_id: login.user_id,
      client_type: login.client_type,
      key_id: created.id,
      token: created.key,
      created_at: created.created_at,
      ...(trust?.ca === undefined ? {} : { tls_ca: trust.ca.toString() }),
      ...(trust?.pin === undefined ? {} : { tls_pin: trust.pin }),
    };
    storeCredential(path, cred);
    // the key this login replaces is of no use any more: revoke it (best effort; it may be gone already)
    if (before !== undefined && before.key_id !== cred.key_id) {
      await new SignalingClient(server, before.token, { trust })
        .revokeKey(before.key_id)
        .catch(() => undefined);
    }
    const role = login.client_type === 1 ? 'provider' : 'consumer';
    if (flags.json === true) {
      process.stdout.write(
        JSON.stringify({
          server,
          username,
          user_id: login.user_id,
          client_type: login.client_type,
          key_id: created.id,
          prefix: created.prefix,
          credentials: path,
        }) + '\n',
      );
    } else {
      process.stderr.write(
        `logged in to ${server} as ${username} (${role}); API key ${created.id} (${created.prefix}…) stored in ${path}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof AgentError && err.serverCode === 'ERR_CREDENTIALS') {
      process.stderr.write('sdrlink login: wrong username or password (ERR_CREDENTIALS)\n');
      return EXIT_AUTH;
    }
    return reportFailure('login', err);
  }
}

/** `sdrlink logout`: revokes the stored key and forgets it. */
export async function runLogout(
  flags: { server?: string; ca?: string; pin?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    const path = credentialsPath(env);
    const file = readCredentials(path);
    const raw = flags.server ?? env['SDRLINK_SERVER'] ?? file.default ?? undefined;
    if (raw === undefined || raw === '')
      throw new CredentialError('ERR_NO_CREDENTIAL', `not logged in to any server (${path} holds none)`);
    const server = serverKey(raw);
    const cred = file.servers[server];
    if (cred === undefined)
      throw new CredentialError(
        'ERR_NO_CREDENTIAL',
        `not logged in to ${server} (${path} holds no key for it)`,
      );
    let code = 0;
    try {
      const trust = resolveTrust({ ca: flags.ca, pin: flags.pin }, env, cred);
      await new SignalingClient(server, cred.token, { trust }).revokeKey(cred.key_id);
    } catch (err) {
      // a key the server refuses already (revoked, expired) is as good as revoked
      if (!(err instanceof AgentError && err.code === 'ERR_AUTH')) {
        process.stderr.write(
          `sdrlink logout: could not revoke API key ${cred.key_id} on ${server} (${(err as Error).message}); it stays valid until revoked (sdrlink user key revoke ${cred.key_id})\n`,
        );
        code = EXIT_FAILURE;
      }
    }
    removeCredential(path, server);
    process.stderr.write(`logged out of ${server}${code === 0 ? ` (API key ${cred.key_id} revoked)` : ''}\n`);
    return code;
  } catch (err) {
    return reportFailure('logout', err);
  }
}

interface KeyFlags {
  server?: string;
  token?: string;
  ca?: string;
  pin?: string;
  json?: boolean;
}

function keyClient(flags: KeyFlags, env: NodeJS.ProcessEnv) {
  const t = resolveTarget({ server: flags.server, token: flags.token, ca: flags.ca, pin: flags.pin }, env);
  return { client: new SignalingClient(t.server, t.token, { trust: t.trust }), target: t };
}

/** `sdrlink user key create`. */
export async function runKeyCreate(
  flags: KeyFlags & { name?: string; expires?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    const expiresIn = parseExpires(flags.expires ?? 'never');
    const { client } = keyClient(flags, env);
    const k = await client.createKey(
      flags.name ?? defaultKeyName().replace('sdrlink login', 'key'),
      expiresIn,
    );
    if (flags.json === true) {
      process.stdout.write(JSON.stringify(k) + '\n');
      return 0;
    }
    process.stderr.write(
      `API key ${k.id} "${k.name}" created, ${k.expires_at === null ? 'never expires' : `expires ${k.expires_at}`}; it is shown this once:\n`,
    );
    process.stdout.write(k.key + '\n');
    return 0;
  } catch (err) {
    return keyFailure('user key create', err);
  }
}

/** `sdrlink user key list`. */
export async function runKeyList(flags: KeyFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { client, target } = keyClient(flags, env);
    const keys = await client.listKeys();
    if (flags.json === true) {
      process.stdout.write(JSON.stringify(keys) + '\n');
      return 0;
    }
    process.stdout.write(formatKeys(keys, target.stored?.key_id));
    return 0;
  } catch (err) {
    return keyFailure('user key list', err);
  }
}

/** `sdrlink user key revoke ID`. */
export async function runKeyRevoke(
  id: string,
  flags: KeyFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    if (!/^[1-9]\d{0,15}$/.test(id))
      throw new AgentError('ERR_CONFIG', `key id must be a positive integer, got ${JSON.stringify(id)}`);
    const { client, target } = keyClient(flags, env);
    const k = await client.revokeKey(id);
    if (flags.json === true) process.stdout.write(JSON.stringify(k) + '\n');
    else process.stderr.write(`revoked API key ${k.id} "${k.name}" (${k.prefix}…)\n`);
    // the stored credential was that key: it is of no use any more
    if (target.stored !== undefined && target.stored.key_id === k.id) {
      removeCredential(credentialsPath(env), target.stored.server);
      process.stderr.write(
        `it was the stored credential for ${target.stored.server}: removed; log in again\n`,
      );
    }
    return 0;
  } catch (err) {
    return keyFailure('user key revoke', err);
  }
}

function keyFailure(verb: string, err: unknown): number {
  if (err instanceof AgentError && err.code === 'ERR_AUTH') {
    process.stderr.write(credentialRefusedLine(verb, err.serverCode) + '\n');
    return EXIT_AUTH;
  }
  return reportFailure(verb, err);
}

/** The keys as a table: id, status, prefix, name, created, last used, expires; `*` marks the stored one. */
export function formatKeys(keys: readonly ApiKeyWire[], currentId: string | undefined): string {
  if (keys.length === 0) return 'no API keys\n';
  const rows = [
    ['ID', 'STATUS', 'PREFIX', 'CREATED', 'LAST USED', 'EXPIRES', 'NAME'],
    ...keys.map((k) => [
      `${k.id}${k.id === currentId ? '*' : ''}`,
      k.status,
      k.prefix,
      k.created_at.slice(0, 19).replace('T', ' '),
      k.last_used_at === null ? '-' : k.last_used_at.slice(0, 19).replace('T', ' '),
      k.expires_at === null ? 'never' : k.expires_at.slice(0, 19).replace('T', ' '),
      k.name,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}
