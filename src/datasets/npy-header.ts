/**
 * `.npy` array headers, byte for byte as NumPy writes them.
 *
 * Format (NumPy's "NEP 1 — A simple file format for NumPy arrays", `numpy/lib/format.py`):
 *
 * ```
 * \x93NUMPY  major minor  HEADER_LEN  header dict (latin-1)  spaces…  \n  data…
 * 6 bytes    1     1      u16 LE (v1.0) or u32 LE (v2.0)
 * ```
 *
 * The header is the Python `repr` of `{'descr': …, 'fortran_order': …, 'shape': …, }` with the keys in
 * sorted order, then NumPy's "growth" spaces (`GROWTH_AXIS_MAX_DIGITS - len(repr(shape[0]))`, so a file
 * can be appended to in place), then spaces and a final `\n` so that the data starts on a multiple of
 * `ARRAY_ALIGN` (64) bytes. Version 1.0 is used while the padded header fits in a u16; 2.0 beyond.
 * Like NumPy's `_wrap_header`, an already aligned header still gets a full 64 bytes of padding.
 */

/** `\x93NUMPY`: the magic string at the start of every `.npy` file (format.py `MAGIC_PREFIX`). */
export const NPY_MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
/** Data starts on a multiple of this many bytes (format.py `ARRAY_ALIGN`). */
export const NPY_ARRAY_ALIGN = 64;
/** Spare spaces NumPy reserves for the first axis to grow (format.py `GROWTH_AXIS_MAX_DIGITS`). */
export const NPY_GROWTH_AXIS_MAX_DIGITS = 21;

/**
 * A plain dtype as NumPy's `dtype.str` spells it: byte order (`<` little, `>` big, `|` not applicable),
 * kind and size in bytes — or, for unicode, `<U{n}` with `n` code points (UTF-32, 4 bytes each).
 * Examples: `<c8` complex64, `<f4` float32, `<f8` float64, `<i8` int64, `|u1` uint8, `|b1` bool, `<U12`.
 */
export type NpyPlainDescr = string;

/** A structured (record) dtype: named fields, packed, each a plain dtype. */
export interface NpyStructDescr {
  fields: ReadonlyArray<readonly [name: string, descr: NpyPlainDescr]>;
}

/** A dtype description: a plain dtype string or a structured dtype. */
export type NpyDescr = NpyPlainDescr | NpyStructDescr;

/** What the header describes. */
export interface NpyArraySpec {
  descr: NpyDescr;
  /** Dimensions; `[]` is a 0-d (scalar) array. Non-negative safe integers. */
  shape: readonly number[];
  /** Column-major data; default false (C order). */
  fortranOrder?: boolean;
}

const PLAIN_DESCR = /^(?:[<>]([fc])(\d+)|[<>]([iu])(\d+)|\|([iub])(1)|[<>](U)([1-9]\d*))$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const SIZES: Record<string, readonly number[]> = {
  f: [2, 4, 8],
  c: [8, 16],
  i: [2, 4, 8],
  u: [2, 4, 8],
};

/**
 * Size in bytes of one element of a plain dtype; throws on a dtype this module does not write.
 * @example npyItemSize('<c8') // 8
 */
export function npyItemSize(descr: NpyDescr): number {
  if (typeof descr !== 'string') {
    if (descr.fields.length === 0) throw new RangeError('npy: a structured dtype needs at least one field');
    const seen = new Set<string>();
    let size = 0;
    for (const [name, d] of descr.fields) {
      if (!FIELD_NAME.test(name)) throw new RangeError(`npy: unsupported field name ${JSON.stringify(name)}`);
      if (seen.has(name)) throw new RangeError(`npy: duplicate field name ${name}`);
      seen.add(name);
      size += npyItemSize(d);
    }
    return size;
  }
  const m = PLAIN_DESCR.exec(descr);
  if (m === null) throw new RangeError(`npy: unsupported dtype ${JSON.stringify(descr)}`);
  if (m[7] === 'U') {
    const n = Number(m[8]);
    if (!Number.isSafeInteger(n * 4)) throw new RangeError(`npy: unicode length too large in ${descr}`);
    return n * 4;
  }
  if (m[5] !== undefined) return 1;
  const kind = (m[1] ?? m[3]) as string;
  const size = Number(m[2] ?? m[4]);
  if (!(SIZES[kind] ?? []).includes(size))
    throw new RangeError(`npy: unsupported dtype ${JSON.stringify(descr)}`);
  return size;
}

