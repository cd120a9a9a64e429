import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { RequestOptions, RequestResult } from '../../agents/index.js';
import { buildProductsApp } from './app.js';

const TOKEN = 'reports-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const HEADER =
  '{"record":"header","format":"sdrlink.battery-report","version":1}\n{"record":"summary","count":0}\n';

/**
 * What the products service does with each outcome of the agents' `requestFile` (injected through its
 * documented seam, `exchange.requestFile`). The real exchange over WebRTC is tested across processes in
 * test/e2e/services-report.test.ts; the outcomes here (a seed provider without checksums, a provider sending
 * something else, an agent error) cannot be produced by our own provider.
 */
describe('POST /reports: outcomes of the exchange', () => {
  let dir: string;
  let app: FastifyInstance;
  let next: (o: RequestOptions) => Promise<RequestResult>;
  const calls: RequestOptions[] = [];

  const result = async (
    o: RequestOptions,
    content: string,
    over: Partial<RequestResult> = {},
  ): Promise<RequestResult> => {
    const path = join(o.outDir, 'battery-report-0123456789abcdef.jsonl');
    await writeFile(path, content);
    return {
      path,
      size: Buffer.byteLength(content),
      sha256: 'a'.repeat(64),
      verified: true,
      transport: 'p2p',
      session_id: 'session-1',
      duration_ms: 12,
      transfer_ms: 3,
      first_byte_ms: 9,
      bytes_received: Buffer.byteLength(content),
      resumed_from: 0,
      rate: 1,
      provider_id: '7',
      ...over,
    };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-reports-'));
    app = await buildProductsApp({
      db: ':memory:',
      token: TOKEN,
      reportsDir: join(dir, 'reports'),
      exchange: {
        server: 'http://127.0.0.1:1',
        token: 'consumer-jwt',
        waitMs: 1000,
        requestFile: (o) => {
          calls.push(o);
          return next(o);
        },
      },
    });
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (payload: object) => app.inject({ method: 'POST', url: '/reports', headers: auth, payload });
  const folders = async () => readdir(join(dir, 'reports')).catch(() => [] as string[]);

  it('stores a verified report and asks with the right type, parameters and folder', async () => {
    next = (o) => result(o, HEADER);
    const r = await post({
      chemistry: ['NMC', 'LFP'],
      min_cycle_life: 1000,
      provider: 'batteries',
      transport: 'relay',
    });
    assert.equal(r.statusCode, 201, r.body);
    const call = calls.at(-1);
    assert.equal(call?.type, 'battery-report');
    assert.equal(call?.provider, 'batteries');
    assert.equal(call?.transport, 'relay');
    assert.equal(call?.waitMs, 1000);
    assert.deepEqual(Object.keys(call?.params ?? {}).sort(), ['chemistry', 'generated_at', 'min_cycle_life']);
    assert.deepEqual(call?.params['chemistry'], ['LFP', 'NMC']);
    assert.match(String(call?.params['generated_at']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(call?.outDir.startsWith(join(dir, 'reports')));
    const meta = JSON.parse(r.body) as { id: number; provider: string; size: number };
    assert.equal(meta.provider, '7');
    const content = await app.inject({ method: 'GET', url: `/reports/${meta.id}/content` });
    assert.equal(content.body, HEADER);
    assert.equal(content.headers['content-type'], 'application/x-ndjson; charset=utf-8');
    assert.equal((await folders()).length, 1);
  });

  it('refuses an unverified file (502 ERR_REPORT_UNVERIFIED) and deletes it', async () => {
    next = (o) => result(o, HEADER, { verified: false });
    const r = await post({});
    assert.equal(r.statusCode, 502);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_REPORT_UNVERIFIED');
    assert.equal((await folders()).length, 1);
  });

  it('refuses a file that is not a battery report (502 ERR_UPSTREAM)', async () => {
    next = (o) => result(o, '{"record":"header","format":"something-else"}\n');
    let r = await post({});
    assert.equal(r.statusCode, 502);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_UPSTREAM');
    next = (o) => result(o, 'PK\u0003\u0004 not json');
    r = await post({});
    assert.equal(r.statusCode, 502);
    // …or that landed outside its folder.
    next = async (o) => {
      const elsewhere = join(dir, 'elsewhere');
      await mkdir(elsewhere, { recursive: true });
      return result({ ...o, outDir: elsewhere }, HEADER);
    };
    r = await post({});
    assert.equal(r.statusCode, 502);
    assert.match(
      (JSON.parse(r.body) as { error: { message: string } }).error.message,
      /outside the reports folder/,
    );
    assert.equal((await folders()).length, 1);
    assert.equal(
      (JSON.parse((await app.inject({ method: 'GET', url: '/reports' })).body) as { total: number }).total,
      1,
    );
  });

  it("answers 502 with the agent's own code when the exchange fails", async () => {
    next = () =>
      Promise.reject(
        Object.assign(new Error('frame at offset 0: crc32 mismatch'), { code: 'ERR_FRAME_CRC' }),
      );
    let r = await post({});
    assert.equal(r.statusCode, 502);
    assert.deepEqual(JSON.parse(r.body), {
      error: { code: 'ERR_FRAME_CRC', message: 'report exchange failed: frame at offset 0: crc32 mismatch' },
    });
    next = () => Promise.reject(new Error('no code here'));
    r = await post({});
    assert.equal(r.statusCode, 502);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_UPSTREAM');
    assert.equal((await folders()).length, 1);
  });
});
