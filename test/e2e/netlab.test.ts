/**
 * The network lab's matrix (netlab/, README "Across networks") with small files: real agents in network
 * namespaces behind emulated routers, a real coturn, the server on a public segment. Each row must
 * deliver the file with the right sha256 over the path it expects. Needs root, `ip netns`, nftables, tc and
 * coturn; skips with the reason otherwise, and fails instead when SDRLINK_REQUIRE_NETLAB=1 (CI).
 * `npm run netlab` runs the same rows with bigger files and writes netlab/results.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labMissing } from '../../netlab/lab.js';
import { ROWS, runRow } from '../../netlab/rows.js';

const missing = labMissing();
const skip =
  missing === undefined || process.env['SDRLINK_REQUIRE_NETLAB'] === '1'
    ? false
    : `network lab: ${missing}; set SDRLINK_REQUIRE_NETLAB=1 to make this a failure`;

describe('network lab (small files)', { skip }, () => {
  for (const row of ROWS) {
    it(`${row.id}: ${row.title} → ${row.expectText}`, async () => {
      const r = await runRow(row, 3 * 1024 * 1024);
      if (row.expectError !== undefined) {
        assert.ok(
          r.ok,
          `${row.id}: expected ${row.expectError} matching ${String(row.expect)}, got ${r.note}`,
        );
        return;
      }
      assert.ok(r.sha256_ok, `${row.id}: not verified: ${r.note}\n${r.log ?? ''}`);
      assert.ok(
        r.path !== undefined && row.expect.test(r.path),
        `${row.id}: path ${String(r.path)}: ${r.note}\n${r.log ?? ''}`,
      );
      assert.ok(r.ok, `${row.id}: ${r.note}\n${r.log ?? ''}`);
    });
  }
});
