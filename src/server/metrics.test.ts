/**
 * `GET /metrics` in process (docs/api.md §10): open without a token, 401 with a wrong one when set,
 * bounded route labels, and one registry per server (two servers in one process keep their own counts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp } from '../../test/helpers/server-app.js';

describe('GET /metrics (in process)', () => {
  it('is open without --metrics-token, labels unknown URLs "unmatched", and counts per server', async () => {
    const a = await testApp();
    const b = await testApp();
    try {
      await a.call('GET', '/no/such/route/123');
      await a.user('prov-a', 1);
      const ra = await a.call('GET', '/metrics');
      assert.equal(ra.status, 200);
      const text = ra.body as string;
      assert.match(
        text,
        /sdrlink_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/,
      );
      assert.doesNotMatch(text, /no\/such\/route/);
      assert.match(text, /sdrlink_db_operation_duration_seconds_count\{operation="users.create"\} 1/);
      const rb = await b.call('GET', '/metrics');
      assert.doesNotMatch(rb.body as string, /operation="users.create"/, 'b has its own registry');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('requires the token when set, compared exactly', async () => {
    const token = 'a-metrics-token-0123456789';
    const t = await testApp({ metricsToken: token });
    try {
      assert.equal((await t.call('GET', '/metrics')).body.error.code, 'ERR_TOKEN_MISSING');
      const bad = await t.call('GET', '/metrics', { headers: { authorization: 'Basic abc' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.body.error.code, 'ERR_TOKEN_INVALID');
      const wrong = await t.call('GET', '/metrics', { token: `${token}x` });
      assert.equal(wrong.body.error.code, 'ERR_TOKEN_INVALID');
      assert.equal((await t.call('GET', '/metrics', { token })).status, 200);
    } finally {
      await t.close();
    }
  });
});

describe('pathLabel', () => {
  it('coarsens a reported path to a closed set of labels', async () => {
    const { pathLabel } = await import('./metrics.js');
    const cases: Array<[string | null, string | null, string]> = [
      ['host-host/udp', 'p2p', 'direct'],
      ['srflx-prflx/udp', 'p2p', 'direct'],
      ['host-srflx/tcp', 'p2p', 'direct'],
      ['relay-srflx/udp', 'p2p', 'turn'],
      ['host-relay/udp', 'p2p', 'turn'],
      ['ws-relay', 'relay', 'ws-relay'],
      [null, 'relay', 'ws-relay'],
      [null, 'p2p', 'unknown'],
      [null, null, 'unknown'],
      ['host-host/sctp', 'p2p', 'unknown'],
      ['x'.repeat(100), 'p2p', 'unknown'],
    ];
    for (const [path, transport, want] of cases) assert.equal(pathLabel(path, transport), want, `${path}`);
  });
});
