/**
 * The catalog matching rule (docs/api.md §12) on golden cases, the catalog schema's bounds, and the
 * summary of what is on offer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CATALOG_LIMITS,
  Catalog,
  createChecker,
  matchCatalog,
  offerSummary,
  type ProviderWire,
} from './index.js';

const catalog: Catalog = {
  types: [
    {
      type: 'signal',
      parameters: [
        { name: 'frequency', type: 'number', minimum: 0, maximum: 1e12, unit: 'Hz', required: false },
        { name: 'duration', type: 'number', exclusive_minimum: 0, maximum: 1e7, required: false },
        { name: 'fft_size', type: 'integer', minimum: 16, maximum: 1 << 20, required: false },
        { name: 'modulation', type: 'string', enum: ['tone', 'am'], required: false },
        { name: 'recording', type: 'string', required: false },
        { name: 'flag', type: 'boolean', required: false },
      ],
    },
    { type: 'battery-report', parameters: [] },
  ],
  recordings: [
    {
      name: 'two-tones',
      sample_rate: 2e6,
      center_frequency: 433.9e6,
      span: 2e6,
      duration: 1,
      datatype: 'ci16_le',
    },
  ],
};

describe('matchCatalog', () => {
  const golden: Array<[string, string, Record<string, unknown>, string | null]> = [
    ['in range', 'signal', { frequency: 1e8, duration: 1 }, null],
    ['no parameters at all', 'signal', {}, null],
    ['at the inclusive bounds', 'signal', { frequency: 0, duration: 1e7, fft_size: 16 }, null],
    ['the recording it has', 'signal', { recording: 'two-tones' }, null],
    ['an enum value', 'signal', { modulation: 'am' }, null],
    ['a boolean', 'signal', { flag: true }, null],
    ['a type with no parameter list takes anything', 'battery-report', { whatever: [1] }, null],
    ['a type not served', 'spectrum', {}, 'does not serve "spectrum"'],
    ['below minimum', 'signal', { frequency: -1 }, 'parameters.frequency: -1 is below 0 Hz'],
    ['above maximum', 'signal', { duration: 1e8 }, 'parameters.duration: 100000000 is above 10000000'],
    ['at the exclusive minimum', 'signal', { duration: 0 }, 'parameters.duration: must be above 0, got 0'],
    ['an integer that is not', 'signal', { fft_size: 16.5 }, 'parameters.fft_size: must be an integer'],
    ['a numeric string', 'signal', { frequency: '1e8' }, 'parameters.frequency: must be a number'],
    [
      'a value off the enum',
      'signal',
      { modulation: 'fm' },
      'parameters.modulation: must be one of tone, am',
    ],
    ['a string for a boolean', 'signal', { flag: 'yes' }, 'parameters.flag: must be a boolean'],
    ['an unknown parameter', 'signal', { typo: 1 }, 'signal takes no parameter "typo"'],
    ['a recording it lacks', 'signal', { recording: 'other' }, 'has no recording "other"'],
    [
      'a recording that is not a string',
      'battery-report',
      { recording: 3 },
      'parameters.recording: must be a string',
    ],
  ];
  for (const [what, type, params, expected] of golden) {
    it(what, () => assert.equal(matchCatalog(catalog, type, params), expected));
  }
});

describe('Catalog schema', () => {
  const check = createChecker(Catalog);
  it('takes the golden catalog', () => assert.ok(check.check(catalog), check.explain(catalog)));
  it('refuses more recordings than the limit, and unbounded strings', () => {
    const rec = catalog.recordings[0];
    const many = { types: [], recordings: Array.from({ length: CATALOG_LIMITS.recordings + 1 }, () => rec) };
    assert.equal(check.check(many), false);
    const longName = { types: [], recordings: [{ ...rec, name: 'x'.repeat(CATALOG_LIMITS.nameLength + 1) }] };
    assert.equal(check.check(longName), false);
    const huge = {
      types: [
        { type: 'signal', parameters: [{ name: 'a', type: 'number', required: true, maximum: Infinity }] },
      ],
      recordings: [],
    };
    assert.equal(check.check(huge), false, 'non-finite bounds are refused');
  });
});

describe('offerSummary', () => {
  const p = (over: Partial<ProviderWire>): ProviderWire => ({
    user_id: '1',
    username: 'a',
    online: true,
    last_seen: '',
    request_types: [],
    catalog: null,
    catalog_updated_at: '',
    ...over,
  });
  it('lists online providers with their types and recordings, and shortens long lists', () => {
    const recs = Array.from({ length: 12 }, (_, i) => ({
      ...(catalog.recordings[0] as Catalog['recordings'][0]),
      name: `r${i}`,
    }));
    const text = offerSummary([
      p({ username: 'old', request_types: ['spectrum'] }),
      p({ username: 'new', catalog: { types: catalog.types, recordings: recs } }),
      p({ username: 'gone', online: false, catalog }),
    ]);
    assert.equal(
      text,
      'old: spectrum (no catalog) | new: signal, battery-report; recordings: r0, r1, r2, r3, r4, r5, r6, r7, r8, r9 (+2 more)',
    );
  });
  it('says when nobody is online', () =>
    assert.equal(offerSummary([p({ online: false })]), 'no provider is online'));
});
