/**
 * Checks a SigMF metadata object against the rules of the SigMF specification v1.2.x
 * (https://github.com/sigmf/SigMF, `sigmf-spec.md`, "Metadata Format", "Global Object", "Captures
 * Array", "Annotations Array", "The extensions Field", "Dataset Format"). Returns the list of violations
 * (empty when valid), each naming the key, so a test shows all that is wrong at once.
 *
 * Checked: the top-level object holds exactly `global` (object), `captures` (array) and `annotations`
 * (array); every key of those objects is `namespace:name`, the namespace `core` or one declared in
 * `core:extensions` (an array of objects with exactly `name` string, `version` string, `optional`
 * boolean); required `core:datatype` (the ABNF of "Dataset Format") and `core:version` (X.Y.Z); the
 * types of the core keys we write; captures and annotations sorted by `core:sample_start` (uint);
 * `core:datetime` as RFC 3339 in UTC (`Z`); `core:freq_lower_edge` ≤ `core:freq_upper_edge`; and, when the
 * data is given, `core:sha512` equal to the SHA-512 of the data file.
 */
import { createHash } from 'node:crypto';

/** `dataset-format` of the spec: (real / complex) ((type endianness) / byte). */
export const SIGMF_DATATYPE = /^[rc]((f64|f32|f16|i32|i16|u32|u16)_(le|be)|i8|u8)$/;
const VERSION = /^\d+\.\d+\.\d+$/;
/** RFC 3339 date-time, UTC only (the spec: "the only allowed time-offset is Z"). */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const KEY = /^([a-z][a-z0-9_-]*):([A-Za-z0-9_]+)$/;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** Types of the core keys, per object (the spec's tables; only what a writer of ours may use). */
const CORE_TYPES: Record<'global' | 'captures' | 'annotations', Record<string, (v: unknown) => boolean>> = {
  global: {
    datatype: (v) => typeof v === 'string' && SIGMF_DATATYPE.test(v),
    sample_rate: (v) => isNum(v) && (v as number) > 0,
    version: (v) => typeof v === 'string' && VERSION.test(v),
    num_channels: (v) => isUint(v) && (v as number) >= 1,
    sha512: (v) => typeof v === 'string' && /^[0-9a-f]{128}$/.test(v),
    offset: isUint,
    description: (v) => typeof v === 'string',
    author: (v) => typeof v === 'string',
    recorder: (v) => typeof v === 'string',
    hw: (v) => typeof v === 'string',
    license: (v) => typeof v === 'string',
    dataset: (v) => typeof v === 'string',
    trailing_bytes: isUint,
    metadata_only: (v) => typeof v === 'boolean',
    extensions: Array.isArray,
  },
  captures: {
    sample_start: isUint,
    global_index: isUint,
    header_bytes: isUint,
    frequency: isNum,
    datetime: (v) => typeof v === 'string' && DATETIME.test(v),
  },
  annotations: {
    sample_start: isUint,
    sample_count: isUint,
    freq_lower_edge: isNum,
    freq_upper_edge: isNum,
    label: (v) => typeof v === 'string',
    comment: (v) => typeof v === 'string',
    generator: (v) => typeof v === 'string',
    uuid: (v) => typeof v === 'string',
  },
};

/**
 * The violations of `meta` (a parsed `.sigmf-meta`); `data`: the dataset file's bytes, to check
 * `core:sha512` (required then), or its SHA-512 hex.
 */
export function checkSigmfMeta(meta: unknown, data?: Uint8Array | { sha512: string }): string[] {
  const bad: string[] = [];
  if (!isObject(meta)) return ['top level: not a JSON object'];
  const top = Object.keys(meta).sort();
  if (top.join(',') !== 'annotations,captures,global')
    bad.push(`top level: must hold exactly global, captures, annotations; got ${top.join(', ')}`);
  const global = meta['global'];
  if (!isObject(global)) return [...bad, 'global: not an object'];
  const declared = new Set(['core']);
  const ext = global['core:extensions'];
  if (ext !== undefined) {
    if (!Array.isArray(ext)) bad.push('global.core:extensions: not an array');
    else
      ext.forEach((e, i) => {
        const ok =
          isObject(e) &&
          Object.keys(e).sort().join(',') === 'name,optional,version' &&
          typeof e['name'] === 'string' &&
          typeof e['version'] === 'string' &&
          typeof e['optional'] === 'boolean';
        if (!ok)
          bad.push(
            `global.core:extensions[${i}]: must be exactly { name: string, version: string, optional: boolean }`,
          );
        else declared.add(e['name'] as string);
      });
  }
  const checkObject = (where: string, kind: keyof typeof CORE_TYPES, o: unknown): void => {
    if (!isObject(o)) {
      bad.push(`${where}: not an object`);
      return;
    }
    for (const [key, value] of Object.entries(o)) {
      const m = KEY.exec(key);
      if (m === null) {
        bad.push(`${where}.${key}: not namespaced (namespace:name)`);
        continue;
      }
      const [, ns, name] = m as unknown as [string, string, string];
      if (!declared.has(ns)) bad.push(`${where}.${key}: namespace ${ns} not declared in core:extensions`);
      if (ns === 'core') {
        const check = CORE_TYPES[kind][name];
        if (check === undefined) bad.push(`${where}.${key}: not a core key of ${kind}`);
        else if (!check(value)) bad.push(`${where}.${key}: wrong type or value ${JSON.stringify(value)}`);
      }
    }
  };
  checkObject('global', 'global', global);
  for (const required of ['core:datatype', 'core:version'])
    if (global[required] === undefined) bad.push(`global.${required}: required`);
  for (const kind of ['captures', 'annotations'] as const) {
    const list = meta[kind];
    if (!Array.isArray(list)) {
      bad.push(`${kind}: not an array`);
      continue;
    }
    let last = -1;
    list.forEach((o, i) => {
      checkObject(`${kind}[${i}]`, kind, o);
      const start = isObject(o) ? o['core:sample_start'] : undefined;
      if (!isUint(start)) bad.push(`${kind}[${i}].core:sample_start: required (uint)`);
      else if ((start as number) < last) bad.push(`${kind}[${i}]: not sorted by core:sample_start`);
      else last = start as number;
      if (kind === 'annotations' && isObject(o)) {
        const lo = o['core:freq_lower_edge'];
        const hi = o['core:freq_upper_edge'];
        if ((lo === undefined) !== (hi === undefined))
          bad.push(`annotations[${i}]: freq_lower_edge and freq_upper_edge go together`);
        if (isNum(lo) && isNum(hi) && (lo as number) > (hi as number))
          bad.push(`annotations[${i}]: freq_lower_edge above freq_upper_edge`);
      }
    });
  }
  if (data !== undefined) {
    const sha = data instanceof Uint8Array ? createHash('sha512').update(data).digest('hex') : data.sha512;
    if (global['core:sha512'] !== sha)
      bad.push(`global.core:sha512: ${String(global['core:sha512'])} is not the data's SHA-512 ${sha}`);
  }
  return bad;
}
