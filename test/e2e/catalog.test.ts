/**
 * Catalogs and routing (docs/api.md §12) with real processes: a server, two `sdrlink provide` processes
 * with different recordings and limits, `sdrlink request` and `sdrlink providers` runs, and raw API calls
 * for what the agents never do (a malformed catalog, a consumer announcing one, a claim the catalog
 * cannot back).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { repoPath } from '../helpers/numpy.js';
import { api, registerUser, runCli } from '../helpers/server.js';

const FIXTURES = repoPath('test/fixtures/sigmf');
const SMALL_SIGNAL = { frequency: 100e6, sample_rate: 1e6, duration: 0.01 };

async function recordingsDir(fx: TransferFixture, name: string, recordings: string[]): Promise<string> {
  const dir = await fx.fresh(name);
  await mkdir(dir, { recursive: true });
  for (const r of recordings) {
    for (const ext of ['.sigmf-meta', '.sigmf-data'])
      await copyFile(join(FIXTURES, r + ext), join(dir, r + ext));
  }
  return dir;
}

type Listed = Array<{
  user_id: string;
  username: string;
  online: boolean;
  catalog: {
    types: Array<{ type: string; parameters: Array<Record<string, unknown>> }>;
    recordings: Array<{ name: string }>;
  } | null;
}>;

describe('catalogs and routing (real processes)', () => {
  let fx: TransferFixture;
  let carol: { token: string; user_id: string };

  before(async () => {
    fx = await createTransferFixture({ provider: 'alice-prov', consumer: 'cat-consumer' });
    carol = await registerUser(fx.srv.url, {
      username: 'carol-prov',
      password: 'provider-pass',
      client_type: 1,
    });
  });
  after(async () => {
    await fx.close();
  });

  test('a catalog is checked: malformed or oversized is refused 400 and the stored one stays; a consumer may not announce one', async () => {
    const url = fx.srv.url;
    const good = {
      types: [
        {
          type: 'signal',
          parameters: [
            { name: 'frequency', type: 'number', minimum: 0, unit: 'Hz', required: false },
            { name: 'sample_rate', type: 'number', exclusive_minimum: 0, unit: 'Hz', required: false },
            { name: 'duration', type: 'number', exclusive_minimum: 0, required: false },
            { name: 'recording', type: 'string', required: false },
          ],
        },
      ],
      recordings: [],
    };
    const put = await api(url, carol.token, 'PUT', '/api/providers/me/catalog', good);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const stored = async () =>
      ((await api(url, fx.consumerToken, 'GET', '/api/providers')).body as Listed).find(
        (p) => p.username === 'carol-prov',
      );
    const before1 = await stored();
    assert.deepEqual(before1?.catalog, good);

    const bad: Array<[string, unknown]> = [
      ['a request type that is not one', { types: [{ type: 'Not A Type', parameters: [] }], recordings: [] }],
      [
        'a parameter of an unknown JSON type',
        {
          types: [{ type: 'signal', parameters: [{ name: 'x', type: 'date', required: false }] }],
          recordings: [],
        },
      ],
      ['no recordings list', { types: [] }],
      [
        '33 request types',
        { types: Array.from({ length: 33 }, (_, i) => ({ type: `t${i}`, parameters: [] })), recordings: [] },
      ],
      [
        '10 001 recordings',
        {
          types: [],
          recordings: Array.from({ length: 10_001 }, (_, i) => ({
            name: `r${i}`,
            sample_rate: 1e6,
            center_frequency: 1e8,
            span: 1e6,
            duration: 1,
            datatype: 'cf32_le',
          })),
        },
      ],
      [
        'a type listed twice',
        {
          types: [
            { type: 'signal', parameters: [] },
            { type: 'signal', parameters: [] },
          ],
          recordings: [],
        },
      ],
    ];
    for (const [what, body] of bad) {
      const r = await api(url, carol.token, 'PUT', '/api/providers/me/catalog', body);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal((r.body as { error: { code: string } }).error.code, 'ERR_VALIDATION', what);
    }
    assert.deepEqual(await stored(), before1, 'the stored catalog is unchanged');

    const byConsumer = await api(url, fx.consumerToken, 'PUT', '/api/providers/me/catalog', good);
    assert.equal(byConsumer.status, 403);
    assert.equal((byConsumer.body as { error: { code: string } }).error.code, 'ERR_ROLE');
  });

  test('a session is offered only where the catalog can serve it; a decline by the last able provider fails it with ERR_NO_PROVIDER', async () => {
    const url = fx.srv.url;
    // carol's catalog (previous test): signal, no recordings; she is online (she announced it)
    const noRec = await api(url, fx.consumerToken, 'POST', '/api/ice/initiate', {
      request_type: 'signal',
      parameters: { recording: 'nowhere' },
    });
    assert.equal(noRec.status, 201);
    const s1 = noRec.body as { session_id: string; providers_able: number; no_provider: string };
    assert.equal(s1.providers_able, 0);
    assert.match(s1.no_provider, /carol-prov has no recording "nowhere"/);
    const listed = (await api(url, carol.token, 'GET', '/api/ice/sessions')).body as Array<{
      session_id: string;
    }>;
    assert.ok(!listed.some((s) => s.session_id === s1.session_id), 'not in her pending list');
    const claim = await api(url, carol.token, 'POST', '/api/ice/signal', {
      session_id: s1.session_id,
      signal_type: 'offer',
      signal_data: JSON.stringify({ type: 'offer', sdp: 'v=0' }),
    });
    assert.equal(claim.status, 403);
    assert.equal((claim.body as { error: { code: string } }).error.code, 'ERR_CATALOG_MISMATCH');
    await api(url, fx.consumerToken, 'POST', `/api/ice/sessions/${s1.session_id}/cancel`);

    const ok = await api(url, fx.consumerToken, 'POST', '/api/ice/initiate', {
      request_type: 'signal',
      parameters: SMALL_SIGNAL,
    });
    const s2 = ok.body as { session_id: string; providers_able: number };
    assert.equal(s2.providers_able, 1);
    const byConsumer = await api(
      url,
      fx.consumerToken,
      'POST',
      `/api/ice/sessions/${s2.session_id}/decline`,
      {
        code: 'ERR_BUSY',
        message: 'x',
      },
    );
    assert.equal(byConsumer.status, 403);
    const declined = await api(url, carol.token, 'POST', `/api/ice/sessions/${s2.session_id}/decline`, {
      code: 'ERR_BUSY',
      message: 'four sessions running',
    });
    assert.equal(declined.status, 200, JSON.stringify(declined.body));
    assert.deepEqual(declined.body, { session_id: s2.session_id, status: 'failed', providers_able: 0 });
    const signals = (await api(url, fx.consumerToken, 'GET', `/api/ice/signals/${s2.session_id}`))
      .body as Array<{
      signal_type: string;
      signal_data: string;
    }>;
    const err = JSON.parse(signals.find((s) => s.signal_type === 'error')?.signal_data ?? '{}') as {
      code: string;
      message: string;
    };
    assert.equal(err.code, 'ERR_NO_PROVIDER');
    assert.match(err.message, /carol-prov declined: ERR_BUSY: four sessions running/);
    const detail = (await api(url, fx.consumerToken, 'GET', `/api/ice/sessions/${s2.session_id}`)).body as {
      status: string;
      declines: Array<Record<string, string>>;
    };
    assert.equal(detail.status, 'failed');
    assert.deepEqual(
      detail.declines.map((d) => [d['by_user_id'], d['code'], d['message']]),
      [[carol.user_id, 'ERR_BUSY', 'four sessions running']],
    );
    const again = await api(url, carol.token, 'POST', `/api/ice/sessions/${s2.session_id}/decline`, {
      code: 'ERR_BUSY',
      message: 'again',
    });
    assert.equal(again.status, 409);
  });

  describe('two providers online', () => {
    let alice: ProviderProcess;
    let bob: ProviderProcess;
    let aliceId: string;
    let aliceRecordings: string;

    before(async () => {
      // carol goes quiet: her catalog stays, she drops offline after the online window (not waited for:
      // every request below is one her catalog cannot serve, or she would decline it)
      aliceRecordings = await recordingsDir(fx, 'alice-rec', ['two-tones-ci16']);
      const bobRecordings = await recordingsDir(fx, 'bob-rec', ['rtl-cu8']);
      const bobToken = (
        await registerUser(fx.srv.url, { username: 'bob-prov', password: 'provider-pass', client_type: 1 })
      ).token;
      alice = await startProviderProcess({
        url: fx.srv.url,
        token: fx.providerToken,
        dataDir: await fx.fresh('alice-data'),
        args: ['--recordings', aliceRecordings, '--catalog-interval', '200'],
      });
      // bob's limit is too small for any signal: he declines them (ERR_TOO_LARGE)
      bob = await startProviderProcess({
        url: fx.srv.url,
        token: bobToken,
        dataDir: await fx.fresh('bob-data'),
        args: ['--recordings', bobRecordings, '--max-output', '2000'],
      });
      const ready = await alice.waitFor((e) => e['event'] === 'ready');
      aliceId = String(ready['user_id']);
      await alice.waitFor((e) => e['event'] === 'catalog');
      await bob.waitFor((e) => e['event'] === 'catalog');
    });
    after(async () => {
      await Promise.all([alice.stop(), bob.stop()]);
    });

    test('a recording request without --provider goes to the provider that has it, 3 of 3 times', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await runRequestProcess({
          url: fx.srv.url,
          token: fx.consumerToken,
          type: 'signal',
          params: { recording: 'two-tones-ci16' },
          out: await fx.fresh('out'),
        });
        assert.equal(r.code, 0, `${JSON.stringify(r.result)}\n${r.stderr}`);
        assert.equal(r.result['provider_id'], aliceId);
      }
      assert.ok(
        !bob.events().some((e) => e['event'] === 'session'),
        'bob, who has no such recording, was never offered one',
      );
    });

    test('a provider that declines hands the session to the other: served, and the decline logged', async () => {
      const r = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SMALL_SIGNAL,
        out: await fx.fresh('out'),
      });
      assert.equal(r.code, 0, `${JSON.stringify(r.result)}\n${r.stderr}`);
      assert.equal(r.result['provider_id'], aliceId);
      const refused = await bob.waitFor(
        (e) => e['event'] === 'refused' && e['session_id'] === r.result['session_id'],
        10_000,
      );
      assert.equal(refused['code'], 'ERR_TOO_LARGE');
    });

    test('nobody can serve: the consumer fails at once with ERR_NO_PROVIDER and what is on offer', async () => {
      const r = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'spectrum',
        params: { recording: 'not-here', frequency_start: 1, frequency_end: 2 },
        out: await fx.fresh('out'),
        // far longer than the test may take: a consumer that waited for an offer would be killed
        args: ['--wait', '600000'],
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 1);
      assert.equal(r.result['code'], 'ERR_NO_PROVIDER');
      const message = String(r.result['message']);
      assert.match(message, /no provider online can serve this spectrum request/);
      assert.match(message, /alice-prov has no recording "not-here"/);
      assert.match(
        message,
        /on offer: .*alice-prov: spectrum, signal, spectrogram; recordings: two-tones-ci16/,
      );
      assert.match(message, /bob-prov: spectrum, signal, spectrogram; recordings: rtl-cu8/);
    });

    test('GET /api/providers and `sdrlink providers --json` show both catalogs', async () => {
      const listed = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/providers')).body as Listed;
      const a = listed.find((p) => p.username === 'alice-prov');
      const b = listed.find((p) => p.username === 'bob-prov');
      assert.equal(a?.online, true);
      assert.equal(b?.online, true);
      assert.deepEqual(
        a?.catalog?.types.map((t) => t.type),
        ['spectrum', 'signal', 'spectrogram'],
      );
      assert.deepEqual(
        a?.catalog?.recordings.map((r) => r.name),
        ['two-tones-ci16'],
      );
      assert.deepEqual(
        b?.catalog?.recordings.map((r) => r.name),
        ['rtl-cu8'],
      );
      const duration = a?.catalog?.types
        .find((t) => t.type === 'signal')
        ?.parameters.find((p) => p['name'] === 'duration');
      assert.deepEqual(duration, {
        name: 'duration',
        type: 'number',
        unit: 'seconds',
        exclusive_minimum: 0,
        maximum: 1e7,
        required: false,
        description: 'required without recording',
      });
      const rec = a?.catalog?.recordings[0] as Record<string, unknown>;
      assert.deepEqual(rec, {
        name: 'two-tones-ci16',
        sample_rate: 2e6,
        center_frequency: 433.9e6,
        span: 2e6,
        duration: 8192 / 2e6,
        datatype: 'ci16_le',
      });

      const cli = await runCli(['providers', '--json', '--server', fx.srv.url, '--token', fx.consumerToken]);
      assert.equal(cli.code, 0, cli.stderr);
      const fromCli = JSON.parse(cli.stdout) as Listed;
      const strip = (l: Listed) => l.map((p) => ({ ...p, last_seen: '' })).filter((p) => p.online);
      assert.deepEqual(strip(fromCli), strip(listed));
      const table = await runCli(['providers', '--server', fx.srv.url, '--token', fx.consumerToken]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^NAME\s+ID\s+STATUS\s+TYPES\s+RECORDINGS$/m);
      assert.match(table.stdout, /^alice-prov\s+\d+\s+online\s+spectrum,signal,spectrogram\s+1$/m);
    });

    test('a provider announces its catalog again when its recordings folder changes', async () => {
      const before1 = alice.events().filter((e) => e['event'] === 'catalog').length;
      for (const ext of ['.sigmf-meta', '.sigmf-data'])
        await copyFile(join(FIXTURES, `retune-cf32${ext}`), join(aliceRecordings, `retune-cf32${ext}`));
      const e = await alice.waitFor((x) => x['event'] === 'catalog' && x['recordings'] === 2, 20_000);
      assert.ok(alice.events().filter((x) => x['event'] === 'catalog').length > before1, JSON.stringify(e));
      const listed = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/providers')).body as Listed;
      assert.deepEqual(
        listed.find((p) => p.username === 'alice-prov')?.catalog?.recordings.map((r) => r.name),
        ['retune-cf32', 'two-tones-ci16'],
      );
    });
  });
});
