/**
 * Our agents against clients shaped exactly like the seed's Go Type1/Type2 (seeds/000: same HTTP calls,
 * same JSON, polling, the plain `file-metadata` + raw 16 KiB chunks, no checksum). The seed clients are
 * Go on pion v3.3.5; Debian's pion (3.1.56) cannot associate with libdatachannel (SCTP zero-checksum,
 * DESIGN.md), so these seed-shaped peers run on node-datachannel in the test process, with the seed's
 * wire behaviour: no `capabilities`, no DTLS-role change, candidates as plain signals. The real Go
 * clients on Debian's pion run in pion-interop.test.ts (which checks that our side names that failure).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { runRequestProcess, startProviderProcess, type ProviderProcess } from '../helpers/agents.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

interface Signal {
  id: number;
  signal_type: string;
  signal_data: string;
  from_client_id: string;
}
// The polyfill's types lean on DOM globals; this is the part the seed-shaped peers use.
interface Pc {
  onicecandidate: ((ev: { candidate: { toJSON(): unknown } | null }) => void) | null;
  ondatachannel: ((ev: { channel: Dc }) => void) | null;
  createDataChannel(label: string): Dc;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: unknown): Promise<void>;
  readonly localDescription: { type: string; sdp: string };
  close(): void;
}
interface Dc {
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(d: string | Uint8Array): void;
  close(): void;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('seed-shaped clients', () => {
  let srv: ServerProcess;
  let dir: string;
  let provider: ProviderProcess | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-seed-'));
    srv = await startServerProcess();
  });
  after(async () => {
    await provider?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
    nodeDataChannel.cleanup();
  });

  test('a seed Type2 receives a correct file from our provider (metadata + raw chunks)', async () => {
    const p = await registerUser(srv.url, { username: 'prov', password: 'provider-pass', client_type: 1 });
    const c = await registerUser(srv.url, { username: 'seed2', password: 'consumer-pass', client_type: 2 });
    provider = await startProviderProcess({ url: srv.url, token: p.token, dataDir: join(dir, 'pdata') });
    // RequestFileTransfer, exactly the seed's payload.
    const params = { frequency_start: 100000000, frequency_end: 200000000, sample_rate: 1000000 };
    const init = await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
      request_type: 'spectrum',
      parameters: JSON.stringify(params),
      file_name: 'spectrum_data.npz',
      file_size: 0,
      file_type: 'application/octet-stream',
    });
    assert.equal(init.status, 201);
    const sessionId = (init.body as { session_id: string }).session_id;
    const signal = (type: string, data: unknown) =>
      api(srv.url, c.token, 'POST', '/api/ice/signal', {
        session_id: sessionId,
        signal_type: type,
        signal_data: JSON.stringify(data),
      });

    const pc = new RTCPeerConnection({ iceServers: [] } as never) as unknown as Pc;
    const chunks: Buffer[] = [];
    const texts: string[] = [];
    let size = -1;
    const received = new Promise<void>((resolve) => {
      pc.ondatachannel = (ev) => {
        ev.channel.binaryType = 'arraybuffer';
        ev.channel.onmessage = (m) => {
          if (typeof m.data === 'string') {
            texts.push(m.data);
            const meta = JSON.parse(m.data) as { type?: string; size?: number };
            if (meta.type === 'file-metadata') size = meta.size as number;
            if (meta.type === 'file-complete') resolve();
            return;
          }
          chunks.push(Buffer.from(m.data as ArrayBuffer));
        };
      };
    });
    pc.onicecandidate = (ev) => {
      if (ev.candidate !== null) void signal('candidate', ev.candidate.toJSON());
    };
    try {
      // waitForOffer: poll every second (here 250 ms) for an offer among the signals.
      let offer: Signal | undefined;
      for (let i = 0; i < 120 && offer === undefined; i++) {
        const r = await api(srv.url, c.token, 'GET', `/api/ice/signals/${sessionId}`);
        assert.equal(r.status, 200);
        offer = (r.body as Signal[]).find((s) => s.signal_type === 'offer');
        if (offer === undefined) await sleep(250);
      }
      assert.ok(offer !== undefined, 'an offer arrived');
      await pc.setRemoteDescription(JSON.parse(offer.signal_data) as { type: string; sdp: string });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      assert.equal((await signal('answer', pc.localDescription)).status, 200);
      // handleICECandidates: poll, add each candidate once.
      const seen = new Set<string>();
      let done = false;
      void received.then(() => (done = true));
      const deadline = Date.now() + 60_000;
      while (!done) {
        assert.ok(Date.now() < deadline, `no file within 60 s; provider: ${provider.stderr()}`);
        const r = await api(srv.url, c.token, 'GET', `/api/ice/signals/${sessionId}`);
        for (const s of r.body as Signal[]) {
          if (s.signal_type !== 'candidate' || seen.has(`${s.signal_data}-${s.from_client_id}`)) continue;
          seen.add(`${s.signal_data}-${s.from_client_id}`);
          await pc.addIceCandidate(JSON.parse(s.signal_data));
        }
        await Promise.race([received, sleep(250)]);
      }
      const file = Buffer.concat(chunks);
      assert.equal(file.length, size);
      assert.ok(
        chunks.every((ch) => ch.length <= 16384),
        'the seed’s 16 KiB chunks, no sdrlink header',
      );
      const sent = await provider.waitFor((e) => e['event'] === 'sent');
      assert.equal(sha(file), sent['sha256']);
      assert.equal(sent['acked'], false, 'a seed peer sends no acknowledgement');
      const meta = JSON.parse(texts[0] as string) as Record<string, unknown>;
      assert.deepEqual(
        Object.keys(meta).sort(),
        ['filename', 'size', 'type'],
        'only the seed’s metadata fields',
      );
    } finally {
      pc.close();
      await provider.stop();
      provider = undefined;
    }
  });

  test('our consumer receives from a seed Type1: saved, and reported unverified', async () => {
    const p = await registerUser(srv.url, { username: 'seed1', password: 'provider-pass', client_type: 1 });
    const c = await registerUser(srv.url, { username: 'ours2', password: 'consumer-pass', client_type: 2 });
    const payload = randomBytes(300_000);
    const out = join(dir, 'out');
    const request = runRequestProcess({
      url: srv.url,
      token: c.token,
      type: 'spectrum',
      params: { frequency_start: 1e8, frequency_end: 2e8, sample_rate: 1e6 },
      out,
      args: ['--transport', 'p2p'],
    });
    let requestDone: string | undefined;
    request.then(
      (r) => (requestDone = `request exited ${String(r.code)}: ${r.stderr.slice(-4000)}`),
      (e: unknown) => (requestDone = `request failed: ${(e as Error).message.slice(-4000)}`),
    );
    // ListenForRequests: poll the session list; handleRequest for the session.
    let session: { session_id: string; parameters: string } | undefined;
    for (let i = 0; i < 120 && session === undefined; i++) {
      const r = await api(srv.url, p.token, 'GET', '/api/ice/sessions');
      assert.equal(r.status, 200);
      session = (r.body as Array<{ session_id: string; parameters: string }>)[0];
      if (session === undefined) await sleep(250);
    }
    assert.ok(session !== undefined);
    assert.equal(typeof JSON.parse(session.parameters), 'object');
    const sid = session.session_id;
    const signal = (type: string, data: unknown) =>
      api(srv.url, p.token, 'POST', '/api/ice/signal', {
        session_id: sid,
        signal_type: type,
        signal_data: JSON.stringify(data),
      });
    const pc = new RTCPeerConnection({ iceServers: [] } as never) as unknown as Pc;
    const dc = pc.createDataChannel('file-transfer');
    // Listen at once: once our candidates are posted, ICE (peer-reflexive), DTLS and SCTP can finish while
    // the later candidates are still being posted, and a late `onopen` would miss the event.
    const opened = new Promise<void>((resolve) => (dc.onopen = () => resolve()));
    let open = false;
    void opened.then(() => (open = true));
    // Our test peer posts its candidates once the answer is in (the seed posts them as they come; over HTTP
    // polling the difference is timing only) — see src/agents/channel/webrtc.ts on why that order matters.
    const local: unknown[] = [];
    pc.onicecandidate = (ev) => {
      if (ev.candidate !== null) local.push(ev.candidate.toJSON());
    };
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      assert.equal((await signal('offer', offer)).status, 200);
      let answer: Signal | undefined;
      for (let i = 0; i < 120 && answer === undefined; i++) {
        const r = await api(srv.url, p.token, 'GET', `/api/ice/signals/${sid}`);
        answer = (r.body as Signal[]).find((s) => s.signal_type === 'answer');
        if (answer === undefined) await sleep(100);
      }
      assert.ok(answer !== undefined, 'an answer arrived');
      await pc.setRemoteDescription(JSON.parse(answer.signal_data) as { type: string; sdp: string });
      for (const cand of local) await signal('candidate', cand);
      const seen = new Set<string>();
      const deadline = Date.now() + 60_000;
      while (!open) {
        assert.ok(Date.now() < deadline, 'the data channel did not open within 60 s');
        assert.ok(requestDone === undefined, `the consumer ended before the channel opened: ${requestDone}`);
        const r = await api(srv.url, p.token, 'GET', `/api/ice/signals/${sid}`);
        for (const s of r.body as Signal[]) {
          if (s.signal_type !== 'candidate' || seen.has(s.signal_data)) continue;
          seen.add(s.signal_data);
          await pc.addIceCandidate(JSON.parse(s.signal_data));
        }
        await Promise.race([opened, sleep(100)]);
      }
      // sendFile: metadata, then 16 KiB chunks in a tight loop, nothing after.
      dc.send(
        JSON.stringify({
          filename: 'spectrum_100000000_200000000_1000000.npz',
          size: payload.length,
          type: 'file-metadata',
        }),
      );
      for (let i = 0; i < payload.length; i += 16384) dc.send(payload.subarray(i, i + 16384));
      const r = await request;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['verified'], false);
      assert.equal(r.result['sha256'], sha(payload));
      assert.deepEqual(await readFile(r.result['path'] as string), payload);
    } finally {
      pc.close();
    }
  });
});
