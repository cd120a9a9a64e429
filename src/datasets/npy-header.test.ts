import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeUnicodeArray,
  npyDataBytes,
  npyHeader,
  npyHeaderText,
  npyItemSize,
  NPY_ARRAY_ALIGN,
} from './npy-header.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

test('golden header: float32 (3,), as np.save writes it', () => {
  // Bytes from NumPy 2.4.6 (np.save of np.arange(3, dtype='<f4')): magic, v1.0, u16 length 0x76,
  // 20 growth spaces + 40 alignment spaces, newline: data at offset 128.
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  const expected = '934e554d5059' + '0100' + '7600' + ascii(dict) + '20'.repeat(60) + '0a';
  const h = npyHeader({ descr: '<f4', shape: [3] });
  assert.equal(hex(h), expected);
  assert.equal(h.length, 128);
});

test('golden header: 0-d unicode scalar has no growth spaces', () => {
  const dict = "{'descr': '<U2', 'fortran_order': False, 'shape': (), }";
  const h = npyHeader({ descr: '<U2', shape: [] });
  assert.equal(
    hex(h),
    '934e554d5059' + '0100' + '7600' + ascii(dict) + '20'.repeat(128 - 10 - dict.length - 1) + '0a',
  );
});

test('shapes are Python tuple reprs; growth spaces follow the first axis (last in Fortran order)', () => {
  assert.match(npyHeaderText({ descr: '<c8', shape: [0] }), /'shape': \(0,\), \}\s{20}$/);
  assert.match(npyHeaderText({ descr: '<f8', shape: [2, 3] }), /'shape': \(2, 3\), \}\s{20}$/);
  assert.match(
    npyHeaderText({ descr: '<f8', shape: [2, 12345], fortranOrder: true }),
    /'fortran_order': True.*\}\s{16}$/,
  );
  assert.match(npyHeaderText({ descr: '<f8', shape: [] }), /\(\), \}$/);
});

test('every header aligns the data on 64 bytes, and an aligned header still gets 64 bytes of padding', () => {
  for (let dims = 0; dims < 40; dims++) {
    const shape = Array.from({ length: dims }, (_, i) => i * 7919);
    const h = npyHeader({ descr: '<i8', shape });
    assert.equal(h.length % NPY_ARRAY_ALIGN, 0);
    const text = npyHeaderText({ descr: '<i8', shape });
    const pad = h.length - 10 - text.length - 1;
    assert.ok(pad >= 1 && pad <= 64, `pad ${pad}`);
    assert.equal(h[h.length - 1], 0x0a);
  }
});

test('a header over 65,535 bytes switches to format 2.0 with a u32 length', () => {
  const fields = Array.from({ length: 4000 }, (_, i) => [`f${String(i).padStart(4, '0')}`, '<f4'] as const);
  const h = npyHeader({ descr: { fields }, shape: [1] });
  assert.equal(h[6], 2);
  assert.equal(h[7], 0);
  const len = new DataView(h.buffer).getUint32(8, true);
  assert.equal(12 + len, h.length);
  assert.ok(len > 0xffff);
  assert.equal(h.length % 64, 0);
  assert.equal(npyItemSize({ fields }), 16000);
});

test('item sizes and data sizes', () => {
  assert.equal(npyItemSize('<c8'), 8);
  assert.equal(npyItemSize('<c16'), 16);
  assert.equal(npyItemSize('<f4'), 4);
  assert.equal(npyItemSize('<i8'), 8);
  assert.equal(npyItemSize('|u1'), 1);
  assert.equal(npyItemSize('<U7'), 28);
  assert.equal(npyDataBytes({ descr: '<c8', shape: [] }), 8);
  assert.equal(npyDataBytes({ descr: '<c8', shape: [0] }), 0);
  assert.equal(npyDataBytes({ descr: '<f8', shape: [2, 3] }), 48);
});

test('invalid dtypes and shapes are refused', () => {
  for (const bad of ['<c4', 'c8', '<f3', '|O', '<U0', '<U', '<i1', '<x4', "<f4'", '']) {
    assert.throws(() => npyItemSize(bad), RangeError, bad);
  }
  assert.throws(() => npyItemSize({ fields: [] }), RangeError);
  assert.throws(() => npyItemSize({ fields: [['a b', '<f4']] }), RangeError);
  assert.throws(
    () =>
      npyItemSize({
        fields: [
          ['a', '<f4'],
          ['a', '<f4'],
        ],
      }),
    RangeError,
  );
  for (const shape of [[-1], [1.5], [Number.NaN], [2 ** 53]]) {
    assert.throws(() => npyHeader({ descr: '<f4', shape }), RangeError, String(shape));
  }
  assert.throws(() => npyDataBytes({ descr: '<c16', shape: [2 ** 30, 2 ** 30] }), RangeError);
});

test('unicode arrays: UTF-32LE, padded to the longest element in code points', () => {
  const { descr, data } = encodeUnicodeArray(['a', 'h\u00e9', '\u{1F600}x']);
  assert.equal(descr, '<U2');
  assert.equal(hex(data), '61000000' + '00000000' + '68000000' + 'e9000000' + '00f60100' + '78000000');
  assert.equal(encodeUnicodeArray(['']).descr, '<U1');
  assert.equal(hex(encodeUnicodeArray(['']).data), '00000000');
});
