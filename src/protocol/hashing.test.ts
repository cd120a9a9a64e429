import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSha256, isSha256Hex, wrapDigestHash } from './hashing.js';

const nodeHex = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');

describe('SHA-256', () => {
  it('pure: FIPS 180-4 test vectors', () => {
    const vectors: [string, string][] = [
      ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [
        'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      ],
    ];
    for (const [text, hex] of vectors) {
      const h = createSha256();
      h.update(new TextEncoder().encode(text));
      assert.equal(h.digest(), hex, text);
    }
  });

  it('pure: matches node:crypto on every padding boundary, fed in uneven pieces', () => {
    const data = new Uint8Array(randomBytes(70_000));
    for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
      const h = createSha256();
      for (let i = 0, step = 1; i < n; i += step, step = ((step * 7) % 97) + 1)
        h.update(data.subarray(i, Math.min(n, i + step)));
      assert.equal(h.digest(), nodeHex(data.subarray(0, n)), `length ${n}`);
    }
  });

  it('copy() forks the state: both continue independently', () => {
    for (const make of [createSha256, () => wrapDigestHash(createHash('sha256'))]) {
      const a = make();
      a.update(new TextEncoder().encode('hello '));
      const b = a.copy();
      a.update(new TextEncoder().encode('world'));
      b.update(new TextEncoder().encode('there'));
      assert.equal(a.digest(), nodeHex(new TextEncoder().encode('hello world')));
      assert.equal(b.digest(), nodeHex(new TextEncoder().encode('hello there')));
    }
  });

  it('pure: refuses use after digest (a programmer error)', () => {
    const h = createSha256();
    h.digest();
    assert.throws(() => h.update(new Uint8Array(1)), /after digest/);
    assert.throws(() => h.digest(), /twice/);
  });

  it('recognises wire-form digests (64 lowercase hex)', () => {
    assert.equal(isSha256Hex(nodeHex(new Uint8Array(0))), true);
    assert.equal(isSha256Hex('AB'.repeat(32)), false);
    assert.equal(isSha256Hex('ab'.repeat(31)), false);
  });
});
