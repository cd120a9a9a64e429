import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetRows, markdownTable, pct, rowsFrom, type Row } from './report.js';

test('pct and the Markdown table (pipes escaped)', () => {
  assert.equal(pct(81, 100), '81%');
  assert.equal(pct(1, 0), '–');
  const row: Row = {
    part: 'p',
    metric: 'a | b',
    ours: '1',
    baseline: '2',
    ratio: '50%',
    target: '–',
    met: '–',
  };
  assert.equal(markdownTable([row]).split('\n')[2], '| p | a \\| b | 1 | 2 | 50% | – | – |');
});

test('rowsFrom: protocol bench rows take the bare row as their baseline', () => {
  const rows = rowsFrom({
    rows: [
      { name: 'bare loop', mbPerS: 1000, cpuMsPerGiB: 400 },
      { name: 'sdrlink/1', mbPerS: 250, cpuMsPerGiB: 2000 },
    ],
  });
  assert.equal(rows.length, 2);
  assert.equal(rows[0]?.ours, '–');
  assert.equal(rows[0]?.baseline, '1000 MB/s, 400 CPU ms/GiB');
  assert.equal(rows[1]?.ours, '250 MB/s, 2000 CPU ms/GiB');
  assert.equal(rows[1]?.baseline, '1000 MB/s');
  assert.equal(rows[1]?.ratio, '25%');
});

test('rowsFrom: generic rows, and anything else gives none', () => {
  const rows = rowsFrom([{ metric: 'm', ours: 2, baseline: 'b', met: true }]);
  assert.deepEqual(rows[0], {
    part: '',
    metric: 'm',
    ours: '2',
    baseline: 'b',
    ratio: '–',
    target: '–',
    met: 'yes',
  });
  assert.deepEqual(rowsFrom(42), []);
  assert.deepEqual(rowsFrom(null), []);
});

test('datasetRows: ours next to NumPy, or the reason NumPy is missing', () => {
  const base = {
    signal: { samples: 100, oursMBps: 200, numpyMBps: 100 },
    spectrum: { fftSize: 1024, captures: 2, averages: 3, oursPointsPerSec: 5e6, numpyPointsPerSec: 1e7 },
    fft: [{ size: 1024, fftjsPointsPerSec: 2e6, radix2PointsPerSec: 1e6, numpyPointsPerSec: 4e6 }],
  };
  const rows = datasetRows({ ...base, environment: { numpy: '2.0' } });
  assert.equal(rows.length, 4);
  assert.equal(rows[0]?.ratio, '200%');
  assert.equal(rows[1]?.ours, '5 M FFT points/s');
  assert.equal(rows[1]?.ratio, '50%');
  const missing = datasetRows({
    signal: { samples: 1, oursMBps: 1 },
    environment: { numpyError: 'No module named numpy' },
  });
  assert.equal(missing[0]?.baseline, 'NumPy unavailable: No module named numpy');
});
