/**
 * A `.npy` reader (NumPy's "NEP 1 — A simple file format for NumPy arrays", `numpy/lib/format.py`):
 * `\x93NUMPY`, version 1.0 (u16 header length), 2.0 (u32) or 3.0 (u32, UTF-8 header), the header dict
 * (`{'descr': …, 'fortran_order': …, 'shape': (…), }`, a Python literal), then the data in C order.
 *
 * The dtypes sdrlink writes (src/datasets: `<f8` frequencies and times, `<f4` power, `<c8` IQ, `<U{n}`
 * metadata) and a few neighbours a user may bring (`<c16`, `<i2`, `<i4`, `|i1`, `|u1`, `<u2`); big-endian
 * and structured dtypes, object arrays and Fortran order are refused with a code, never guessed at.
 */
import { ViewError } from './errors.js';

/** The magic string at the start of every `.npy` file. */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** Largest header accepted (NumPy refuses more than 10,000 bytes unless told otherwise). */
const MAX_HEADER_BYTES = 1 << 16;

/** A numeric array: its dtype, shape and elements (complex ones interleaved re, im). */
export interface NumericArray {
  kind: 'numeric';
  descr: string;
  shape: number[];
  /** `true` for complex dtypes: `data` holds 2 numbers per element. */
  complex: boolean;
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;
}

/** A unicode array (`<U{n}`), its elements with the NUL padding removed. */
export interface StringArray {
  kind: 'string';
  descr: string;
  shape: number[];
  data: string[];
}

/** A parsed `.npy` array. */
export type NpyArray = NumericArray | StringArray;

type Numeric = NumericArray['data'];
interface NumericType {
  size: number;
  complex: boolean;
  make: (buf: ArrayBuffer) => Numeric;
}

