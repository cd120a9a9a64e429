/**
 * What a dataset describes for the provider's catalog (docs/api.md §12) is what its validator applies:
 * for every bound it states, a value past the bound is refused naming that parameter, and a value at an
 * inclusive bound is not refused for that parameter's range (other rules between parameters may still
 * apply: the bases below are chosen so they do not). The parameter lists match the names `validate` knows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoPath } from '../../test/helpers/numpy.js';
import { createDefaultDatasets } from './index.js';
import { DatasetError, type Dataset, type ParamDescription } from './types.js';

const registry = createDefaultDatasets({
  recordingsDir: repoPath('test/fixtures/sigmf'),
  maxOutputBytes: Number.MAX_SAFE_INTEGER,
  maxFftPoints: Number.MAX_SAFE_INTEGER,
});

/** Valid requests each parameter is tried on (a parameter applies to some of them only). */
const BASES: Record<string, Array<Record<string, unknown>>> = {
  spectrum: [
    { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 2e6, fft_size: 64, averages: 1 },
    { recording: 'two-tones-ci16', frequency_start: 433.5e6, frequency_end: 434.3e6, fft_size: 64 },
  ],
  signal: [
    { frequency: 100e6, sample_rate: 1e6, duration: 0.001 },
    { frequency: 100e6, sample_rate: 1e6, duration: 0.001, modulation: 'am' },
    { frequency: 100e6, sample_rate: 1e6, duration: 0.001, modulation: 'fm' },
    { frequency: 100e6, sample_rate: 1e6, duration: 0.001, modulation: 'bpsk' },
    { recording: 'two-tones-ci16' },
  ],
  spectrogram: [
    { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 2e6, duration: 0.001, fft_size: 64 },
    { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 2e6, duration: 1e7 },
    { recording: 'two-tones-ci16', frequency_start: 433.5e6, frequency_end: 434.3e6, fft_size: 64 },
  ],
};

/**
 * Inclusive bounds that other rules make unreachable, each with the reason (the catalog states the
 * parameter's own range; the server's matching only ever refuses past it).
 */
const UNREACHABLE: Record<string, string> = {
  'spectrum.frequency_end.minimum': 'frequency_end must exceed frequency_start ≥ 0',
  'spectrum.offset.maximum': 'no recording is 1e7 s long',
  'spectrum.duration.maximum': 'no recording is 1e7 s long',
  'signal.offset.maximum': 'no recording is 1e7 s long',
  'spectrogram.frequency_end.minimum': 'frequency_end must exceed frequency_start ≥ 0',
  'spectrogram.frequency_end.maximum':
    'reachable only with frequency_start within sample_rate of 1e12; no base is',
  'spectrogram.offset.maximum': 'no recording is 1e7 s long',
};

/** The message of a refusal naming `name`, or null when `params` pass (or fail on another parameter). */
function refusal(ds: Dataset, params: Record<string, unknown>, name: string): string | null {
  try {
    ds.validate(params);
    return null;
  } catch (err) {
    if (!(err instanceof DatasetError)) throw err;
    return err.code === 'ERR_PARAMS' && err.message.startsWith(`parameters.${name}:`) ? err.message : null;
  }
}

function past(p: ParamDescription, bound: 'minimum' | 'maximum' | 'exclusive_minimum', b: number): number {
  if (bound === 'exclusive_minimum') return b;
  const integer = p.type === 'integer';
  if (bound === 'minimum') return integer ? b - 1 : b - Math.max(1e-9, Math.abs(b) * 1e-9);
  if (p.description?.includes('power of two') === true) return b * 2;
  return integer ? b + 1 : b + Math.max(1e-9, Math.abs(b) * 1e-9);
}

for (const type of ['spectrum', 'signal', 'spectrogram']) {
  const ds = registry.get(type) as Dataset;
  const d = ds.describe?.();
  describe(`${type}: describe() agrees with validate()`, () => {
    it('describes itself, with every parameter validate knows', () => {
      assert.ok(d !== undefined);
      assert.equal(d.type, type);
      for (const base of BASES[type] ?? []) ds.validate(base);
      for (const p of d.parameters) {
        const known = (BASES[type] ?? []).some((base) => {
          try {
            ds.validate({ ...base, [p.name]: Symbol('x') });
            return true;
          } catch (err) {
            return !(err as Error).message.includes('unknown parameter');
          }
        });
        assert.ok(known, `${p.name} is a parameter validate knows`);
      }
    });
    for (const p of d?.parameters ?? []) {
      for (const bound of ['minimum', 'exclusive_minimum', 'maximum'] as const) {
        const b = p[bound];
        if (b === undefined) continue;
        it(`${p.name}: ${bound} ${b}`, () => {
          const bases = BASES[type] ?? [];
          const outside = past(p, bound, b);
          const refusedPast = bases.some(
            (base) => refusal(ds, { ...base, [p.name]: outside }, p.name) !== null,
          );
          assert.ok(refusedPast, `${p.name} = ${outside} (past ${bound} ${b}) is refused naming it`);
          if (bound === 'exclusive_minimum') return;
          const key = `${type}.${p.name}.${bound}`;
          const acceptedAt = bases.some((base) => {
            const ok = refusal(ds, { ...base, [p.name]: b }, p.name) === null;
            // applicable to this base: a value just inside is not refused for another reason of its own
            return ok && refusal(ds, { ...base, [p.name]: outside }, p.name) !== null;
          });
          const why = UNREACHABLE[key];
          if (why !== undefined) {
            assert.ok(
              !acceptedAt,
              `${key} is listed as unreachable (${why}) but validates: drop it from the list`,
            );
            return;
          }
          assert.ok(acceptedAt, `${p.name} = ${b} (at ${bound}) is not refused for its range`);
        });
      }
    }
    it('enums are the validator’s', () => {
      for (const p of d?.parameters ?? []) {
        if (p.enum === undefined) continue;
        for (const v of p.enum)
          assert.ok(
            (BASES[type] ?? []).some((base) => refusal(ds, { ...base, [p.name]: v }, p.name) === null),
            `${p.name} = ${v}`,
          );
        assert.ok(
          (BASES[type] ?? []).some(
            (base) => refusal(ds, { ...base, [p.name]: 'no-such-value' }, p.name) !== null,
          ),
          `${p.name} off its list`,
        );
      }
    });
  });
}
