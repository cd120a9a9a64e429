/**
 * Issue 16, class 1: a rogue provider that claims every open session and then stalls (docs/api.md §3
 * "Claim timeout", docs/security.md). Real processes: a server with a short `--claim-timeout`, a real
 * `sdrlink provide`, a real `sdrlink request`; the rogue is a script in the test process speaking the real
 * protocol — the push channel and REST — that claims each session it is offered with a genuine WebRTC offer
 * of a peer that does not exist (so nothing ever answers) and a candidate, and keeps posting candidates
 * after its claim was released.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
} from '../helpers/agents.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { openWs, type WsProbe } from '../helpers/ws-probe.js';

const CLAIM_TIMEOUT_MS = 2000;
const SIGNAL = { frequency: 100e6, sample_rate: 1e6, duration: 0.01 };
const CANDIDATE = JSON.stringify({
  candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 9 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
});

/**
 * A genuine offer, as libdatachannel writes one (ICE credentials, DTLS fingerprint, SCTP), from a peer that
 * no longer exists: whoever answers it waits for nothing. (Kept as text: a native peer in the test process
 * itself would outlive the test.)
 */
const STALLED_OFFER = JSON.stringify({
  type: 'offer',
  sdp:
    'v=0\r\no=rtc 766070548 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n' +
    'a=msid-semantic:WMS *\r\na=ice-options:ice2,trickle\r\na=fingerprint:sha-256 ' +
    'AD:C4:64:88:53:0F:3F:1B:5A:4B:2C:FC:80:78:29:E1:F5:78:8D:AD:37:4B:B0:05:A4:C1:7A:56:62:46:50:23\r\n' +
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n' +
    'a=sctp-port:5000\r\na=max-message-size:262144\r\na=setup:actpass\r\na=ice-ufrag:vktj\r\n' +
    'a=ice-pwd:l0sOG9uo36xptKB9vI/b0K\r\n',
});

interface Rogue {
  ws: WsProbe;
  /** Sessions it claimed (its offer stored). */
  claimed: string[];
  /** The `claim-released` events it received. */
  released: Array<Record<string, unknown>>;
  /** The answers to the candidates it posted after its claim was released. */
  late: Array<{ status: number; code: string | undefined }>;
}

/** Claims every session it is offered with `offer` and a candidate; after a release, posts candidates still. */
async function startRogue(url: string, token: string, offer: string): Promise<Rogue> {
  const ws = await openWs(`${url.replace(/^http/, 'ws')}/api/ws`, { authorization: `Bearer ${token}` });
  const rogue: Rogue = { ws, claimed: [], released: [], late: [] };
  let ref = 0;
  ws.ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    if (m['type'] === 'session') {
      const sid = (m['session'] as { session_id: string }).session_id;
      for (const [type, d] of [
        ['offer', offer],
        ['candidate', CANDIDATE],
      ] as const) {
        ws.ws.send(
          JSON.stringify({ type: 'signal', ref: ++ref, session_id: sid, signal_type: type, signal_data: d }),
        );
      }
    } else if (m['type'] === 'result' && m['ok'] === true) {
      const sig = m['signal'] as { session_id: string; signal_type: string };
      if (sig.signal_type === 'offer') rogue.claimed.push(sig.session_id);
    } else if (m['type'] === 'claim-released') {
      rogue.released.push(m);
      // the rogue does not give up: late candidates, over REST and push
      const sid = String(m['session_id']);
      void api(url, token, 'POST', '/api/ice/signal', {
        session_id: sid,
        signal_type: 'candidate',
        signal_data: CANDIDATE,
      }).then((r) =>
        rogue.late.push({ status: r.status, code: (r.body as { error?: { code: string } }).error?.code }),
      );
      ws.ws.send(
        JSON.stringify({
          type: 'signal',
          ref: ++ref,
          session_id: sid,
          signal_type: 'candidate',
          signal_data: CANDIDATE,
        }),
      );
    }
  });
  return rogue;
}

