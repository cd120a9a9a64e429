/**
 * Property-based tests of what the datasets area reads from outside: SigMF `.sigmf-meta` documents (a
 * recordings folder is the operator's, but its files come from anywhere), the request parameters a
 * consumer sends (`validate` of every request type), and the `.npy` headers the writer builds from them.
 * Every input gives a result that satisfies the module's contract or a `DatasetError` with a documented
 * code (docs/errors.md "Datasets") — never a TypeError from deep inside.
 * Runs: test/fuzz/fuzz.ts (`SDRLINK_FUZZ_RUNS`, `SDRLINK_FUZZ_SEED`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createDefaultDatasets } from '../../src/datasets/index.js';
import { NPY_ARRAY_ALIGN, NPY_MAGIC, npyHeader, type NpyArraySpec } from '../../src/datasets/npy-header.js';
import { interpretMeta, parseDatatype, type RecordingInfo } from '../../src/datasets/sigmf.js';
import { DatasetError, type DatasetErrorCode } from '../../src/datasets/types.js';
import { checkFileName } from '../../src/protocol/file-name.js';
import { fuzzParams, hostileJson, mutatedText } from './fuzz.js';

function assertRefused(err: unknown, codes: readonly DatasetErrorCode[]): void {
  assert.ok(
    err instanceof DatasetError,
    `expected a DatasetError, got ${err instanceof Error ? err.stack : String(err)}`,
  );
  assert.ok(codes.includes(err.code), `code ${err.code} not one of ${codes.join(', ')}`);
}

const DATATYPES = [
  'cf32_le',
  'cf64_be',
  'ci16_le',
  'ci8',
  'cu8',
  'rf32_le',
  'ri16_be',
  'cu16_le',
  'ri32_le',
  'ru8',
];
const GLOBAL_KEYS = [
  'core:datatype',
  'core:sample_rate',
  'core:num_channels',
  'core:metadata_only',
  'core:dataset',
  'core:frequency',
  'core:trailing_bytes',
  'core:description',
];
const CAPTURE_KEYS = ['core:sample_start', 'core:frequency', 'core:header_bytes', 'core:datetime'];

const validMeta = fc
  .record({
    datatype: fc.constantFrom(...DATATYPES),
    rate: fc.double({ min: 1, max: 1e9, noNaN: true }),
    freq: fc.double({ min: 0, max: 6e9, noNaN: true }),
    starts: fc.uniqueArray(fc.nat({ max: 1000 }), { maxLength: 3 }),
    header: fc.nat({ max: 64 }),
  })
  .map(({ datatype, rate, freq, starts, header }) => ({
    global: {
      'core:datatype': datatype,
      'core:sample_rate': rate,
      'core:frequency': freq,
      'core:version': '1.0.0',
    },
    captures: [0, ...starts.filter((s) => s > 0).sort((a, b) => a - b)].map((s, i) => ({
      'core:sample_start': s,
      ...(i === 0 ? { 'core:header_bytes': header, 'core:datetime': '2024-01-01T00:00:00Z' } : {}),
    })),
    annotations: [],
  }));

/** One change a hostile file could carry: a key dropped, replaced by any JSON, or a section replaced. */
const mutatedMeta = fc
  .tuple(
    validMeta,
    fc.constantFrom('global', 'capture', 'root'),
    fc.constantFrom(...GLOBAL_KEYS, ...CAPTURE_KEYS, 'global', 'captures'),
    hostileJson([...GLOBAL_KEYS, ...CAPTURE_KEYS]),
    fc.boolean(),
  )
  .map(([meta, where, key, value, drop]) => {
    const doc = structuredClone(meta) as Record<string, any>;
    const target: Record<string, unknown> =
      where === 'global' ? doc['global'] : where === 'capture' ? doc['captures'][0] : doc;
    if (drop) delete target[key];
    else target[key] = value;
    return doc;
  });

function assertValidRecording(info: RecordingInfo, dataBytes: number): void {
  const f = parseDatatype(info.datatype);
  assert.ok(f !== undefined);
  assert.deepEqual(info.format, f);
  assert.ok(Number.isFinite(info.sampleRate) && info.sampleRate > 0);
  assert.ok(Number.isSafeInteger(info.samples) && info.samples >= 1);
  assert.ok(info.samples * f.bytesPerSample <= dataBytes);
  assert.equal(info.duration, info.samples / info.sampleRate);
  assert.ok(Number.isFinite(info.centerFrequency));
  assert.ok(info.captures.length >= 1 && info.captures[0]?.sampleStart === 0);
  for (let i = 1; i < info.captures.length; i++)
    assert.ok((info.captures[i]?.sampleStart ?? 0) > (info.captures[i - 1]?.sampleStart ?? 0));
  assert.ok(info.captures.every((c) => c.sampleStart < info.samples && Number.isSafeInteger(c.headerBytes)));
  assert.ok(info.dataPath.startsWith('/recordings/') && !info.dataPath.slice(12).includes('/'));
}

function interpretOrRefuse(text: string, dataBytes: number): void {
  let info: RecordingInfo;
  try {
    info = interpretMeta('rec', '/recordings', text, () => ({ size: dataBytes, mtimeMs: 1 }));
  } catch (err) {
    assertRefused(err, ['ERR_SOURCE']);
    return;
  }
  assertValidRecording(info, dataBytes);
}

const dataBytes = fc.oneof(fc.nat({ max: 1 << 20 }), fc.constantFrom(0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER));

