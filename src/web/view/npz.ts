/**
 * Reads an `.npz` (a ZIP of `.npy` arrays) and recognises the datasets sdrlink produces
 * (docs/datasets.md): a `spectrum` (`frequencies`, `power_db`, `meta`), a `signal` (`iq`, `sample_rate`,
 * `center_frequency`, `meta`) or a `spectrogram` (`frequencies`, `times`, `power_db` [time, freq], `meta`).
 * `meta` is a 0-d unicode array holding SigMF-style JSON (`global`, `captures`, `annotations`).
 */
import { ViewError } from './errors.js';
import { readNpy, type NpyArray, type NumericArray } from './npy.js';
import { isTar, readSigmfArchive } from './sigmf.js';
import { readZip } from './zip.js';

/** The arrays of an archive by name (`power_db`, not `power_db.npy`). */
export type NpzArrays = Map<string, NpyArray>;

/** SigMF-style metadata as the file holds it (an object; its members are not trusted to have any shape). */
export type DatasetMeta = Record<string, unknown>;

/** A power spectrum: `powerDb[j]` at `frequencies[j]` Hz. */
export interface SpectrumData {
  kind: 'spectrum';
  frequencies: Float64Array;
  powerDb: Float32Array | Float64Array;
  meta: DatasetMeta;
}

/** Complex baseband samples, interleaved `[i0, q0, i1, q1, …]`. */
export interface SignalData {
  kind: 'signal';
  iq: Float32Array | Float64Array;
  sampleRate: number;
  centerFrequency: number;
  meta: DatasetMeta;
}

/** Power over time × frequency: row `r` (time `times[r]`) is `powerDb[r·bins … (r+1)·bins)`. */
export interface SpectrogramData {
  kind: 'spectrogram';
  frequencies: Float64Array;
  times: Float64Array;
  powerDb: Float32Array | Float64Array;
  rows: number;
  bins: number;
  meta: DatasetMeta;
}

/** A dataset the viewer can show. */
export type Dataset = SpectrumData | SignalData | SpectrogramData;

/** Reads every `.npy` entry of an `.npz` archive. Throws {@link ViewError} (`ERR_VIEW_ZIP`, `_NPY`, `_DTYPE`). */
export function readNpz(bytes: Uint8Array): NpzArrays {
  const out: NpzArrays = new Map();
  for (const entry of readZip(bytes)) {
    if (!entry.name.endsWith('.npy')) continue; // np.load ignores other members too
    out.set(entry.name.slice(0, -4), readNpy(entry.data, entry.name));
  }
  return out;
}

const wrong = (why: string): never => {
  throw new ViewError('ERR_VIEW_DATASET', why);
};

function real(
  arrays: NpzArrays,
  name: string,
  dims: number,
): NumericArray & { data: Float32Array | Float64Array } {
  const a = arrays.get(name);
  if (a === undefined) return wrong(`the array ${name} is missing`);
  if (
    a.kind !== 'numeric' ||
    a.complex ||
    !(a.data instanceof Float32Array || a.data instanceof Float64Array)
  ) {
    return wrong(`${name} has dtype ${a.descr}; a real float array (<f4 or <f8) is expected`);
  }
  if (a.shape.length !== dims) return wrong(`${name} has ${a.shape.length} dimensions; ${dims} expected`);
  return a as NumericArray & { data: Float32Array | Float64Array };
}

function f64(a: Float32Array | Float64Array): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

/** Throws unless the values rise strictly (an axis: frequencies, times). */
function ascending(name: string, values: Float64Array): Float64Array {
  for (let i = 1; i < values.length; i++) {
    if (!((values[i] as number) > (values[i - 1] as number))) {
      wrong(`${name} must rise strictly, but value ${i} (${values[i]}) follows ${values[i - 1]}`);
    }
  }
  if (values.length === 0) wrong(`${name} is empty`);
  // Strictly rising already excludes NaN; only the ends can be infinite.
  if (!Number.isFinite(values[0] as number) || !Number.isFinite(values[values.length - 1] as number)) {
    wrong(`${name} holds a value that is not finite`);
  }
  return values;
}

function scalar(arrays: NpzArrays, name: string): number {
  const a = real(arrays, name, 0);
  const x = a.data[0] as number;
  if (!Number.isFinite(x)) wrong(`${name} is not a finite number`);
  return x;
}

/** The `meta` entry: one unicode string holding a JSON object. */
export function readMeta(arrays: NpzArrays): DatasetMeta {
  const a = arrays.get('meta');
  if (a === undefined) return wrong('the array meta is missing');
  if (a.kind !== 'string' || a.data.length !== 1)
    return wrong(`meta has dtype ${a.descr}; one unicode string expected`);
  let meta: unknown;
  try {
    meta = JSON.parse(a.data[0] as string);
  } catch {
    return wrong('meta is not JSON');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    return wrong('meta is not a JSON object');
  return meta as DatasetMeta;
}

/**
 * Recognises the dataset held by an `.npz` — by its arrays, not by its file name — or by a SigMF Archive
 * (a `signal` with `format: sigmf`, told by its tar magic). Throws {@link ViewError} (`ERR_VIEW_DATASET`
 * when the arrays are not one of the three kinds or not of their shapes).
 */
export function readDataset(bytes: Uint8Array): Dataset {
  if (isTar(bytes)) return readSigmfArchive(bytes);
  const arrays = readNpz(bytes);
  if (arrays.has('iq')) {
    const iq = arrays.get('iq') as NpyArray;
    if (iq.kind !== 'numeric' || !iq.complex || iq.shape.length !== 1) {
      return wrong(
        `iq has dtype ${iq.descr} and ${iq.shape.length} dimensions; a 1-d complex array is expected`,
      );
    }
    const sampleRate = scalar(arrays, 'sample_rate');
    if (!(sampleRate > 0)) wrong('sample_rate is not positive');
    return {
      kind: 'signal',
      iq: iq.data as Float32Array | Float64Array,
      sampleRate,
      centerFrequency: scalar(arrays, 'center_frequency'),
      meta: readMeta(arrays),
    };
  }
  const power = arrays.get('power_db');
  if (power === undefined)
    return wrong(`no iq or power_db array (arrays: ${[...arrays.keys()].join(', ') || 'none'})`);
  if (power.shape.length === 2) {
    const p = real(arrays, 'power_db', 2);
    const [rows, bins] = p.shape as [number, number];
    const frequencies = ascending('frequencies', f64(real(arrays, 'frequencies', 1).data));
    const times = ascending('times', f64(real(arrays, 'times', 1).data));
    if (frequencies.length !== bins)
      wrong(`frequencies has ${frequencies.length} values for ${bins} columns of power_db`);
    if (times.length !== rows) wrong(`times has ${times.length} values for ${rows} rows of power_db`);
    return { kind: 'spectrogram', frequencies, times, powerDb: p.data, rows, bins, meta: readMeta(arrays) };
  }
  const p = real(arrays, 'power_db', 1);
  const frequencies = ascending('frequencies', f64(real(arrays, 'frequencies', 1).data));
  if (frequencies.length !== p.data.length) {
    wrong(`frequencies has ${frequencies.length} values, power_db ${p.data.length}`);
  }
  return { kind: 'spectrum', frequencies, powerDb: p.data, meta: readMeta(arrays) };
}
