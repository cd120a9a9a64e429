/**
 * The network lab's matrix (netlab/, README "Across networks") with small files: real agents in network
 * namespaces behind emulated routers, a real coturn, the server on a public segment. Each row must
 * deliver the file with the right sha256 over the path it expects. Needs root, `ip netns`, nftables, tc and
 * coturn; skips with the reason otherwise, and fails instead when SDRLINK_REQUIRE_NETLAB=1 (CI).
 * `npm run netlab` runs the same rows with bigger files and writes netlab/results.md.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { cleanStale, labMissing, sh } from '../../netlab/lab.js';
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

describe('network lab cleanup', { skip }, () => {
  it('removes the namespaces (and kills the processes) of a run whose process is gone, and keeps a live run’s', async () => {
    // A pid that is not running: a child that has exited.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(gone.stdout);
    const stale = `sdl${deadPid.toString(36)}-zz`;
    const live = `sdl${process.pid.toString(36)}-zz`;
    sh(['ip', 'netns', 'add', stale]);
    sh(['ip', 'netns', 'add', live]);
    const sleeper = spawn('ip', ['netns', 'exec', stale, 'sleep', '300'], { stdio: 'ignore' });
    const exited = new Promise<string | null>((r) => sleeper.once('exit', (_c, sig) => r(sig)));
    try {
      while (spawnSync('ip', ['netns', 'pids', stale], { encoding: 'utf8' }).stdout.trim() === '')
        await new Promise((r) => setTimeout(r, 20));
      const removed = cleanStale();
      assert.ok(removed.includes(stale), `removed ${JSON.stringify(removed)}`);
      assert.ok(!removed.includes(live));
      const list = sh(['ip', 'netns', 'list']);
      assert.ok(!list.includes(stale));
      assert.ok(list.includes(live));
      assert.equal(await exited, 'SIGKILL', 'the stale run’s process was killed');
    } finally {
      spawnSync('ip', ['netns', 'del', stale]);
      spawnSync('ip', ['netns', 'del', live]);
      if (sleeper.exitCode === null && sleeper.signalCode === null) sleeper.kill('SIGKILL');
    }
  });
});
