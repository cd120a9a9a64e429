/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320 — the zlib one), as used by the §2 frame header
 * (docs/protocol.md §2). In Node, inject `zlib.crc32` (native, much faster); {@link crc32} is the pure
 * slice-by-8 fallback for the browser.
 */

/** Computes the CRC-32 of `data`, as an unsigned 32-bit number. Node: `(d) => zlib.crc32(d)`. */
export type Crc32 = (data: Uint8Array) => number;

let tables: Uint32Array | undefined;

/** Eight 256-entry tables, built once on first use: table k advances the CRC by k+1 more zero bytes. */
function slicingTables(): Uint32Array {
  if (tables !== undefined) return tables;
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] ?? 0;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] ?? 0) ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  tables = t;
  return t;
}

/**
 * Continues a CRC-32 over more bytes: `crc32Update(crc32Update(0, a), b) === crc32(a ++ b)`.
 * Slice-by-8: eight bytes per step through eight lookup tables.
 */
export function crc32Update(crc: number, data: Uint8Array): number {
  const t = slicingTables();
  const d = data;
  let c = ~crc >>> 0;
  let i = 0;
  const n = d.length;
  const end8 = n - (n & 7);
  // Indices are within bounds by construction; the `!`s only satisfy noUncheckedIndexedAccess.
  while (i < end8) {
    const a = c ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
    const b = d[i + 4]! | (d[i + 5]! << 8) | (d[i + 6]! << 16) | (d[i + 7]! << 24);
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^
      t[512 + ((b >>> 8) & 0xff)]! ^
      t[256 + ((b >>> 16) & 0xff)]! ^
      t[b >>> 24]!;
    i += 8;
  }
  while (i < n) {
    c = t[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/**
 * The CRC-32 of `data` (pure JavaScript, slice-by-8).
 *
 * @example
 * crc32(new TextEncoder().encode('hello')) === 0x3610a686
 */
export const crc32: Crc32 = (data) => crc32Update(0, data);
