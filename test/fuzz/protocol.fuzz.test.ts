/**
 * Property-based tests of the `sdrlink/1` codecs (docs/protocol.md §2, §3, §5) on what a hostile peer can
 * send: arbitrary, corrupted, truncated and extended frames; arbitrary JSON and mutated control messages;
 * arbitrary file names. Every input is either decoded to a value that satisfies the spec or refused with a
 * `TransferError` of the documented code — never another exception, never a hang.
 * Runs: test/fuzz/fuzz.ts (`SDRLINK_FUZZ_RUNS`, `SDRLINK_FUZZ_SEED`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { encodeControl, parseControl, type ControlMessage } from '../../src/protocol/codec.js';
import { crc32, crc32Update } from '../../src/protocol/crc32.js';
import { TransferError, type TransferErrorCode } from '../../src/protocol/errors.js';
import { checkFileName, MAX_FILE_NAME_BYTES } from '../../src/protocol/file-name.js';
import {
  FRAME_HEADER_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CONTROL_BYTES,
  decodeFrame,
  encodeFrame,
} from '../../src/protocol/frames.js';
import { fuzzParams, hostileJson, mutatedText, thrown } from './fuzz.js';

function assertRefused(err: unknown, codes: readonly TransferErrorCode[]): void {
  assert.ok(err instanceof TransferError, `expected a TransferError, got ${String(err)}`);
  assert.ok(codes.includes(err.code), `code ${err.code} not one of ${codes.join(', ')}`);
  assert.ok(err.message.length > 0 && err.message.length < 400, 'a short, non-empty message');
}

const offsetArb = fc.oneof(
  fc.maxSafeNat(),
  fc.nat(),
  fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
);
const payloadArb = fc.uint8Array({ minLength: 1, maxLength: 300 });

describe('fuzz: data frames (protocol.md §2)', () => {
  it('round-trips every valid frame, and the pure CRC-32 agrees with zlib on any split', () => {
    fc.assert(
      fc.property(offsetArb, payloadArb, fc.nat(), (offset, payload, split) => {
        const frame = encodeFrame(offset, payload, crc32);
        assert.equal(frame.length, FRAME_HEADER_BYTES + payload.length);
        const d = decodeFrame(frame, crc32, payload.length);
        assert.equal(d.offset, offset);
        assert.deepEqual(d.payload, payload);
        assert.equal(d.crc32, zlibCrc32(payload));
        const at = split % (payload.length + 1);
        assert.equal(crc32Update(crc32Update(0, payload.subarray(0, at)), payload.subarray(at)), d.crc32);
      }),
      fuzzParams(500),
    );
  });

  it('refuses a frame with one byte changed with the code of the field hit; an offset byte can only move the frame', () => {
    fc.assert(
      fc.property(
        offsetArb,
        payloadArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (offset, payload, p, x) => {
          const frame = encodeFrame(offset, payload, crc32);
          const at = p % frame.length;
          const bad = frame.slice();
          bad[at] = (bad[at] as number) ^ x;
          let decoded;
          try {
            decoded = decodeFrame(bad, crc32, payload.length);
          } catch (err) {
            const expected: TransferErrorCode =
              at === 0
                ? 'ERR_FRAME_KIND'
                : at < 4
                  ? 'ERR_FRAME_RESERVED'
                  : at < 12
                    ? 'ERR_FRAME_OFFSET'
                    : 'ERR_FRAME_CRC';
            assertRefused(err, [expected]);
            return;
          }
          // The offset is not covered by the CRC (§2): a changed offset byte decodes to another offset, with
          // the payload intact; the receiver refuses a frame at an offset it did not expect.
          assert.ok(at >= 4 && at < 12, `a change at byte ${at} was accepted`);
          assert.notEqual(decoded.offset, offset);
          assert.deepEqual(decoded.payload, payload);
        },
      ),
      fuzzParams(1000),
    );
  });

  it('refuses a truncated or extended frame (ERR_FRAME_SHORT, ERR_FRAME_SIZE, ERR_FRAME_CRC)', () => {
    fc.assert(
      fc.property(
        offsetArb,
        payloadArb,
        fc.oneof(fc.nat(), fc.constant(-1)),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.boolean(),
        (offset, payload, cut, extra, extend) => {
          const frame = encodeFrame(offset, payload, crc32);
          const bad = extend
            ? Uint8Array.from([...frame, ...extra])
            : frame.subarray(0, cut === -1 ? frame.length - 1 : cut % frame.length);
          // with chunk_size = the payload length an extension is too large; without, its CRC is wrong
          const err = thrown(() =>
            decodeFrame(bad, crc32, extend && cut % 2 === 0 ? payload.length : undefined),
          );
          assertRefused(
            err,
            extend
              ? ['ERR_FRAME_SIZE', 'ERR_FRAME_CRC']
              : bad.length <= FRAME_HEADER_BYTES
                ? ['ERR_FRAME_SHORT']
                : ['ERR_FRAME_CRC'],
          );
        },
      ),
      fuzzParams(1000),
    );
  });

  it('decodes arbitrary bytes into a frame that satisfies §2, or refuses them with a §5 frame code', () => {
    const header = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      // a plausible header (kind 1, zero reserved bytes) before arbitrary bytes reaches the deeper checks
      fc.uint8Array({ minLength: 8, maxLength: 40 }).map((b) => Uint8Array.from([1, 0, 0, 0, ...b])),
    );
    fc.assert(
      fc.property(header, fc.option(fc.integer({ min: 1, max: MAX_CHUNK_BYTES })), (bytes, max) => {
        let d;
        try {
          d = decodeFrame(bytes, crc32, max ?? undefined);
        } catch (err) {
          assertRefused(err, [
            'ERR_FRAME_SHORT',
            'ERR_FRAME_KIND',
            'ERR_FRAME_RESERVED',
            'ERR_FRAME_OFFSET',
            'ERR_FRAME_SIZE',
            'ERR_FRAME_CRC',
          ]);
          return;
        }
        assert.ok(Number.isSafeInteger(d.offset) && d.offset >= 0);
        assert.ok(d.payload.length >= 1 && (max === null || d.payload.length <= max));
        assert.equal(zlibCrc32(d.payload), d.crc32);
      }),
      fuzzParams(2000),
    );
  });
});

const hex64 = fc.stringMatching(/^[0-9a-fA-F]{64}$/);
const count = fc.oneof(fc.maxSafeNat(), fc.nat({ max: 1 << 20 }));
const controlArb: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record({ type: fc.constant('file-metadata' as const), filename: fc.string(), size: count }),
  fc.record({
    type: fc.constant('file-metadata' as const),
    filename: fc.string(),
    size: count,
    protocol: fc.constant('sdrlink/1' as const),
    sha256: hex64,
    chunk_size: fc.integer({ min: 1, max: MAX_CHUNK_BYTES }),
  }),
  fc.record({ type: fc.constant('resume' as const), offset: fc.constant(0) }),
  fc.record({
    type: fc.constant('resume' as const),
    offset: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    prefix_sha256: hex64,
  }),
  fc.record({ type: fc.constant('start' as const), offset: count }),
  fc.record({ type: fc.constant('file-complete' as const), size: count, sha256: hex64, frames: count }),
  fc.record({ type: fc.constant('ack' as const), sha256: hex64, size: count }),
  fc.record({
    type: fc.constant('error' as const),
    code: fc.string({ minLength: 1, maxLength: 64 }),
    message: fc.string({ maxLength: 2000 }),
  }),
);

const FIELDS = [
  'type',
  'filename',
  'size',
  'protocol',
  'sha256',
  'chunk_size',
  'offset',
  'prefix_sha256',
  'frames',
  'code',
  'message',
];
const TYPES = ['file-metadata', 'resume', 'start', 'file-complete', 'ack', 'error'];

/** What §3 promises of a parsed message, whatever the input was. */
function assertValidControl(m: ControlMessage): void {
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const isSha = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  switch (m.type) {
    case 'file-metadata':
      assert.ok(typeof m.filename === 'string' && isCount(m.size));
      if (m.protocol !== undefined) {
        assert.equal(m.protocol, 'sdrlink/1');
        assert.ok(isSha(m.sha256));
        assert.ok(
          isCount(m.chunk_size) &&
            (m.chunk_size as number) >= 1 &&
            (m.chunk_size as number) <= MAX_CHUNK_BYTES,
        );
      }
      break;
    case 'resume':
      assert.ok(isCount(m.offset));
      assert.equal(m.prefix_sha256 === undefined, m.offset === 0);
      if (m.offset > 0) assert.ok(isSha(m.prefix_sha256));
      break;
    case 'start':
      assert.ok(isCount(m.offset));
      break;
    case 'file-complete':
      assert.ok(isCount(m.size) && isCount(m.frames) && isSha(m.sha256));
      break;
    case 'ack':
      assert.ok(isCount(m.size) && isSha(m.sha256));
      break;
    case 'error':
      assert.ok(m.code.length >= 1 && m.code.length <= 64 && typeof m.message === 'string');
      break;
  }
  // a parsed message is stable: encoding and parsing it again gives it back (error text cut at 2000)
  if (m.type !== 'error' || m.message.length <= 2000) assert.deepEqual(parseControl(encodeControl(m)), m);
}

