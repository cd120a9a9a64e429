/**
 * In-process helpers for the server's own tests: an app on an in-memory database, JSON calls through
 * `app.inject()`, and users with tokens. (Cross-process helpers are in server.ts beside this file.)
 */
import type { FastifyInstance } from 'fastify';
import { buildServer, type BuildOptions } from '../../src/server/app.js';

export interface TestUser {
  id: string;
  token: string;
  username: string;
}

export interface CallResult {
  status: number;
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface TestApp {
  app: FastifyInstance;
  call(
    method: string,
    url: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<CallResult>;
  /** Registers and logs in a user. */
  user(username: string, clientType: 1 | 2, requestTypes?: string[]): Promise<TestUser>;
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery';

/**
 * Where the apps' databases live: in memory (SQLite), unless SDRLINK_TEST_DATABASE_URL names a PostgreSQL
 * server (its maintenance database), on which each app gets a fresh database of its own — so the server's
 * own suites run unchanged on PostgreSQL (test/e2e/server-suites-postgres.test.ts does that).
 */
async function testDatabase(): Promise<Pick<BuildOptions, 'db' | 'jwtSecret'>> {
  const admin = process.env['SDRLINK_TEST_DATABASE_URL'];
  if (admin === undefined || admin === '') return { db: ':memory:' };
  const { default: pg } = await import('pg');
  const name = `app_${process.pid}_${++appSeq}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
  } finally {
    await c.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { db: url.toString(), jwtSecret: 'sdrlink-test-secret-of-at-least-32-characters' };
}

let appSeq = 0;

export async function testApp(opts: BuildOptions = {}): Promise<TestApp> {
  // tests register users over the API: open unless a test closes it (the server's default is closed)
  const database = opts.db === undefined && opts.storage === undefined ? await testDatabase() : {};
  const app = await buildServer({
    db: ':memory:',
    logLevel: 'silent',
    registration: true,
    ...database,
    ...opts,
  });
  const call: TestApp['call'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(o.body === undefined
        ? {}
        : typeof o.body === 'string'
          ? { payload: o.body }
          : { payload: o.body as object }),
    });
    let body: unknown = r.body;
    try {
      body = r.json();
    } catch {
      // not JSON
    }
    return { status: r.statusCode, body, headers: r.headers };
  };
  const user: TestApp['user'] = async (username, clientType, requestTypes) => {
    const reg = await call('POST', '/api/auth/register', {
      body: {
        username,
        password: TEST_PASSWORD,
        client_type: clientType,
        ...(requestTypes === undefined ? {} : { request_types: requestTypes }),
      },
    });
    if (reg.status !== 201)
      throw new Error(`register ${username}: ${reg.status} ${JSON.stringify(reg.body)}`);
    const login = await call('POST', '/api/auth/login', { body: { username, password: TEST_PASSWORD } });
    if (login.status !== 200)
      throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`);
    return { id: login.body.user_id as string, token: login.body.token as string, username };
  };
  return { app, call, user, close: () => app.close() };
}
