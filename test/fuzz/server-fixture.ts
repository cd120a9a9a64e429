/**
 * The signaling server the HTTP and WebSocket fuzzers attack: built in process on a real SQLite file and
 * listening on a real port (port 0), with users of every kind, an API key, an open and a claimed session
 * to aim at, and a read-only connection to the same database file to snapshot every table before and after
 * a request (docs/errors.md: "A refused request changes no row").
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/app.js';
import { API_ERROR_STATUS } from '../../src/server/errors.js';

export interface FuzzUser {
  id: string;
  name: string;
  token: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface FuzzServer {
  app: FastifyInstance;
  port: number;
  provider: FuzzUser;
  consumer: FuzzUser;
  /** Another consumer: its token on the consumer's resources is a foreign token. */
  other: FuzzUser;
  /** An API key of the consumer's (`sk_…`) and its id. */
  apiKey: { id: string; key: string };
  /** A session of the consumer's, pending. */
  openSession: string;
  /** A session of the consumer's, claimed by the provider (offered). */
  claimedSession: string;
  /** Sends one request as given (`path` sent byte for byte, latin-1); never throws on an HTTP answer. */
  send(req: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }): Promise<HttpAnswer>;
  /** Every row of every table, as JSON text. */
  /** Every table's rows, once the server's acknowledged changes are committed. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

/** Every code docs/errors.md lists in its "Signaling server" section. */
export function documentedServerCodes(): Set<string> {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const start = doc.indexOf('## Signaling server');
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return new Set([...section.matchAll(/`(ERR_[A-Z0-9_]+)`/g)].map((m) => m[1] as string));
}

/**
 * Checks an error answer: `{"error":{"code","message"}}` and nothing else, as JSON, with a documented code
 * and, for the codes of the HTTP table, its status.
 */
export function assertErrorShape(a: HttpAnswer, documented: ReadonlySet<string>, what: string): string {
  assert.match(String(a.headers['content-type']), /^application\/json/, `${what}: content-type`);
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    assert.fail(`${what}: ${a.status} body is not JSON: ${a.text.slice(0, 200)}`);
  }
  const o = body as { error?: { code?: unknown; message?: unknown } };
  assert.deepEqual(Object.keys(o), ['error'], `${what}: ${a.text.slice(0, 200)}`);
  assert.deepEqual(
    Object.keys(o.error ?? {}).sort(),
    ['code', 'message'],
    `${what}: ${a.text.slice(0, 200)}`,
  );
  const { code, message } = o.error as { code: unknown; message: unknown };
  assert.ok(typeof code === 'string' && documented.has(code), `${what}: undocumented code ${String(code)}`);
  assert.ok(typeof message === 'string' && message.length > 0, `${what}: empty message`);
  const status = (API_ERROR_STATUS as Record<string, number>)[code];
  if (status !== undefined) assert.equal(a.status, status, `${what}: ${code} with status ${a.status}`);
  return code;
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-fuzz-'));
  const dbPath = join(dir, 'server.sqlite');
  const app = await buildServer({
    db: dbPath,
    logLevel: 'silent',
    registration: true,
    // nothing changes rows behind the fuzzer's back during a run (no expiry sweep, no retention pass)
    sweepIntervalMs: 3_600_000,
    retentionIntervalMs: 3_600_000,
    // fuzzed logins and registrations would soon be rate-limited; the limiter is tested elsewhere
    login: { maxFailures: 1_000_000, maxRegistrations: 1_000_000 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // every server-side socket, to end those a fuzzed client left half-open when the run is over
  const sockets = new Set<import('node:net').Socket>();
  app.server.on('connection', (s: import('node:net').Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = (app.server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  const send: FuzzServer['send'] = (req) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const r = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: req.method,
          path: req.path,
          // a body always with its length: Node's client sends a GET's body unframed otherwise, and the
          // server rightly reads it as a second, malformed request
          headers: {
            ...req.headers,
            ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }),
          },
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      // a hang is a finding: the request fails with what it was instead of the test timing out
      r.setTimeout(15_000, () =>
        r.destroy(new Error(`no answer within 15 s to ${req.method} ${req.path.slice(0, 200)}`)),
      );
      r.on('error', reject);
      r.end(req.body);
    });

  const json = async (method: string, path: string, body: unknown, token?: string) => {
    const a = await send({
      method,
      path,
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
    assert.ok(a.status < 300, `${method} ${path}: ${a.status} ${a.text}`);
    return JSON.parse(a.text) as Record<string, any>;
  };
  const user = async (name: string, clientType: 1 | 2, types?: string[]): Promise<FuzzUser> => {
    const password = 'correct horse battery';
    await json('POST', '/api/auth/register', {
      username: name,
      password,
      client_type: clientType,
      ...(types === undefined ? {} : { request_types: types }),
    });
    const login = await json('POST', '/api/auth/login', { username: name, password });
    return { id: String(login['user_id']), name, token: String(login['token']) };
  };
  const provider = await user('fuzzprov', 1, ['spectrum', 'signal']);
  const consumer = await user('fuzzcons', 2);
  const other = await user('fuzzother', 2);
  const key = await json('POST', '/api/keys', { name: 'fuzz key' }, consumer.token);
  const initiate = () =>
    json('POST', '/api/ice/initiate', { request_type: 'spectrum', parameters: '{}' }, consumer.token);
  const openSession = String((await initiate())['session_id']);
  const claimedSession = String((await initiate())['session_id']);
  await json(
    'POST',
    '/api/ice/signal',
    {
      session_id: claimedSession,
      signal_type: 'offer',
      signal_data: JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' }),
    },
    provider.token,
  );

  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => (r as { name: string }).name);
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const reads = tables.map((t) => {
    // An API key's last_used_at records that the key authenticated, whatever the request did next (an
    // audit trail: a stolen key probing the API shows as used); the one column a refused request may move.
    const columns = db
      .prepare(`PRAGMA table_info(${quote(t)})`)
      .all()
      .map((c) => (c as { name: string }).name)
      .filter((c) => !(t === 'api_keys' && c === 'last_used_at'));
    return [t, db.prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(t)}`)] as const;
  });
  // every acknowledged change committed first: the SQLite hot path writes behind
  const snapshot = async () => {
    await app.sdrlink.storage.sync();
    return JSON.stringify(
      reads.map(([t, s]) => [t, s.raw().all()]),
      (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v),
    );
  };

  return {
    app,
    port,
    provider,
    consumer,
    other,
    apiKey: { id: String(key['id']), key: String(key['key']) },
    openSession,
    claimedSession,
    send,
    snapshot,
    async close() {
      agent.destroy();
      db.close();
      const closing = app.close();
      for (const s of sockets) s.destroy();
      await closing;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
