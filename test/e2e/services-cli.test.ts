/**
 * `sdrlink products` / `sdrlink batteries` as processes: first start creates the database (seeded), the
 * write token (`<db>.token`, 0600) and, with `--tls`, the certificate; a restart keeps all three and does
 * not seed again; bad flags exit 1 with a message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { cliCommand } from '../helpers/server.js';

interface Started {
  line: Record<string, unknown>;
  stop(): Promise<number | string | null>;
}

/** Runs `sdrlink <verb> …` until its listening line (or its exit, rejected with stderr). */
async function start(
  verb: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Started> {
  const cli = cliCommand();
  const proc = spawn(cli.command, [...cli.args, verb, '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, sig) => resolve(code ?? sig)),
  );
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    return exited;
  };
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${verb}: no listening line\n${stderr}`)), 20_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error(`${verb} exited ${String(code)}: ${stderr}`), { exitCode: code, stderr }),
      );
    });
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      try {
        const e = JSON.parse(l) as Record<string, unknown>;
        if (e['event'] === 'listening') {
          clearTimeout(timer);
          resolve(e);
        }
      } catch {
        // not JSON
      }
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { line, stop };
}

function httpsCall(
  url: string,
  ca: string,
  method = 'GET',
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('sdrlink products / batteries processes', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-services-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('first start makes the database, token and certificate; a restart keeps them and does not reseed', async () => {
    const db = join(dir, 'data', 'products.sqlite');
    const env = { SDRLINK_PRODUCTS_TOKEN: '' };
    let p = await start('products', ['--db', db, '--tls'], dir, env);
    let token: string;
    let fingerprint: string;
    try {
      assert.equal(p.line['service'], 'products');
      assert.equal(p.line['db'], db);
      assert.equal(p.line['token_file'], `${db}.token`);
      assert.equal((await stat(`${db}.token`)).mode & 0o777, 0o600);
      token = (await readFile(`${db}.token`, 'utf8')).trim();
      const tls = p.line['tls'] as { cert: string; fingerprint256: string; created: boolean };
      assert.equal(tls.created, true);
      assert.equal(tls.cert, `${db}.cert.pem`);
      fingerprint = tls.fingerprint256;
      const ca = await readFile(tls.cert, 'utf8');
      const url = String(p.line['url']);
      assert.match(url, /^https:\/\//);
      assert.equal((await httpsCall(`${url}/products/5`, ca)).status, 200);
      assert.equal(
        (await httpsCall(`${url}/products/5`, ca, 'DELETE', 'not-the-token-0123456789')).status,
        401,
      );
      assert.equal((await httpsCall(`${url}/products/5`, ca, 'DELETE', token)).status, 204);
    } finally {
      assert.equal(await p.stop(), 0);
    }

    p = await start('products', ['--db', db, '--tls'], dir, env);
    try {
      const tls = p.line['tls'] as { cert: string; fingerprint256: string; created: boolean };
      assert.equal(tls.created, false);
      assert.equal(tls.fingerprint256, fingerprint);
      const ca = await readFile(tls.cert, 'utf8');
      const url = String(p.line['url']);
      // Not reseeded: the deleted product stays deleted, the others are there once.
      assert.equal((await httpsCall(`${url}/products/5`, ca)).status, 404);
      const list = JSON.parse((await httpsCall(`${url}/products?limit=1`, ca)).body) as { total: number };
      assert.equal(list.total, 41);
      // Same token as before.
      assert.equal((await httpsCall(`${url}/products/6`, ca, 'DELETE', token)).status, 204);
    } finally {
      await p.stop();
    }
  });

  test('bad flags exit 1 with a message naming the problem', async () => {
    const cases: Array<[string, string[], RegExp]> = [
      [
        'batteries',
        ['--db', ':memory:', '--products-url', 'ftp://x'],
        /--products-url must be an http:\/\/ or https:\/\/ URL/,
      ],
      ['products', ['--db', ':memory:', '--server', 'http://127.0.0.1:1'], /--server needs --consumer-token/],
      ['products', ['--db', ':memory:', '--tls'], /--tls needs a database file/],
      ['batteries', ['--db', ':memory:', '--token', 'short'], /a token is 16-512 characters/],
    ];
    for (const [verb, args, message] of cases) {
      await assert.rejects(
        start(verb, args, dir, { SDRLINK_CONSUMER_TOKEN: '', SDRLINK_BATTERIES_TOKEN: '' }),
        (err: unknown) => {
          const e = err as { exitCode?: unknown; stderr?: string };
          return e.exitCode === 1 && message.test(e.stderr ?? '');
        },
        `${verb} ${args.join(' ')}`,
      );
    }
  });
});