/** Number of elements of a shape (1 for a 0-d array); throws on a negative or non-integer dimension. */
export function npyElementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new RangeError(`npy: invalid dimension ${String(d)} in shape`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError('npy: shape has too many elements');
  return n;
}

/** Size in bytes of the array data described by `spec`. */
export function npyDataBytes(spec: NpyArraySpec): number {
  const bytes = npyElementCount(spec.shape) * npyItemSize(spec.descr);
  if (!Number.isSafeInteger(bytes)) throw new RangeError('npy: array too large');
  return bytes;
}

/** Python `repr` of a descr: `'<f4'` or `[('a', '<f4'), ('b', '<i8')]`. */
function reprDescr(descr: NpyDescr): string {
  if (typeof descr === 'string') return `'${descr}'`;
  return `[${descr.fields.map(([name, d]) => `('${name}', '${d}')`).join(', ')}]`;
}

/** Python `repr` of a shape tuple: `()`, `(5,)`, `(2, 3)`. */
function reprShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${String(shape[0])},)`;
  return `(${shape.map(String).join(', ')})`;
}

/**
 * The dictionary text of a header before padding (format.py `_write_array_header`), growth spaces
 * included.
 */
export function npyHeaderText(spec: NpyArraySpec): string {
  npyDataBytes(spec); // validates descr and shape
  const fortran = spec.fortranOrder === true;
  const dict =
    `{'descr': ${reprDescr(spec.descr)}, 'fortran_order': ${fortran ? 'True' : 'False'}, ` +
    `'shape': ${reprShape(spec.shape)}, }`;
  if (spec.shape.length === 0) return dict;
  const growthAxis = fortran ? spec.shape[spec.shape.length - 1] : spec.shape[0];
  return dict + ' '.repeat(Math.max(0, NPY_GROWTH_AXIS_MAX_DIGITS - String(growthAxis).length));
}

/**
 * The complete header bytes (magic, version, length, padded dict), so that the data that follows starts
 * at a multiple of 64 bytes. Version 1.0 when the padded header fits in 65,535 bytes, else 2.0.
 *
 * @example
 * npyHeader({ descr: '<f4', shape: [3] }).length // 128
 */
export function npyHeader(spec: NpyArraySpec): Uint8Array {
  const text = npyHeaderText(spec);
  // The dict is ASCII (validated descr, field names and digits), so latin-1 = one byte per char.
  const hlen = text.length + 1; // + '\n'
  let lenBytes = 2;
  let padlen = NPY_ARRAY_ALIGN - ((8 + lenBytes + hlen) % NPY_ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    lenBytes = 4;
    padlen = NPY_ARRAY_ALIGN - ((8 + lenBytes + hlen) % NPY_ARRAY_ALIGN);
  }
  const total = 8 + lenBytes + hlen + padlen;
  const out = new Uint8Array(total);
  out.set(NPY_MAGIC, 0);
  out[6] = lenBytes === 2 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (lenBytes === 2) view.setUint16(8, hlen + padlen, true);
  else view.setUint32(8, hlen + padlen, true);
  let p = 8 + lenBytes;
  for (let i = 0; i < text.length; i++) out[p++] = text.charCodeAt(i);
  out.fill(0x20, p, p + padlen);
  out[total - 1] = 0x0a;
  return out;
}

/**
 * Encodes strings as a NumPy unicode array (`<U{n}`: UTF-32LE, each element padded with NULs to `n`
 * code points, `n` the longest element, at least 1 as NumPy does for empty strings).
 * Pass one string and `shape: []` for a 0-d array.
 */
export function encodeUnicodeArray(values: readonly string[]): { descr: string; data: Uint8Array } {
  const points = values.map((s) => Array.from(s, (ch) => ch.codePointAt(0) as number));
  const n = Math.max(1, ...points.map((p) => p.length));
  const data = new Uint8Array(values.length * n * 4);
  const view = new DataView(data.buffer);
  points.forEach((cps, i) => {
    cps.forEach((cp, j) => view.setUint32((i * n + j) * 4, cp, true));
  });
  return { descr: `<U${n}`, data };
}
