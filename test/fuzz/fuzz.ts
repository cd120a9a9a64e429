/**
 * Settings shared by the fuzz suite (test/fuzz/*.test.ts): how many runs each property gets, and how to
 * replay a failure.
 *
 * - `npm test` runs every property with its small default number of runs (the whole suite stays around a
 *   minute on a 2-core machine).
 * - `npm run fuzz` (scripts/fuzz.mjs) sets `SDRLINK_FUZZ_RUNS` (default 20000): the number of runs of every
 *   codec property; the HTTP and WebSocket properties, each run of which is a request or a socket, take a
 *   tenth of it.
 * - A failure prints fast-check's `seed` and `path`; `SDRLINK_FUZZ_SEED=<seed> SDRLINK_FUZZ_PATH=<path>`
 *   replays exactly that case (with the same `SDRLINK_FUZZ_RUNS` or none).
 */
import fc from 'fast-check';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

const RUNS = envInt('SDRLINK_FUZZ_RUNS');
const SEED = envInt('SDRLINK_FUZZ_SEED');
const PATH = process.env['SDRLINK_FUZZ_PATH'];

/** True under `npm run fuzz` (a run count was given). */
export const LONG_FUZZ = RUNS !== undefined;

/**
 * fast-check parameters for one property: `defaultRuns` under `npm test`, `SDRLINK_FUZZ_RUNS × weight`
 * when set (weight 0.1 for properties whose runs are network round trips); the seed and path to replay
 * when given. Failures report the seed and the shrunk counterexample.
 */
export function fuzzParams<T>(defaultRuns: number, weight = 1): fc.Parameters<T> {
  const numRuns = RUNS === undefined ? defaultRuns : Math.max(defaultRuns, Math.round(RUNS * weight));
  return {
    numRuns,
    ...(SEED === undefined ? {} : { seed: SEED }),
    ...(PATH === undefined || PATH === '' ? {} : { path: PATH }),
    // long runs shrink on failure like short ones; never stop on a wall clock (results stay reproducible)
    endOnFailure: false,
    // the failing assertion's own message in the report (node:test prints the message, not the cause)
    includeErrorInReport: true,
  };
}

/**
 * Runs `fn` and returns what it threw (or `undefined` when it returned): the properties check that a
 * refusal is of the documented class and code, never a TypeError or a RangeError from deep inside.
 */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** JSON values with keys an attacker would pick (prototype names, the codecs' own field names). */
export function hostileJson(fieldNames: readonly string[] = []): fc.Arbitrary<unknown> {
  const key = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'valueOf',
      'toJSON',
      'hasOwnProperty',
      'length',
      ...fieldNames,
    ),
  );
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(0, -0, -1, 1, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e308, Number.MIN_VALUE, 0.5),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 5 }),
    ),
  })).value;
}

/** JSON text: well-formed (of {@link hostileJson}), then cut, extended or with one character changed. */
export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    valid,
    valid.chain((t) => fc.nat({ max: t.length }).map((n) => t.slice(0, n))),
    valid.chain((t) => fc.string({ maxLength: 8 }).map((s) => t + s)),
    valid.chain((t) =>
      fc
        .tuple(
          fc.nat({ max: Math.max(0, t.length - 1) }),
          fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
        )
        .map(([i, c]) => t.slice(0, i) + c + t.slice(i + 1)),
    ),
    valid.chain((t) => fc.nat({ max: Math.max(0, t.length - 1) }).map((i) => t.slice(0, i) + t.slice(i + 1))),
  );
}
