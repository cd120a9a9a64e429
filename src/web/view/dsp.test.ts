import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argMax, colorAt, dbRange, evenIndices, signalSpectrum, waterfallPixels } from './dsp.js';

/** A complex tone `a·e^{2πi·f·n/fs}` plus, optionally, a second one. */
function tones(samples: number, fs: number, parts: Array<[freq: number, amp: number]>): Float32Array {
  const iq = new Float32Array(2 * samples);
  for (let n = 0; n < samples; n++) {
    for (const [f, a] of parts) {
      iq[2 * n] = (iq[2 * n] as number) + a * Math.cos((2 * Math.PI * f * n) / fs);
      iq[2 * n + 1] = (iq[2 * n + 1] as number) + a * Math.sin((2 * Math.PI * f * n) / fs);
    }
  }
  return iq;
}

test('signal spectrum: a tone lands on its frequency, at its power relative to full scale', () => {
  const fs = 1e6;
  const fc = 100e6;
  const spec = signalSpectrum(
    tones(50_000, fs, [
      [123_456, 1],
      [-250_000, 0.1],
    ]),
    fs,
    fc,
  );
  assert.equal(spec.frequencies.length, 4096);
  assert.equal(spec.frequencies[0], fc - fs / 2);
  for (let j = 1; j < spec.frequencies.length; j++) {
    assert.ok((spec.frequencies[j] as number) > (spec.frequencies[j - 1] as number));
  }
  const peak = argMax(spec.powerDb);
  assert.ok(
    Math.abs((spec.frequencies[peak] as number) - (fc + 123_456)) <= fs / 4096,
    `peak at ${spec.frequencies[peak]}`,
  );
  // A full-scale tone reads 0 dB (within the Hann window's scalloping loss, < 1.5 dB).
  assert.ok(
    (spec.powerDb[peak] as number) <= 0.01 && (spec.powerDb[peak] as number) > -1.5,
    `${spec.powerDb[peak]} dB`,
  );
  // The second tone, 20 dB down, stands out where it is and nowhere else.
  const j2 = Math.round(((-250_000 + fs / 2) * 4096) / fs);
  assert.ok(Math.abs((spec.powerDb[j2] as number) + 20) < 1.5, `${spec.powerDb[j2]} dB at the second tone`);
  assert.ok((spec.powerDb[j2 + 200] as number) < -60, 'far from both tones: the window leaks little');
});

test('signal spectrum: a short signal uses a shorter FFT; silence is finite', () => {
  const spec = signalSpectrum(tones(300, 1000, [[100, 0.5]]), 1000, 0);
  assert.equal(spec.frequencies.length, 256);
  const silent = signalSpectrum(new Float32Array(2 * 64), 1000, 0);
  assert.ok(silent.powerDb.every((x) => Number.isFinite(x)));
});

test('evenIndices spreads at most max points over the whole range', () => {
  assert.deepEqual(Array.from(evenIndices(5, 10)), [0, 1, 2, 3, 4]);
  const idx = evenIndices(1_000_000, 1000);
  assert.equal(idx.length, 1000);
  assert.equal(idx[0], 0);
  assert.ok((idx[999] as number) >= 999_000);
});

test('dbRange: from the noise floor to the peak, ignoring non-finite values', () => {
  const v = new Float32Array(10_000).fill(-100);
  v[17] = -20;
  v[18] = Number.NEGATIVE_INFINITY;
  v[19] = -300; // one deep null does not set the bottom
  assert.deepEqual(dbRange(v), { lo: -100, hi: -20 });
  assert.deepEqual(dbRange([5, 5, 5]), { lo: 5, hi: 6 });
});

test('waterfall pixels: a narrow line survives shrinking (maximum of the covered cells)', () => {
  const rows = 40;
  const bins = 1000;
  const p = new Float32Array(rows * bins).fill(-100);
  for (let r = 0; r < rows; r++) p[r * bins + 613] = -10; // a one-bin line
  const width = 100;
  const height = 20;
  const px = waterfallPixels(p, rows, bins, width, height, { lo: -100, hi: -10 });
  assert.equal(px.length, width * height * 4);
  const bright = colorAt(1);
  const dark = colorAt(0);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const rgb = [px[at], px[at + 1], px[at + 2]];
      assert.deepEqual(rgb, x === 61 ? bright : dark, `pixel ${x},${y}`);
      assert.equal(px[at + 3], 255);
    }
  }
});
