/**
 * The credential `sdrlink login` stores, and how every verb that talks to a signaling server finds its
 * server and token: the flag, else the environment (`SDRLINK_SERVER`, `SDRLINK_TOKEN`), else the stored
 * file. The file is `$XDG_CONFIG_HOME/sdrlink/credentials.json` (default `~/.config/sdrlink/`), its folder
 * 0700 and itself 0600, written atomically (a temporary file renamed into place). It holds one API key per
 * server, and which server is the default (the last one logged in to). A file that others may read is
 * refused, not silently used or fixed: the key in it must be taken as seen.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AgentError } from '../agents/errors.js';
import { parsePin, warnIfCleartext, type ServerTrust } from '../agents/server-trust.js';

/** Codes of {@link CredentialError} (docs/errors.md "CLI credentials"). */
export const CREDENTIAL_ERROR_CODES = ['ERR_NO_CREDENTIAL', 'ERR_CREDENTIAL_FILE'] as const;
export type CredentialErrorCode = (typeof CREDENTIAL_ERROR_CODES)[number];

/** No server or no token could be found, or the stored file cannot be used. */
export class CredentialError extends Error {
  override name = 'CredentialError';
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One stored credential: an API key for one server. */
export interface StoredCredential {
  /** The server's URL, normalised (`http://host:port`). */
  server: string;
  username: string;
  user_id: string;
  client_type: number;
  key_id: string;
  /** The API key (`sdrk_…`). */
  token: string;
  created_at: string;
  /** The CA or certificate (PEM) `login --ca` trusted for this server; later verbs trust it too. */
  tls_ca?: string;
  /** The certificate fingerprint `login --pin` pinned (`AB:CD:…`); later verbs pin it too. */
  tls_pin?: string;
}

/** The file's content. */
export interface CredentialsFile {
  version: 1;
  /** The server verbs use when neither `--server` nor `SDRLINK_SERVER` names one. */
  default: string | null;
  servers: Record<string, StoredCredential>;
}

/** The environment this module reads (passed in, so tests and callers choose). */
export interface CredentialEnv {
  XDG_CONFIG_HOME?: string | undefined;
  HOME?: string | undefined;
  SDRLINK_SERVER?: string | undefined;
  SDRLINK_TOKEN?: string | undefined;
  SDRLINK_CA?: string | undefined;
  SDRLINK_PIN?: string | undefined;
}

/** `--ca` / `--pin` as given (absent = not given). */
export interface TrustFlags {
  ca?: string | undefined;
  pin?: string | undefined;
}

/**
 * Reads a `--ca` file: PEM with at least one certificate (the server's own, or the CA that signed it).
 * @throws AgentError ERR_CONFIG naming the file.
 */
export function readCaFile(path: string, name = '--ca'): string {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (err) {
    throw new AgentError(
      'ERR_CONFIG',
      `${name} ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no BEGIN CERTIFICATE block');
    new X509Certificate(text);
  } catch (err) {
    throw new AgentError('ERR_CONFIG', `${name} ${path}: not a PEM certificate (${(err as Error).message})`);
  }
  return text;
}

/**
 * How the server's certificate is trusted: `--ca FILE` > `SDRLINK_CA`, and `--pin` > `SDRLINK_PIN`, each
 * else what `sdrlink login` stored for that server. With a pin the CA is not used (the pin is the trust).
 * Undefined: the system's CAs.
 */
export function resolveTrust(
  flags: TrustFlags,
  env: CredentialEnv,
  stored?: Pick<StoredCredential, 'tls_ca' | 'tls_pin'>,
): ServerTrust | undefined {
  let pin: string | undefined;
  if (flags.pin !== undefined && flags.pin !== '') pin = parsePin(flags.pin, '--pin');
  else if (env.SDRLINK_PIN !== undefined && env.SDRLINK_PIN !== '')
    pin = parsePin(env.SDRLINK_PIN, 'SDRLINK_PIN');
  else if (stored?.tls_pin !== undefined) pin = parsePin(stored.tls_pin, 'the stored pin');
  if (pin !== undefined) return { pin };
  if (flags.ca !== undefined && flags.ca !== '') return { ca: readCaFile(flags.ca, '--ca') };
  if (env.SDRLINK_CA !== undefined && env.SDRLINK_CA !== '')
    return { ca: readCaFile(env.SDRLINK_CA, 'SDRLINK_CA') };
  if (stored?.tls_ca !== undefined) return { ca: stored.tls_ca };
  return undefined;
}

/** `http://Host:8080/` → `http://host:8080` (the key the file stores a server under). */
export function serverKey(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CredentialError('ERR_NO_CREDENTIAL', `--server: not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CredentialError(
      'ERR_NO_CREDENTIAL',
      `--server: must be http:// or https://, got ${u.protocol}`,
    );
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/** Where the credentials file lives. */
export function credentialsPath(env: CredentialEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base =
    xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME ?? homedir(), '.config');
  return join(base, 'sdrlink', 'credentials.json');
}

function emptyFile(): CredentialsFile {
  return { version: 1, default: null, servers: {} };
}

/**
 * Reads the credentials file (an empty one when there is none).
 * @throws CredentialError ERR_CREDENTIAL_FILE when it is not ours, others may read it, or it is not JSON of
 *   the expected shape.
 */
export function readCredentials(path: string): CredentialsFile {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyFile();
    throw new CredentialError('ERR_CREDENTIAL_FILE', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new CredentialError('ERR_CREDENTIAL_FILE', `${path} is not a file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new CredentialError(
      'ERR_CREDENTIAL_FILE',
      `${path} belongs to another user (uid ${st.uid}); refusing to use it`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CredentialError(
      'ERR_CREDENTIAL_FILE',
      `${path} may be read by others (mode ${mode}); refusing to use it. Run \`chmod 600 ${path}\`, and since its key may have been seen, consider \`sdrlink logout\` and \`sdrlink login\` again`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CredentialError('ERR_CREDENTIAL_FILE', `${path} is not JSON: ${(err as Error).message}`);
  }
  const f = parsed as Partial<CredentialsFile> | null;
  if (
    typeof f !== 'object' ||
    f === null ||
    f.version !== 1 ||
    typeof f.servers !== 'object' ||
    f.servers === null ||
    (f.default !== null && typeof f.default !== 'string')
  ) {
    throw new CredentialError(
      'ERR_CREDENTIAL_FILE',
      `${path} is not an sdrlink credentials file (version 1); delete it and log in again`,
    );
  }
  for (const [k, c] of Object.entries(f.servers)) {
    const ok =
      typeof c === 'object' &&
      c !== null &&
      typeof c.server === 'string' &&
      typeof c.token === 'string' &&
      typeof c.key_id === 'string' &&
      typeof c.username === 'string' &&
      (c.tls_ca === undefined || typeof c.tls_ca === 'string') &&
      (c.tls_pin === undefined || typeof c.tls_pin === 'string');
    if (!ok) throw new CredentialError('ERR_CREDENTIAL_FILE', `${path}: the entry for ${k} is damaged`);
  }
  return { version: 1, default: f.default ?? null, servers: f.servers };
}

/**
 * Writes the file atomically: a temporary file (mode 0600, in the same folder) filled, flushed and renamed
 * over the old one, so a reader sees the old file or the new one, never half of one. The folder is created
 * 0700 (and set to 0700 if it exists).
 */
export function writeCredentials(path: string, file: CredentialsFile): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = join(dir, `.credentials.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(file, null, 2) + '\n');
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Stores a credential for its server, and makes that server the default. */
export function storeCredential(path: string, cred: StoredCredential): CredentialsFile {
  const file = readCredentials(path);
  file.servers[cred.server] = cred;
  file.default = cred.server;
  writeCredentials(path, file);
  return file;
}

/** Removes a server's credential (the default moves to another stored server, if any). */
export function removeCredential(path: string, server: string): void {
  const file = readCredentials(path);
  if (file.servers[server] === undefined) return;
  delete file.servers[server];
  if (file.default === server) file.default = Object.keys(file.servers)[0] ?? null;
  if (Object.keys(file.servers).length === 0) {
    rmSync(path, { force: true });
    return;
  }
  writeCredentials(path, file);
}

/** Where a resolved value came from. */
export type Source = 'flag' | 'env' | 'file';

export interface ResolvedTarget {
  server: string;
  token: string;
  serverFrom: Source;
  tokenFrom: Source;
  /** The stored credential the token came from, when it did. */
  stored?: StoredCredential;
  /** How an `https://` server's certificate is trusted ({@link resolveTrust}); undefined: the system's CAs. */
  trust?: ServerTrust | undefined;
}

/**
 * The server and token a verb uses: `--server` > `SDRLINK_SERVER` > the stored default; `--token` >
 * `SDRLINK_TOKEN` > the stored credential of that server; and how its certificate is trusted
 * ({@link resolveTrust}). Warns once (stderr) when the token would travel in clear ({@link warnIfCleartext}).
 * @throws CredentialError ERR_NO_CREDENTIAL naming what is missing and how to get it;
 *   ERR_CREDENTIAL_FILE when the stored file is needed and unusable.
 */
export function resolveTarget(
  flags: { server?: string | undefined; token?: string | undefined } & TrustFlags,
  env: CredentialEnv = process.env,
): ResolvedTarget {
  const t = resolveServerAndToken(flags, env);
  const trust = resolveTrust(flags, env, t.stored);
  if (trust !== undefined) t.trust = trust;
  // one line, once per process, when the token is about to cross a network in clear (to any of the list)
  for (const url of t.server.split(',')) if (url.trim() !== '') warnIfCleartext(url.trim());
  return t;
}

function resolveServerAndToken(
  flags: { server?: string | undefined; token?: string | undefined },
  env: CredentialEnv,
): ResolvedTarget {
  const path = credentialsPath(env);
  let file: CredentialsFile | undefined;
  const stored = (): CredentialsFile => (file ??= readCredentials(path));
  let server: string;
  let serverFrom: Source;
  if (flags.server !== undefined && flags.server !== '') {
    server = flags.server;
    serverFrom = 'flag';
  } else if (env.SDRLINK_SERVER !== undefined && env.SDRLINK_SERVER !== '') {
    server = env.SDRLINK_SERVER;
    serverFrom = 'env';
  } else {
    const d = stored().default;
    if (d === null) {
      throw new CredentialError(
        'ERR_NO_CREDENTIAL',
        `no server: give --server URL (or SDRLINK_SERVER), or log in once with \`sdrlink login --server URL\` (${path} has none)`,
      );
    }
    server = d;
    serverFrom = 'file';
  }
  if (flags.token !== undefined && flags.token !== '')
    return { server, token: flags.token, serverFrom, tokenFrom: 'flag' };
  if (env.SDRLINK_TOKEN !== undefined && env.SDRLINK_TOKEN !== '')
    return { server, token: env.SDRLINK_TOKEN, serverFrom, tokenFrom: 'env' };
  if (server.includes(',')) return storedForList(server, serverFrom, stored());
  const key = serverKey(server);
  const cred = stored().servers[key];
  if (cred === undefined) {
    throw new CredentialError(
      'ERR_NO_CREDENTIAL',
      `no token for ${key}: give --token (or SDRLINK_TOKEN), or log in once with \`sdrlink login --server ${key}\``,
    );
  }
  return { server, token: cred.token, serverFrom, tokenFrom: 'file', stored: cred };
}

/**
 * `--server A,B,…` (instances of one cluster: one user table, one JWT secret, so a key of one is a key of
 * all): the token, and the certificate trust, are those stored for the first URL of the list that has a
 * stored credential (`sdrlink login --server` any one of them).
 */
function storedForList(server: string, serverFrom: Source, file: CredentialsFile): ResolvedTarget {
  const keys: string[] = [];
  for (const part of server.split(',')) {
    const t = part.trim();
    if (t === '')
      throw new CredentialError(
        'ERR_NO_CREDENTIAL',
        `--server: an empty entry in the list ${JSON.stringify(server)}`,
      );
    keys.push(serverKey(t));
  }
  for (const key of keys) {
    const cred = file.servers[key];
    if (cred !== undefined) return { server, token: cred.token, serverFrom, tokenFrom: 'file', stored: cred };
  }
  throw new CredentialError(
    'ERR_NO_CREDENTIAL',
    `no token for any of ${keys.join(', ')}: give --token (or SDRLINK_TOKEN), or log in once with \`sdrlink login --server ${keys[0] ?? ''}\``,
  );
}
