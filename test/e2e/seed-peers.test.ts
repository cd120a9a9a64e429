/**
 * Our agents (real processes) against peers shaped exactly like the seed's Go Type1/Type2 (seeds/000: same
 * HTTP calls, same JSON, polling, the plain `file-metadata` + raw 16 KiB chunks, no checksum, no
 * `capabilities`) — test/helpers/seed-peers.ts, on node-datachannel in the test process. The seed-shaped
 * sender can also wait for the receiver's close after its last byte, as Chromium, aiortc and
 * node-datachannel senders written like the seed's Type1 do. Figures (seconds to completion or failure)
 * are printed as test diagnostics; no assertion is on wall-clock time. The real Go clients on Debian's
 * pion run in pion-interop.test.ts (which checks that our side names the SCTP failure).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runRequestProcess, startProviderProcess, type ProviderProcess } from '../helpers/agents.js';
import { cleanupSeedPeers, runSeedProvider, startSeedConsumer } from '../helpers/seed-peers.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const SPECTRUM = { frequency_start: 100000000, frequency_end: 200000000, sample_rate: 1000000 };
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

describe('seed-shaped clients', () => {
  let srv: ServerProcess;
  let dir: string;
  let users = 0;
  const providers: ProviderProcess[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-seed-'));
    srv = await startServerProcess();
  });
  after(async () => {
    for (const p of providers) await p.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
    cleanupSeedPeers();
  });
  const user = async (type: 1 | 2) =>
    (
      await registerUser(srv.url, {
        username: `user${++users}`,
        password: 'password-123',
        client_type: type,
      })
    ).token;
  const provide = async (token: string, args: string[] = [], env: Record<string, string> = {}) => {
    const p = await startProviderProcess({
      url: srv.url,
      token,
      dataDir: join(dir, `pdata-${users}`),
      args,
      env,
    });
    providers.push(p);
    return p;
  };

  test('a seed Type2 receives a correct file from our provider; our candidates are in standard form', async () => {
    const provider = await provide(await user(1));
    const consumer = await startSeedConsumer({
      url: srv.url,
      token: await user(2),
      params: SPECTRUM,
      candidateForm: 'prefixed',
    });
    try {
      const got = await consumer.done;
      assert.ok('file' in got, `a file, not ${JSON.stringify(got)}`);
      const sent = await provider.waitFor((e) => e['event'] === 'sent');
      assert.equal(got.file.length, sent['bytes']);
      assert.equal(sha(got.file), sent['sha256']);
      assert.ok(
        got.chunks.every((ch) => ch.length <= 16384),
        'the seed’s 16 KiB chunks, no sdrlink header',
      );
      assert.equal(sent['acked'], false, 'a seed peer sends no acknowledgement');
      const meta = JSON.parse(got.texts[0] as string) as Record<string, unknown>;
      assert.deepEqual(Object.keys(meta).sort(), ['filename', 'size', 'type'], 'only the seed’s fields');
      // W3C RTCIceCandidateInit.candidate: "candidate:…", without the SDP line's "a=" (issue 17, item 5).
      // They may go out only once ICE is connected (src/agents/channel/webrtc.ts): read them all now.
      const candidates = await consumer.waitForCandidates();
      for (const c of candidates) assert.match(c, /^candidate:/);
    } finally {
      consumer.close();
      await provider.stop();
    }
  });

  for (const seedLeft of [false, true]) {
    const shape = seedLeft ? 'has gone away' : 'is still connected';
    test(`SIGTERM while the connection to a seed Type2 that ${shape} is held: closed cleanly, exit 0`, async (t) => {
      const provider = await provide(await user(1));
      const requestedAt = Date.now();
      const consumer = await startSeedConsumer({
        url: srv.url,
        token: await user(2),
        params: SPECTRUM,
        candidateForm: 'standard',
      });
      try {
        const got = await consumer.done;
        assert.ok('file' in got);
        const sent = await provider.waitFor((e) => e['event'] === 'sent');
        const sentSeenAt = Date.now();
        // The seed Type2 never closes (`select {}`): the provider holds the connection for it to drain, and
        // is told to stop inside that window — with the seed still there, or after it went away (its user
        // stopped it at "File transfer completed"; its close takes a moment to reach the provider).
        if (seedLeft) {
          consumer.close();
          await new Promise((r) => setTimeout(r, 500));
        }
        const termAt = Date.now();
        provider.proc.kill('SIGTERM');
        const code = await provider.exited;
        t.diagnostic(`SIGTERM → exit: ${seconds(Date.now() - termAt)}`);
        t.diagnostic(`reported duration: ${seconds(Number(sent['duration_ms']))}`);
        assert.equal(code, 0, provider.stderr());
        assert.doesNotMatch(provider.stderr(), /cleanup timeout|deadlock/);
        assert.deepEqual(
          provider
            .events()
            .map((e) => e['event'])
            .filter((e) => e === 'sent' || e === 'failed'),
          ['sent'],
          'the transfer counts as sent; shutting down fails nothing',
        );
        assert.equal(sha(got.file), sent['sha256']);
        // The duration is the session's own (request to last byte out), not the time the connection is held.
        assert.ok(Number(sent['duration_ms']) <= sentSeenAt - requestedAt);
      } finally {
        consumer.close();
        await provider.stop();
      }
    });
  }

  test('our consumer receives from a seed Type1 that waits for the receiver to close', async (t) => {
    const payload = randomBytes(300_000);
    const out = join(dir, 'out-wait');
    const startedAt = Date.now();
    // the seed Type1 polls before the request: it is online, so the request is offered to it (docs/api.md §12)
    const seedToken = await user(1);
    await api(srv.url, seedToken, 'GET', '/api/ice/sessions');
    const request = runRequestProcess({
      url: srv.url,
      token: await user(2),
      type: 'spectrum',
      params: SPECTRUM,
      out,
      // Shorter than the 2 s the consumer used to wait after the last byte for a `file-complete` that
      // such a sender never sends: with that wait, this transfer would fail with ERR_TIMEOUT.
      // a seed Type1 sends no checksum: accepted only when asked for (issue 16, class 2)
      args: ['--transport', 'p2p', '--idle-timeout', '1500', '--allow-unverified'],
    });
    const seed = await runSeedProvider({
      url: srv.url,
      token: seedToken,
      payload,
      waitForClose: true,
      candidateForm: 'standard',
    });
    const r = await request;
    t.diagnostic(`last byte → receiver's close: ${seconds(seed.times.closedAt - seed.times.lastByteAt)}`);
    t.diagnostic(
      `request: first byte ${String(r.result['first_byte_ms'])} ms, total ${String(r.result['duration_ms'])} ms`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(seed.closedBy, 'receiver', 'the receiver closed: the sender only waited for it');
    assert.equal(r.result['verified'], false);
    assert.equal(r.result['sha256'], sha(payload));
    assert.deepEqual(await readFile(r.result['path'] as string), payload);
    // The summary's times are the transfer's own: they end by the close the sender saw.
    assert.ok(startedAt + Number(r.result['duration_ms']) <= seed.times.closedAt);
    for (const c of seed.candidates) assert.match(c, /^candidate:/);
  });

  test('our consumer takes a seed Type1’s candidates in the SDP-line form (a=candidate:)', async () => {
    const payload = randomBytes(300_000);
    // the seed Type1 polls before the request: it is online, so the request is offered to it (docs/api.md §12)
    const seedToken = await user(1);
    await api(srv.url, seedToken, 'GET', '/api/ice/sessions');
    const request = runRequestProcess({
      url: srv.url,
      token: await user(2),
      type: 'spectrum',
      params: SPECTRUM,
      out: join(dir, 'out-close'),
      args: ['--transport', 'p2p', '--allow-unverified'],
    });
    const seed = await runSeedProvider({
      url: srv.url,
      token: seedToken,
      payload,
      candidateForm: 'prefixed',
      waitForClose: true,
    });
    const r = await request;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result['verified'], false);
    assert.equal(r.result['sha256'], sha(payload));
    assert.deepEqual(await readFile(r.result['path'] as string), payload);
    assert.equal(seed.closedBy, 'receiver');
  });

  test('no direct path to a seed Type2: our provider ends the session at once, and the seed gets the error', async (t) => {
    const provider = await provide(await user(1), ['--connect-timeout', '1000'], {
      SDRLINK_FAULT_WITHHOLD_CANDIDATES: '1',
    });
    const startedAt = Date.now();
    const consumer = await startSeedConsumer({ url: srv.url, token: await user(2), params: SPECTRUM });
    try {
      const got = await consumer.done;
      t.diagnostic(`request → error at the seed consumer: ${seconds(Date.now() - startedAt)}`);
      assert.ok('error' in got, 'the seed consumer got an error signal');
      const failed = await provider.waitFor((e) => e['event'] === 'failed');
      assert.equal(got.error.code, failed['code']);
      assert.ok(failed['code'] === 'ERR_CONNECT_TIMEOUT' || failed['code'] === 'ERR_ICE_FAILED');
      // The direct path's own reason, not a wait at the relay for a peer that cannot come.
      assert.deepEqual(
        provider.events().filter((e) => e['event'] === 'connected'),
        [],
        'no relay was joined',
      );
      assert.doesNotMatch(String(failed['message']), /relay/);
    } finally {
      consumer.close();
      await provider.stop();
    }
  });

  test('no direct path to a seed Type1: our consumer ends at once, and the seed gets the error', async (t) => {
    const startedAt = Date.now();
    let failedAt = 0;
    // the seed Type1 polls before the request: it is online, so the request is offered to it (docs/api.md §12)
    const seedToken = await user(1);
    await api(srv.url, seedToken, 'GET', '/api/ice/sessions');
    const request = runRequestProcess({
      url: srv.url,
      token: await user(2),
      type: 'spectrum',
      params: SPECTRUM,
      out: join(dir, 'out-fail'),
      args: ['--connect-timeout', '1000'],
      env: { SDRLINK_FAULT_WITHHOLD_CANDIDATES: '1' },
    }).finally(() => (failedAt = Date.now()));
    const seed = await runSeedProvider({
      url: srv.url,
      token: seedToken,
      payload: randomBytes(1000),
      withholdCandidates: true,
      deadlineMs: 30_000,
    });
    const r = await request;
    t.diagnostic(`request → failure: ${seconds(failedAt - startedAt)}`);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.result['ok'], false);
    assert.ok(r.result['code'] === 'ERR_CONNECT_TIMEOUT' || r.result['code'] === 'ERR_ICE_FAILED');
    assert.doesNotMatch(String(r.result['message']), /relay/);
    assert.equal(seed.errors[0]?.code, r.result['code'], 'the seed provider got the error signal');
  });
});