const waitUntil = async (what: string, ok: () => boolean, ms = 20_000) => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('a rogue provider that claims and stalls (issue 16, class 1)', () => {
  let srv: ServerProcess;
  let dir: string;
  let provider: ProviderProcess | undefined;
  let rogue: Rogue | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-rogue-'));
    srv = await startServerProcess({ args: ['--claim-timeout', `${CLAIM_TIMEOUT_MS}ms`] });
  });
  after(async () => {
    rogue?.ws.ws.close();
    await provider?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the claim is released after --claim-timeout, the request completes verified through the real provider, the rogue is refused', async () => {
    const rogueUser = await registerUser(srv.url, {
      username: 'rogue',
      password: 'rogue-pass-1',
      client_type: 1,
    });
    const good = await registerUser(srv.url, {
      username: 'honest',
      password: 'honest-pass-1',
      client_type: 1,
    });
    const consumer = await registerUser(srv.url, {
      username: 'asker',
      password: 'asker-pass-1',
      client_type: 2,
    });
    rogue = await startRogue(srv.url, rogueUser.token, STALLED_OFFER);
    await rogue.ws.next((m) => m['type'] === 'hello');

    const out = join(dir, 'out');
    const request = runRequestProcess({
      url: srv.url,
      token: consumer.token,
      type: 'signal',
      params: SIGNAL,
      out,
      timeoutMs: 90_000,
    });
    // the rogue wins the session first; then the honest provider comes online (it is offered the session
    // only when the server offers it again)
    await waitUntil('the rogue’s claim', () => rogue!.claimed.length === 1);
    const sid = rogue.claimed[0] as string;
    provider = await startProviderProcess({
      url: srv.url,
      token: good.token,
      dataDir: join(dir, 'provider'),
    });

    const r = await request;
    assert.equal(r.code, 0, `${JSON.stringify(r.result)}\n${r.stderr}`);
    assert.equal(r.result['ok'], true);
    assert.equal(r.result['verified'], true);
    assert.equal(r.result['session_id'], sid);
    assert.equal(r.result['provider_id'], good.user_id, 'served by the honest provider');
    assert.equal(
      await sha256Of(String(r.result['path'])),
      r.result['sha256'],
      'the saved file is the verified one',
    );
    // the consumer said what happened: the rogue's claim was released, once
    const events = r.stdout
      .trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['event'] === 'claim-released');
    assert.equal(events.length, 1, r.stdout);
    assert.equal(events[0]?.['provider_id'], rogueUser.user_id);

    // the rogue was told, once, and every late candidate of it was refused
    await waitUntil('the rogue’s late candidate answer', () => rogue!.late.length === 1);
    assert.equal(rogue.released.length, 1);
    assert.equal(rogue.released[0]?.['session_id'], sid);
    assert.equal(rogue.released[0]?.['attempt'], 0);
    assert.equal(rogue.released[0]?.['code'], 'ERR_CLAIM_TIMEOUT');
    assert.deepEqual(rogue.late, [{ status: 409, code: 'ERR_CLAIM_RELEASED' }]);
    const pushed = await rogue.ws.next((m) => m['type'] === 'result' && m['ok'] === false);
    assert.equal((pushed['error'] as { code: string }).code, 'ERR_CLAIM_RELEASED');
    assert.deepEqual(rogue.claimed, [sid], 'the session was not offered to the rogue again');

    // what the server recorded: the rogue's claim, its release by the server, the honest claim, the transfer
    const d = (await api(srv.url, consumer.token, 'GET', `/api/ice/sessions/${sid}`)).body as {
      status: string;
      attempt: number;
      history: Array<{ status: string; by_user_id: string }>;
      declines: Array<{ by_user_id: string; code: string; message: string }>;
    };
    assert.equal(d.status, 'completed');
    assert.equal(d.attempt, 1);
    const steps = d.history.map((h) => `${h.status}:${h.by_user_id}`);
    assert.deepEqual(steps.slice(0, 4), [
      `pending:${consumer.user_id}`,
      `offered:${rogueUser.user_id}`,
      'pending:',
      `offered:${good.user_id}`,
    ]);
    assert.equal(steps.at(-1)?.split(':')[0], 'completed');
    assert.deepEqual(
      d.declines.map((x) => [x.by_user_id, x.code]),
      [[rogueUser.user_id, 'ERR_CLAIM_TIMEOUT']],
    );
    // the consumer's signals as listed now: the honest claim's only (attempt 1), none of the rogue's
    const sigs = (await api(srv.url, consumer.token, 'GET', `/api/ice/signals/${sid}`)).body as Array<{
      from_client_id: string;
      attempt: number;
    }>;
    assert.ok(sigs.length > 0);
    assert.ok(
      sigs.every((s) => s.from_client_id === good.user_id && s.attempt === 1),
      JSON.stringify(sigs),
    );
    const rows = (await api(srv.url, consumer.token, 'GET', '/api/transfers')).body as Array<
      Record<string, unknown>
    >;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.['status'], 'completed');
    assert.equal(rows[0]?.['provider_name'], 'honest');
  });
});
