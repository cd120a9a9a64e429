import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, mbPerSec, median, percentile, round } from './stats.js';

test('percentile interpolates between ranks like NumPy’s default', () => {
  const xs = [15, 20, 35, 40, 50];
  assert.equal(percentile(xs, 0), 15);
  assert.equal(percentile(xs, 100), 50);
  assert.equal(percentile(xs, 50), 35);
  assert.equal(percentile(xs, 40), 29); // rank 1.6: 20 + 0.6 × 15
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('percentile does not reorder its input', () => {
  const xs = [3, 1, 2];
  percentile(xs, 50);
  assert.deepEqual(xs, [3, 1, 2]);
});

test('Histogram percentiles are the upper edge of the 10 µs bucket', () => {
  const h = new Histogram();
  for (let i = 1; i <= 100; i++) h.record(i); // 1 … 100 ms
  assert.equal(h.n, 100);
  assert.equal(h.percentile(50), 50.01);
  assert.equal(h.percentile(99), 99.01);
  assert.equal(h.maxMs, 100);
  assert.ok(Number.isNaN(new Histogram().percentile(50)));
});

test('Histogram clamps negative and huge values into its range', () => {
  const h = new Histogram();
  h.record(-1);
  h.record(1e9);
  assert.equal(h.percentile(1), 0.01);
  assert.equal(h.percentile(100), ((Histogram.BUCKETS + 1) * Histogram.BUCKET_US) / 1000);
});

test('units and rounding', () => {
  assert.equal(mbPerSec(125_000_000, 1000), 125);
  assert.ok(Number.isNaN(mbPerSec(1, 0)));
  assert.equal(round(123.456), 123);
  assert.equal(round(1.23456), 1.23);
});
