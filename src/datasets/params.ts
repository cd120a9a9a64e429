/**
 * Strict, precise validation of request parameters (JSON-parsed `unknown`). Every failure is a
 * `DatasetError('ERR_PARAMS')` whose message names the parameter, says what was expected and shows what
 * came: `parameters.duration: must be a positive number (seconds), got -1`. Numeric strings are not
 * numbers; unknown parameter names are refused (a typo must not silently fall back to a default).
 */
import { DatasetError, type ParamDescription } from './types.js';

/** A parameter object after the shape check: keys known, values still unchecked. */
export type RawParams = Readonly<Record<string, unknown>>;

/** Rule for a numeric parameter. */
export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound (`0` for "positive"). */
  above?: number;
  /** Inclusive upper bound, part of the stated range ("an integer from 1 to 64"). */
  max?: number;
  /** Inclusive sanity cap, mentioned only when exceeded ("must be at most 1e12"). */
  cap?: number;
  integer?: boolean;
  powerOfTwo?: boolean;
  /** Unit or meaning shown in messages, e.g. `Hz`, `seconds`. */
  unit?: string;
}

/** Shows a received value in a message: numbers as they are, strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const s = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    return `the string ${s}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value === 'object' ? 'JSON object' : typeof value}`;
}

function fail(key: string, message: string): never {
  throw new DatasetError('ERR_PARAMS', `parameters.${key}: ${message}`);
}

/** Throws `ERR_PARAMS` for `parameters.<key>: <message>`. */
export function paramError(key: string, message: string): never {
  return fail(key, message);
}

/**
 * Checks that `raw` is a JSON object whose keys are all in `known`, and returns it.
 */
export function readParams(raw: unknown, known: readonly string[]): RawParams {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DatasetError('ERR_PARAMS', `parameters: must be a JSON object, got ${describeValue(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new DatasetError(
        'ERR_PARAMS',
        `parameters.${key}: unknown parameter (this request takes: ${known.join(', ')})`,
      );
    }
  }
  return raw as RawParams;
}

function expectation(rule: NumberRule): string {
  const kind = rule.powerOfTwo ? 'a power of two' : rule.integer ? 'an integer' : 'a number';
  let text: string;
  if (rule.above === 0 && rule.max === undefined)
    text = rule.integer ? 'a positive integer' : 'a positive number';
  else if (rule.above !== undefined && rule.max !== undefined)
    text = `${kind} > ${rule.above} and ≤ ${rule.max}`;
  else if (rule.above !== undefined) text = `${kind} > ${rule.above}`;
  else if (rule.min !== undefined && rule.max !== undefined) text = `${kind} from ${rule.min} to ${rule.max}`;
  else if (rule.min !== undefined) text = `${kind} ≥ ${rule.min}`;
  else if (rule.max !== undefined) text = `${kind} ≤ ${rule.max}`;
  else text = kind;
  return rule.unit === undefined ? text : `${text} (${rule.unit})`;
}

function checkNumber(key: string, value: unknown, rule: NumberRule): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (!rule.integer || Number.isSafeInteger(value)) &&
    (!rule.powerOfTwo || (Number.isSafeInteger(value) && value > 0 && (value & (value - 1)) === 0));
  if (!ok) fail(key, `must be ${expectation(rule)}, got ${describeValue(value)}`);
  if (rule.cap !== undefined && (value as number) > rule.cap) {
    fail(
      key,
      `must be at most ${rule.cap}${rule.unit === undefined ? '' : ` (${rule.unit})`}, got ${String(value)}`,
    );
  }
  return value as number;
}

/** A required number. */
export function requireNumber(p: RawParams, key: string, rule: NumberRule): number {
  const value = p[key];
  if (value === undefined) fail(key, `missing; expected ${expectation(rule)}`);
  return checkNumber(key, value, rule);
}

/** An optional number (`undefined` when absent; `null` is not absent). */
export function optionalNumber(p: RawParams, key: string, rule: NumberRule): number | undefined {
  const value = p[key];
  return value === undefined ? undefined : checkNumber(key, value, rule);
}

/** An optional string from a fixed list. */
export function optionalEnum<T extends string>(
  p: RawParams,
  key: string,
  values: readonly T[],
): T | undefined {
  const value = p[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    fail(key, `must be one of ${values.join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

/** An optional non-empty string matching `pattern` (described by `what` in messages). */
export function optionalString(p: RawParams, key: string, pattern: RegExp, what: string): string | undefined {
  const value = p[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value))
    fail(key, `must be ${what}, got ${describeValue(value)}`);
  return value;
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** The fixed `core:datetime` used when a request gives none: the Unix epoch (never the clock). */
export const DEFAULT_DATETIME = '1970-01-01T00:00:00.000Z';

/** An optional ISO 8601 date-time with a zone, normalised to UTC `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function optionalDatetime(p: RawParams, key: string): string | undefined {
  const value = p[key];
  if (value === undefined) return undefined;
  const what = 'an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z';
  if (typeof value !== 'string' || !ISO_DATETIME.test(value))
    fail(key, `must be ${what}, got ${describeValue(value)}`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) fail(key, `must be ${what}, got ${describeValue(value)}`);
  return new Date(ms).toISOString();
}

/** The rule of the shared `seed` parameter. */
export const SEED_RULE: NumberRule = { min: 0, cap: Number.MAX_SAFE_INTEGER, integer: true };

/** The shared `seed` parameter: a safe non-negative integer, default 0. */
export function readSeed(p: RawParams): number {
  return optionalNumber(p, 'seed', SEED_RULE) ?? 0;
}

/** Options of {@link describeNumber} and {@link describeString}. */
export interface DescribeExtra {
  required?: boolean;
  default?: number | string | boolean;
  description?: string;
}

/**
 * A numeric parameter as a catalog describes it, from the very rule the validator applies (so the two
 * cannot drift): `min` → `minimum`, `above` → `exclusive_minimum`, `max` (else `cap`) → `maximum`.
 */
export function describeNumber(name: string, rule: NumberRule, extra: DescribeExtra = {}): ParamDescription {
  const d: ParamDescription = {
    name,
    type: rule.integer === true || rule.powerOfTwo === true ? 'integer' : 'number',
    required: extra.required ?? false,
  };
  if (rule.unit !== undefined) d.unit = rule.unit;
  if (rule.min !== undefined) d.minimum = rule.min;
  if (rule.above !== undefined) d.exclusive_minimum = rule.above;
  const max = rule.max ?? rule.cap;
  if (max !== undefined) d.maximum = max;
  if (extra.default !== undefined) d.default = extra.default;
  const notes = [rule.powerOfTwo === true ? 'a power of two' : '', extra.description ?? ''].filter(Boolean);
  if (notes.length > 0) d.description = notes.join('; ');
  return d;
}

/** A string parameter as a catalog describes it (`values`: its fixed list, if any). */
export function describeString(
  name: string,
  values: readonly string[] | undefined,
  extra: DescribeExtra = {},
): ParamDescription {
  const d: ParamDescription = { name, type: 'string', required: extra.required ?? false };
  if (values !== undefined) d.enum = [...values];
  if (extra.default !== undefined) d.default = extra.default;
  if (extra.description !== undefined) d.description = extra.description;
  return d;
}