function parseOrRefuse(text: string): void {
  let m: ControlMessage;
  try {
    m = parseControl(text);
  } catch (err) {
    assertRefused(err, ['ERR_MESSAGE_INVALID', 'ERR_MESSAGE_TYPE']);
    return;
  }
  assertValidControl(m);
}

describe('fuzz: control messages (protocol.md §3)', () => {
  it('round-trips every valid message (sha256 normalised to lower case)', () => {
    fc.assert(
      fc.property(controlArb, (m) => {
        const back = parseControl(encodeControl(m));
        const norm = JSON.parse(
          JSON.stringify(m, (k, v: unknown) =>
            (k === 'sha256' || k === 'prefix_sha256') && typeof v === 'string' ? v.toLowerCase() : v,
          ),
        );
        assert.deepEqual(back, norm);
        assertValidControl(back);
      }),
      fuzzParams(1000),
    );
  });

  it('parses arbitrary JSON into a valid message or refuses it with ERR_MESSAGE_INVALID / ERR_MESSAGE_TYPE', () => {
    const withType = fc
      .tuple(
        fc.constantFrom(...TYPES),
        fc.dictionary(fc.constantFrom(...FIELDS), hostileJson(FIELDS), { maxKeys: 7 }),
      )
      .map(([type, o]) => ({ ...o, type }));
    fc.assert(
      fc.property(fc.oneof(hostileJson(FIELDS), withType, fc.jsonValue()), (v) =>
        parseOrRefuse(JSON.stringify(v) ?? 'null'),
      ),
      fuzzParams(2000),
    );
  });

  it('parses or refuses every mutation of a valid message (field dropped, replaced, added; text cut or changed)', () => {
    const objectMutation = fc
      .tuple(
        controlArb,
        fc.constantFrom(...FIELDS),
        hostileJson(FIELDS),
        fc.constantFrom('drop', 'replace', 'retype'),
      )
      .map(([m, field, value, how]) => {
        const o: Record<string, unknown> = { ...m };
        if (how === 'drop') delete o[field];
        else if (how === 'replace') o[field] = value;
        else o['type'] = typeof value === 'string' ? value : TYPES[field.length % TYPES.length];
        return JSON.stringify(o);
      });
    fc.assert(
      fc.property(fc.oneof(objectMutation, mutatedText(controlArb.map(encodeControl))), parseOrRefuse),
      fuzzParams(3000),
    );
  });

  it('refuses arbitrary text and anything over 64 KiB with ERR_MESSAGE_INVALID', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        parseOrRefuse,
      ),
      fuzzParams(1000),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.constantFrom('a', 'é', '€', '😀'), (extra, ch) => {
        // a valid message padded past MAX_CONTROL_BYTES in UTF-8, whatever the character width
        const pad = ch.repeat(Math.ceil(MAX_CONTROL_BYTES / new TextEncoder().encode(ch).length) + extra);
        const text = JSON.stringify({ type: 'error', code: 'ERR_PEER', message: pad });
        assertRefused(
          thrown(() => parseControl(text)),
          ['ERR_MESSAGE_INVALID'],
        );
      }),
      fuzzParams(20),
    );
  });
});

describe('fuzz: file names (protocol.md §5 ERR_FILENAME)', () => {
  it('accepts a name only when it is a safe base name, and refuses anything else with ERR_FILENAME', () => {
    const name = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(
        '.',
        '..',
        'a/b',
        'a\\b',
        'evil\u202egpj.exe',
        '\u200b',
        'x'.repeat(256),
        'é'.repeat(128),
      ),
    );
    fc.assert(
      fc.property(name, (n) => {
        const err = thrown(() => checkFileName(n));
        if (err !== undefined) {
          assertRefused(err, ['ERR_FILENAME']);
          return;
        }
        assert.ok(n.length > 0 && n !== '.' && n !== '..' && !/[/\\]/.test(n));
        // eslint-disable-next-line no-control-regex
        assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(n));
        assert.ok(new TextEncoder().encode(n).length <= MAX_FILE_NAME_BYTES);
        assert.ok(!/\p{Cs}/u.test(n), 'no lone surrogate');
      }),
      fuzzParams(2000),
    );
  });
});
