import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, crc32Update } from './crc32.js';
import { TransferError } from './errors.js';
import {
  DEFAULT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  SEED_CHUNK_BYTES,
  checkFrameHeader,
  decodeFrame,
  encodeFrame,
  readFrameCrc,
  writeFrameHeader,
} from './frames.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const hello = new TextEncoder().encode('hello');

// docs/protocol.md §2, golden frame: offset 65536, payload "hello", CRC-32 0x3610a686.
const GOLDEN = '01000000 0000000000010000 3610a686 68656c6c6f';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TransferError, `expected a TransferError, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

describe('CRC-32 (docs/protocol.md §2)', () => {
  it('gives the golden value for "hello", like zlib', () => {
    assert.equal(crc32(hello), 0x3610a686);
    assert.equal(zlibCrc32(hello), 0x3610a686);
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });

  it('matches zlib on every length 0..100 and on unaligned views', () => {
    const data = new Uint8Array(4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 17) & 0xff;
    for (let n = 0; n <= 100; n++) {
      for (const start of [0, 1, 3, 7]) {
        const v = data.subarray(start, start + n);
        assert.equal(crc32(v), zlibCrc32(v), `length ${n} at ${start}`);
      }
    }
    assert.equal(crc32(data), zlibCrc32(data));
  });

  it('continues across pieces', () => {
    const data = new Uint8Array(1000).map((_, i) => i & 0xff);
    assert.equal(crc32Update(crc32Update(0, data.subarray(0, 333)), data.subarray(333)), crc32(data));
  });
});

describe('data frames (docs/protocol.md §2)', () => {
  it('encodes the golden frame', () => {
    assert.equal(hex(encodeFrame(65536, hello, crc32)), GOLDEN.replace(/\s+/g, ''));
  });

  it('writes the header in place, leaving the payload alone', () => {
    const buf = new Uint8Array(FRAME_HEADER_BYTES + 5).fill(0xee);
    buf.set(hello, FRAME_HEADER_BYTES);
    writeFrameHeader(buf, 65536, 0x3610a686);
    assert.equal(hex(buf), GOLDEN.replace(/\s+/g, ''));
    const at = new Uint8Array(4 + FRAME_HEADER_BYTES + 5);
    at.set(hello, 4 + FRAME_HEADER_BYTES);
    writeFrameHeader(at, 65536, 0x3610a686, 4);
    assert.equal(hex(at.subarray(4)), GOLDEN.replace(/\s+/g, ''));
  });

  it('decodes the golden frame and checks its CRC', () => {
    const f = decodeFrame(bytes(GOLDEN), crc32, DEFAULT_CHUNK_BYTES);
    assert.equal(f.offset, 65536);
    assert.equal(f.crc32, 0x3610a686);
    assert.equal(new TextDecoder().decode(f.payload), 'hello');
  });

  it('round-trips offsets up to 2^53 - 1 (u64 big-endian)', () => {
    for (const off of [0, 1, 0xffffffff, 0x100000000, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      const frame = encodeFrame(off, hello, crc32);
      assert.equal(checkFrameHeader(frame), off);
      assert.equal(readFrameCrc(frame), 0x3610a686);
    }
    assert.equal(hex(encodeFrame(Number.MAX_SAFE_INTEGER, hello, crc32).subarray(4, 12)), '001fffffffffffff');
  });

  it('refuses an empty payload or a bad offset when encoding (programmer errors)', () => {
    assert.throws(() => encodeFrame(0, new Uint8Array(0), crc32), /empty payload/);
    assert.throws(() => encodeFrame(-1, hello, crc32), /bad offset/);
    assert.throws(() => encodeFrame(2 ** 53, hello, crc32), /bad offset/);
  });

  describe('corrupted variants of the golden frame', () => {
    const cases: [string, string, string][] = [
      ['empty message', '', 'ERR_FRAME_SHORT'],
      ['header only, no payload', '01000000 0000000000010000 3610a686', 'ERR_FRAME_SHORT'],
      ['kind 0x02', '02000000 0000000000010000 3610a686 68656c6c6f', 'ERR_FRAME_KIND'],
      ['kind 0x00', '00000000 0000000000010000 3610a686 68656c6c6f', 'ERR_FRAME_KIND'],
      ['reserved byte 1', '01010000 0000000000010000 3610a686 68656c6c6f', 'ERR_FRAME_RESERVED'],
      ['reserved byte 3', '01000001 0000000000010000 3610a686 68656c6c6f', 'ERR_FRAME_RESERVED'],
      ['offset 2^53', '01000000 0020000000000000 3610a686 68656c6c6f', 'ERR_FRAME_OFFSET'],
      ['offset 2^64 - 1', '01000000 ffffffffffffffff 3610a686 68656c6c6f', 'ERR_FRAME_OFFSET'],
      ['payload byte flipped', '01000000 0000000000010000 3610a686 68656c6c6e', 'ERR_FRAME_CRC'],
      ['crc field flipped', '01000000 0000000000010000 3610a687 68656c6c6f', 'ERR_FRAME_CRC'],
      ['payload truncated', '01000000 0000000000010000 3610a686 68656c6c', 'ERR_FRAME_CRC'],
    ];
    for (const [name, h, code] of cases) {
      it(`${name} → ${code}`, () => {
        assert.equal(
          codeOf(() => decodeFrame(bytes(h), crc32, DEFAULT_CHUNK_BYTES)),
          code,
        );
      });
    }

    it('payload larger than chunk_size → ERR_FRAME_SIZE', () => {
      assert.equal(
        codeOf(() => decodeFrame(bytes(GOLDEN), crc32, 4)),
        'ERR_FRAME_SIZE',
      );
    });

    it('a CRC error names the offset and both values (docs/protocol.md §3.6)', () => {
      const bad = bytes('01000000 0000000000010000 00000000 68656c6c6f');
      assert.throws(() => decodeFrame(bad, crc32), {
        code: 'ERR_FRAME_CRC',
        message: 'frame at offset 65536: crc32 0x3610a686 != 0x00000000',
      });
    });
  });

  it('keeps every frame below 65,536 bytes at the default chunk size (an older pion closes on exactly 65,536)', () => {
    assert.ok(FRAME_HEADER_BYTES + DEFAULT_CHUNK_BYTES < 65536);
    assert.equal(DEFAULT_CHUNK_BYTES % 64, 0);
    assert.equal(SEED_CHUNK_BYTES, 16384);
  });
});
