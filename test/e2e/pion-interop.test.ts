/**
 * Our server and agents against the seed's Go clients on a real pion (test/interop/pion-seed, built from
 * Debian's golang-go and golang-github-pion-webrtc.v3-dev by test/helpers/pion.ts). Skipped, with the
 * reason, when Go or the pion sources are absent (`SDRLINK_REQUIRE_PION=1` makes that a failure).
 *
 * Debian's pion is 3.1.56: its SCTP drops libdatachannel's INIT, which carries the RFC 9653 zero-checksum
 * parameter (DESIGN.md, "Known traps in the libraries"; src/agents/channel/webrtc.ts). ICE and DTLS
 * connect, SCTP never does; our side must say so (`ERR_SCTP_STALLED`, naming the fix) within seconds
 * rather than time out and wait at the relay for a peer that has none. With pion ≥ 3.2.24 the same tests
 * expect the file instead.
 */
import assert from 'node:assert/strict';
import { readFile, rm, mkdtemp, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runRequestProcess, startProviderProcess, type ProviderProcess } from '../helpers/agents.js';
import {
  buildPionSeed,
  cleanupPionSeed,
  pionRefusesZeroChecksum,
  pionSkip,
  pionVersion,
  startPionSeed,
  type PionProcess,
} from '../helpers/pion.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const SPECTRUM = { frequency_start: 100000000, frequency_end: 200000000, sample_rate: 1000000 };

// On each test rather than the suite, so the run's summary counts them as skipped.
const skip = pionSkip();

describe('the seed’s Go clients on Debian’s pion v3', () => {
  let srv: ServerProcess;
  let dir: string;
  /** Whether this pion predates the zero-checksum fix (Debian's 3.1.56 does). */
  let old: boolean;
  before(async () => {
    if (skip !== false) return;
    const version = pionVersion();
    assert.ok(version !== undefined, 'pion/webrtc’s version (dpkg, or SDRLINK_PION_VERSION)');
    old = pionRefusesZeroChecksum(version);
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-pion-e2e-'));
    // The build first: were it to fail beside a starting server, that server would outlive the suite.
    await buildPionSeed();
    srv = await startServerProcess();
  });
  after(async () => {
    if (skip !== false) return;
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
    await cleanupPionSeed();
  });

  test(
    'a pion Type2 consumer and our provider: ERR_SCTP_STALLED on both sides within seconds, no relay wait',
    { skip },
    async () => {
      const p = await registerUser(srv.url, { username: 'prov', password: 'provider-pass', client_type: 1 });
      const c = await registerUser(srv.url, { username: 'pion2', password: 'consumer-pass', client_type: 2 });
      let provider: ProviderProcess | undefined;
      let pion: PionProcess | undefined;
      try {
        provider = await startProviderProcess({ url: srv.url, token: p.token, dataDir: join(dir, 'pdata') });
        const out = join(dir, 'pion-out');
        await mkdir(out);
        pion = await startPionSeed([
          ...['-role', 'consumer', '-server', srv.url, '-token', c.token, '-out', out],
          ...['-type', 'spectrum', '-params', JSON.stringify(SPECTRUM), '-timeout', '90s'],
        ]);
        const { result, stderr } = await pion.outcome;
        const why = `pion: ${JSON.stringify(result)}\n${stderr.slice(-3000)}\nprovider: ${provider.stderr()}`;
        assert.ok(result.ice_connected_ms >= 0 && result.dtls_connected_ms >= 0, `ICE and DTLS up; ${why}`);
        if (old) {
          assert.equal(result.sctp_connected_ms, -1, `SCTP never associates; ${why}`);
          const failed = await provider.waitFor((e) => e['event'] === 'failed');
          assert.equal(failed['code'], 'ERR_SCTP_STALLED', why);
          assert.match(failed['message'] as string, /zero-checksum .*32769.* pion\/webrtc ≥ v3\.2\.24/);
          assert.ok(
            !provider.events().some((e) => e['event'] === 'log' && /relay/.test(String(e['message']))),
            `no relay attempt toward a seed consumer; ${why}`,
          );
          // The seed consumer is not left to its ICE timers: our `error` signal carries the cause.
          assert.equal(result.ended_by, 'error-signal', why);
          assert.equal(
            (JSON.parse(result.error_signal ?? '{}') as { code?: string }).code,
            'ERR_SCTP_STALLED',
          );
        } else {
          assert.equal(result.ok, true, why);
          const sent = await provider.waitFor((e) => e['event'] === 'sent');
          assert.equal(result.sha256, sent['sha256']);
          const file = await readFile(result.path as string);
          assert.equal(createHash('sha256').update(file).digest('hex'), sent['sha256']);
        }
      } finally {
        await pion?.stop();
        await provider?.stop();
      }
    },
  );

  test(
    'our consumer and a pion Type1 provider: ERR_SCTP_STALLED within seconds, no relay wait',
    { skip },
    async () => {
      const p = await registerUser(srv.url, { username: 'pion1', password: 'provider-pass', client_type: 1 });
      const c = await registerUser(srv.url, { username: 'ours2', password: 'consumer-pass', client_type: 2 });
      const data = join(dir, 'pion-data');
      await mkdir(data);
      const pion = await startPionSeed([
        ...['-role', 'provider', '-server', srv.url, '-token', p.token, '-data', data],
        ...['-poll', '500ms', '-timeout', '90s'],
      ]);
      try {
        // the seed Type1 is online before the request (docs/api.md §12): it has polled once
        await api(srv.url, p.token, 'GET', '/api/ice/sessions');
        const r = await runRequestProcess({
          url: srv.url,
          token: c.token,
          type: 'spectrum',
          params: SPECTRUM,
          out: join(dir, 'ours-out'),
          // the seed's Type1 sends no checksum: accepted only when asked for (issue 16, class 2)
          args: ['--allow-unverified'],
        });
        if (old) {
          assert.equal(r.code, 1, r.stderr);
          assert.equal(r.result['code'], 'ERR_SCTP_STALLED', JSON.stringify(r.result));
          assert.match(r.result['message'] as string, /pion\/webrtc older than v3\.2\.24/);
        } else {
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.result['verified'], false, 'a seed provider sends no checksum');
          assert.equal((await readFile(r.result['path'] as string)).length, 1024 * 1024, 'the seed’s 1 MiB');
        }
      } finally {
        // Stopped, not awaited to its end: the seed's Type1 gives up only after its own 30 s.
        await pion.stop();
      }
    },
  );
});
