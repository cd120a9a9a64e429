/**
 * The WebSocket fuzzer: the push channel (`/api/ws`) and the relay (`/api/relay/{session_id}`) of a real
 * server fed generated input — bad, absent and foreign tokens and session ids at the handshake; random
 * text, invalid JSON, mutated client messages, binary, invalid UTF-8 and oversized frames once open. Every
 * connection either stays open (a refused push message answered with a `result` carrying a documented
 * code, never ERR_INTERNAL) or is closed with a documented close code (docs/errors.md); no refused message
 * changes a row; the server keeps serving the next request.
 * Runs: test/fuzz/fuzz.ts (`SDRLINK_FUZZ_RUNS` × 0.1 connections, `SDRLINK_FUZZ_SEED`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { WS_CLOSE } from '../../src/wire/errors.js';
import { fuzzParams, hostileJson, mutatedText } from './fuzz.js';
import { documentedServerCodes, startFuzzServer, type FuzzServer } from './server-fixture.js';

/** Close codes docs/errors.md documents, plus ws's own for a frame it refuses (1007 bad UTF-8, 1009 size). */
const CLOSE_CODES = new Set<number>([...Object.values(WS_CLOSE), 1000, 1007, 1009]);

type Frame =
  | { kind: 'text'; data: string }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'badutf8' }
  | { kind: 'huge'; bytes: number };

interface Outcome {
  messages: Array<Record<string, unknown>>;
  close: { code: number; reason: string } | undefined;
  rejected: number | undefined;
}

/** Opens a socket, sends `frames`, then a ping; waits for the pong or the close (bounded). */
async function session(url: string, headers: Record<string, string>, frames: Frame[]): Promise<Outcome> {
  const ws = new WebSocket(url, { headers, maxPayload: 64 * 1024 * 1024 });
  const out: Outcome = { messages: [], close: undefined, rejected: undefined };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    try {
      out.messages.push(JSON.parse((data as Buffer).toString('utf8')) as Record<string, unknown>);
    } catch {
      // relay: the peer's own text
    }
  });
  ws.on('error', () => {
    // the close or the rejection says it
  });
  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => {
      out.close = { code, reason: reason.toString() };
      resolve();
    });
    ws.on('unexpected-response', (req, res) => {
      out.rejected = res.statusCode;
      // with this listener, ending the refused request is ours (ws leaves the connection open otherwise)
      req.destroy();
      res.resume();
      resolve();
    });
  });
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!opened) return out;
  for (const f of frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    if (f.kind === 'text') ws.send(f.data);
    else if (f.kind === 'binary') ws.send(f.data, { binary: true });
    else if (f.kind === 'badutf8') ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    else ws.send(Buffer.alloc(f.bytes, 0x61), { binary: false });
  }
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping', ref: 'last' }));
  // the pong of the last ping proves every earlier message was handled (they are handled in order)
  const deadline = Date.now() + 10_000;
  while (
    out.close === undefined &&
    Date.now() < deadline &&
    !out.messages.some((m) => m['type'] === 'pong' && m['ref'] === 'last')
  ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  if (out.close === undefined) {
    ws.close(1000);
    await closed;
  }
  return out;
}

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  {
    weight: 6,
    arbitrary: mutatedText(
      fc.constantFrom(
        '{"type":"ping","ref":1}',
        '{"type":"signal","ref":"r","session_id":"00000000-0000-4000-8000-000000000000","signal_type":"candidate","signal_data":"{}"}',
        '{"type":"signal","ref":2,"session_id":"SID","signal_type":"answer","signal_data":"{\\"type\\":\\"answer\\",\\"sdp\\":\\"v=0\\"}"}',
      ),
    ).map((data) => ({ kind: 'text' as const, data })),
  },
  {
    weight: 4,
    arbitrary: hostileJson(['type', 'ref', 'session_id', 'signal_type', 'signal_data']).map((v) => ({
      kind: 'text' as const,
      data: JSON.stringify(v) ?? '',
    })),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((data) => ({ kind: 'text' as const, data })),
  },
  {
    weight: 2,
    arbitrary: fc.uint8Array({ maxLength: 200 }).map((data) => ({ kind: 'binary' as const, data })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'badutf8' as const }) },
  // over the push limit (128 KiB), and over maxPayload (1 MiB)
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(200 * 1024, 1024 * 1024 + 1)
      .map((bytes) => ({ kind: 'huge' as const, bytes })),
  },
);