describe('fuzz: SigMF metadata (datasets/sigmf.ts)', () => {
  it('accepts a valid document with a large enough data file', () => {
    fc.assert(
      fc.property(validMeta, (meta) => {
        const info = interpretMeta('rec', '/recordings', JSON.stringify(meta), () => ({
          size: 1 << 20,
          mtimeMs: 1,
        }));
        assertValidRecording(info, 1 << 20);
        assert.equal(info.datatype, meta.global['core:datatype']);
      }),
      fuzzParams(300),
    );
  });

  it('gives a valid recording or ERR_SOURCE for arbitrary JSON, mutated documents and corrupted text', () => {
    const text = fc.oneof(
      hostileJson(['global', 'captures', ...GLOBAL_KEYS]).map((v) => JSON.stringify(v) ?? 'null'),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      mutatedMeta.map((d) => JSON.stringify(d)),
      mutatedText(validMeta.map((d) => JSON.stringify(d))),
    );
    fc.assert(fc.property(text, dataBytes, interpretOrRefuse), fuzzParams(3000));
  });
});

describe('fuzz: request parameters (every request type’s validate)', () => {
  const registry = createDefaultDatasets({ recordingsDir: join('/nonexistent', 'recordings') });
  for (const type of registry.types()) {
    const ds = registry.get(type)!;
    const names = ds.describe?.().parameters.map((p) => p.name) ?? [];
    it(`${type}: accepts parameters with a safe file name and a size estimate, or refuses them with ERR_PARAMS / ERR_TOO_LARGE`, () => {
      const params = fc.oneof(
        hostileJson(names),
        fc.dictionary(fc.constantFrom(...names, 'extra'), hostileJson(names), { maxKeys: names.length + 1 }),
        fc.dictionary(
          fc.constantFrom(...names),
          fc.oneof(
            fc.integer({ min: -10, max: 1e9 }),
            fc.double({ min: -1e10, max: 1e10 }),
            fc.string({ maxLength: 8 }),
          ),
          { maxKeys: names.length },
        ),
      );
      fc.assert(
        fc.property(params, (p) => {
          // parameters arrive as JSON: parse what the consumer would have sent
          const wire = JSON.parse(JSON.stringify(p) ?? 'null') as unknown;
          let v: unknown;
          try {
            v = ds.validate(wire);
          } catch (err) {
            assertRefused(err, ['ERR_PARAMS', 'ERR_TOO_LARGE', 'ERR_SOURCE']);
            return;
          }
          checkFileName(ds.fileName(v));
          const est = ds.estimateBytes(v);
          assert.ok(Number.isSafeInteger(est) && est > 0, `estimate ${est}`);
        }),
        fuzzParams(1000),
      );
    });
  }
});

/** The NEP 1 header layout, read back by the test: magic, version, length, dict, padding, newline. */
function readHeader(b: Uint8Array): string {
  assert.deepEqual(b.subarray(0, 6), NPY_MAGIC);
  assert.ok(b[6] === 1 || b[6] === 2);
  assert.equal(b[7], 0);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lenBytes = b[6] === 1 ? 2 : 4;
  const hlen = lenBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  assert.equal(8 + lenBytes + hlen, b.length);
  assert.equal(b.length % NPY_ARRAY_ALIGN, 0);
  assert.equal(b[b.length - 1], 0x0a);
  const text = String.fromCharCode(...b.subarray(8 + lenBytes, b.length - 1));
  assert.ok(/^[\x20-\x7e]*$/.test(text), 'ASCII dict');
  return text.trimEnd();
}

describe('fuzz: .npy headers (datasets/npy-header.ts)', () => {
  const plain = fc.oneof(
    fc.constantFrom('<c8', '<c16', '<f4', '<f8', '<f2', '<i8', '>i4', '|u1', '|b1', '<U12', '<u2'),
    fc.string({ maxLength: 6 }),
    fc
      .tuple(
        fc.constantFrom('<', '>', '|', '='),
        fc.constantFrom('f', 'c', 'i', 'u', 'b', 'U', 'S'),
        fc.nat({ max: 40 }),
      )
      .map(([o, k, n]) => `${o}${k}${n}`),
  );
  const descr = fc.oneof(
    plain,
    fc
      .array(
        fc.tuple(fc.oneof(fc.string({ maxLength: 10 }), fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/)), plain),
        { maxLength: 4 },
      )
      .map((fields) => ({ fields })),
  );
  const dim = fc.oneof(
    fc.nat({ max: 100_000 }),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(2 ** 53, 0.5, NaN, Infinity, 2 ** 31),
  );
  const spec = fc.record(
    { descr, shape: fc.array(dim, { maxLength: 5 }), fortranOrder: fc.boolean() },
    { requiredKeys: ['descr', 'shape'] },
  );

  it('writes a NEP 1 header that states the spec, or refuses the spec with a RangeError', () => {
    fc.assert(
      fc.property(spec, (s: NpyArraySpec) => {
        let h: Uint8Array;
        try {
          h = npyHeader(s);
        } catch (err) {
          assert.ok(err instanceof RangeError, `expected a RangeError, got ${String(err)}`);
          return;
        }
        const text = readHeader(h);
        const d =
          typeof s.descr === 'string'
            ? `'${s.descr}'`
            : `[${s.descr.fields.map(([n, t]) => `('${n}', '${t}')`).join(', ')}]`;
        const shape = s.shape.length === 1 ? `(${s.shape[0]},)` : `(${s.shape.join(', ')})`;
        assert.equal(
          text,
          `{'descr': ${d}, 'fortran_order': ${s.fortranOrder === true ? 'True' : 'False'}, 'shape': ${shape}, }`,
        );
      }),
      fuzzParams(2000),
    );
  });
});