const NUMERIC: Record<string, NumericType> = {
  '<f4': { size: 4, complex: false, make: (b) => new Float32Array(b) },
  '<f8': { size: 8, complex: false, make: (b) => new Float64Array(b) },
  '<c8': { size: 8, complex: true, make: (b) => new Float32Array(b) },
  '<c16': { size: 16, complex: true, make: (b) => new Float64Array(b) },
  '|i1': { size: 1, complex: false, make: (b) => new Int8Array(b) },
  '|u1': { size: 1, complex: false, make: (b) => new Uint8Array(b) },
  '<i2': { size: 2, complex: false, make: (b) => new Int16Array(b) },
  '<u2': { size: 2, complex: false, make: (b) => new Uint16Array(b) },
  '<i4': { size: 4, complex: false, make: (b) => new Int32Array(b) },
};
const UNICODE = /^<U([1-9]\d{0,8})$/;
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A Python literal as the header dict uses them. */
type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Parses the Python literal of a `.npy` header (strings, integers, True/False/None, tuples, lists, dicts). */
export function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const fail = (why: string): never => {
    throw new ViewError('ERR_VIEW_NPY', `header: ${why} at character ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++;
  };
  const value = (depth: number): PyValue => {
    if (depth > 8) fail('nested too deep');
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end === -1) fail('an unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('an escaped string');
      i = end + 1;
      return s;
    }
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      const dict: Record<string, PyValue> = Object.create(null) as Record<string, PyValue>;
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return c === '{' ? dict : items;
        }
        const item = value(depth + 1);
        if (c === '{') {
          if (typeof item !== 'string') fail('a dict key that is not a string');
          ws();
          if (text[i] !== ':') fail("a missing ':'");
          i++;
          dict[item as string] = value(depth + 1);
        } else items.push(item);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`a missing ',' or '${close}'`);
      }
    }
    const word = /^(?:True|False|None|-?\d+L?)/.exec(text.slice(i, i + 24))?.[0];
    if (word === undefined) return fail('an unexpected token');
    i += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    return Number(word.replace('L', ''));
  };
  const out = value(0);
  ws();
  if (i !== text.length) fail('text after the dict');
  return out;
}

/** Copies `count` bytes into a fresh (aligned) buffer, swapping each element when the host is big-endian. */
function aligned(bytes: Uint8Array, swapEvery: number): ArrayBuffer {
  const copy = bytes.slice();
  if (!LITTLE_ENDIAN_HOST && swapEvery > 1) {
    for (let e = 0; e < copy.length; e += swapEvery) copy.subarray(e, e + swapEvery).reverse();
  }
  return copy.buffer;
}

/**
 * Parses one `.npy` file. `name` is used in messages only. Throws {@link ViewError}: `ERR_VIEW_NPY` for a
 * malformed header, Fortran order, or data of the wrong length; `ERR_VIEW_DTYPE` for a dtype it does not
 * read.
 */
export function readNpy(bytes: Uint8Array, name = 'array'): NpyArray {
  const bad = (why: string): never => {
    throw new ViewError('ERR_VIEW_NPY', `${name}: not a readable .npy array: ${why}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) bad('no \\x93NUMPY magic');
  const major = bytes[6] as number;
  if (major < 1 || major > 3) bad(`format version ${major}.${bytes[7] as number}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) bad('truncated header');
  const headerLen = lenBytes === 2 ? v.getUint16(8, true) : v.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (headerLen > MAX_HEADER_BYTES) bad(`a header of ${headerLen} bytes`);
  if (dataStart > bytes.length) bad('truncated header');
  const headerBytes = bytes.subarray(8 + lenBytes, dataStart);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  let header: PyValue;
  try {
    header = parsePyLiteral(text.trim());
  } catch (err) {
    if (err instanceof ViewError) bad(err.message);
    throw err;
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a dict');
  const dict = header as Record<string, PyValue>;
  const descr = dict['descr'];
  const fortran = dict['fortran_order'];
  const shapeValue = dict['shape'];
  if (typeof fortran !== 'boolean') bad("the header has no boolean 'fortran_order'");
  if (fortran === true) bad('Fortran (column-major) order is not supported');
  if (
    !Array.isArray(shapeValue) ||
    !shapeValue.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
  ) {
    bad("the header has no 'shape' of non-negative integers");
  }
  const shape = shapeValue as number[];
  let count = 1;
  for (const d of shape) count *= d;
  if (!Number.isSafeInteger(count)) bad('the shape has too many elements');
  if (typeof descr !== 'string') {
    throw new ViewError(
      'ERR_VIEW_DTYPE',
      `${name}: dtype ${JSON.stringify(descr)} is not supported (structured)`,
    );
  }
  const data = bytes.subarray(dataStart);
  const need = (itemSize: number): number => {
    const n = count * itemSize;
    if (data.length !== n)
      bad(`${data.length} bytes of data, ${n} expected for shape (${shape.join(', ')}) of ${descr}`);
    return n;
  };
  const numeric = NUMERIC[descr.replace(/^=/, '<')];
  if (numeric !== undefined) {
    need(numeric.size);
    const swap = numeric.complex ? numeric.size / 2 : numeric.size;
    return {
      kind: 'numeric',
      descr,
      shape,
      complex: numeric.complex,
      data: numeric.make(aligned(data, swap)),
    };
  }
  const uni = UNICODE.exec(descr);
  if (uni !== null) {
    const width = Number(uni[1]);
    need(width * 4);
    const out: string[] = [];
    for (let e = 0; e < count; e++) {
      let s = '';
      for (let k = 0; k < width; k++) {
        const cp = v.getUint32(dataStart + (e * width + k) * 4, true);
        if (cp === 0) break;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) bad(`element ${e} holds code point ${cp}`);
        s += String.fromCodePoint(cp);
      }
      out.push(s);
    }
    return { kind: 'string', descr, shape, data: out };
  }
  throw new ViewError(
    'ERR_VIEW_DTYPE',
    `${name}: dtype ${JSON.stringify(descr)} is not supported (readable: ${[...Object.keys(NUMERIC), '<U{n}'].join(', ')})`,
  );
}