describe('fuzz: WebSockets (push and relay, real socket)', () => {
  let srv: FuzzServer;
  let base: string;
  const documented = documentedServerCodes();
  before(async () => {
    srv = await startFuzzServer();
    base = `ws://127.0.0.1:${srv.port}`;
  });
  after(async () => {
    await srv?.close();
  });

  function authArb() {
    return fc.constantFrom(
      'consumer',
      'provider',
      'other',
      'key',
      'none',
      'garbage',
      'query',
      'badquery',
      'basic',
    );
  }
  function authOf(a: string): { headers: Record<string, string>; query: string } {
    switch (a) {
      case 'consumer':
      case 'provider':
      case 'other':
        return { headers: { authorization: `Bearer ${srv[a].token}` }, query: '' };
      case 'key':
        return { headers: { authorization: `Bearer ${srv.apiKey.key}` }, query: '' };
      case 'garbage':
        return { headers: { authorization: 'Bearer x.y.z' }, query: '' };
      case 'query':
        return { headers: {}, query: `?token=${srv.provider.token}` };
      case 'badquery':
        return { headers: {}, query: '?token=%ff' };
      case 'basic':
        return { headers: { authorization: 'Basic Zm9vOmJhcg==' }, query: '' };
      default:
        return { headers: {}, query: '' };
    }
  }

  function checkOutcome(o: Outcome, what: string): void {
    assert.equal(o.rejected, undefined, `${what}: the upgrade was refused with HTTP ${String(o.rejected)}`);
    if (o.close !== undefined && o.close.code !== 1000 && o.close.code !== 1005) {
      assert.ok(
        CLOSE_CODES.has(o.close.code),
        `${what}: undocumented close code ${o.close.code} (${o.close.reason})`,
      );
      if (o.close.code >= 4000) {
        const code = /^(ERR_[A-Z0-9_]+)/.exec(o.close.reason)?.[1];
        assert.ok(code !== undefined && documented.has(code), `${what}: close reason ${o.close.reason}`);
      }
    }
    for (const m of o.messages) {
      if (m['type'] !== 'result' || m['ok'] !== false) continue;
      const e = m['error'] as { code?: unknown; message?: unknown } | undefined;
      assert.ok(
        typeof e?.code === 'string' && documented.has(e.code),
        `${what}: result ${JSON.stringify(m)}`,
      );
      assert.notEqual(e.code, 'ERR_INTERNAL', `${what}: ${JSON.stringify(m)}`);
      assert.ok(typeof e.message === 'string' && e.message.length > 0);
    }
  }

  it('push: every handshake and every message is answered or closed as documented, and changes no row when refused', async () => {
    await fc.assert(
      fc.asyncProperty(authArb(), fc.array(frameArb, { maxLength: 6 }), async (auth, frames) => {
        const a = authOf(auth);
        const fixed = frames.map((f) =>
          f.kind === 'text' ? { ...f, data: f.data.replace('SID', srv.claimedSession) } : f,
        );
        const before = await srv.snapshot();
        const o = await session(`${base}/api/ws${a.query}`, a.headers, fixed);
        const what = `push as ${auth}, ${JSON.stringify(fixed).slice(0, 300)}`;
        checkOutcome(o, what);
        // a signal the server took is a change; everything refused leaves every row as it was
        // (known only when every message was answered: the last ping's pong came; a socket closed early, by
        // an oversized frame, may have had a valid signal taken just before)
        const accepted = o.messages.some((m) => m['type'] === 'result' && m['ok'] === true);
        const answered = o.messages.some((m) => m['type'] === 'pong' && m['ref'] === 'last');
        const unauthenticated = o.close?.code === WS_CLOSE.UNAUTHENTICATED;
        if ((answered && !accepted) || unauthenticated)
          assert.equal(await srv.snapshot(), before, `${what}: rows changed`);
        if (['none', 'garbage', 'badquery', 'basic'].includes(auth))
          assert.equal(o.close?.code, WS_CLOSE.UNAUTHENTICATED, what);
      }),
      fuzzParams(40, 0.1),
    );
  });

  it('relay: bad, foreign and unknown sessions are closed with their code; data before relay-ready closes 1008', async () => {
    const sid = fc.oneof(
      fc.constantFrom('open', 'claimed'),
      fc.uuid(),
      fc.constantFrom('%ff%fe', 'x', 'a'.repeat(90), '..%2f', '%00'),
    );
    await fc.assert(
      fc.asyncProperty(authArb(), sid, fc.array(frameArb, { maxLength: 3 }), async (auth, s, frames) => {
        const a = authOf(auth);
        const id = s === 'open' ? srv.openSession : s === 'claimed' ? srv.claimedSession : s;
        const before = await srv.snapshot();
        const url = `${base}/api/relay/${id}${a.query}`;
        const o = await session(url, a.headers, frames);
        const what = `relay ${id.slice(0, 40)} as ${auth}, ${JSON.stringify(frames).slice(0, 200)}`;
        // a URL the router refuses is refused at the upgrade, in HTTP: that is its documented answer
        if (o.rejected !== undefined) {
          assert.ok([400, 401, 404, 414].includes(o.rejected), `${what}: HTTP ${o.rejected}`);
          return;
        }
        checkOutcome(o, what);
        // joining a relay claims an open session for a provider; nothing else may change
        if (!(s === 'open' && (auth === 'provider' || auth === 'query')))
          assert.equal(await srv.snapshot(), before, `${what}: rows changed`);
      }),
      fuzzParams(30, 0.1),
    );
  });

  it('still serves after the fuzzing', async () => {
    const a = await srv.send({ method: 'GET', path: '/healthz' });
    assert.equal(a.status, 200);
    const o = await session(`${base}/api/ws`, { authorization: `Bearer ${srv.consumer.token}` }, []);
    assert.ok(o.messages.some((m) => m['type'] === 'hello'));
    assert.ok(o.messages.some((m) => m['type'] === 'pong' && m['ref'] === 'last'));
  });
});
