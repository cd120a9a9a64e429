/**
 * Parameters of a `battery-report` request. The batteries service (provider) validates them in its dataset;
 * the products service (consumer) validates the same schema before it asks, so a bad request fails fast
 * with a 400 instead of a refused session.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { CHEMISTRIES, PRODUCT_CATEGORIES, type Chemistry } from './domain.js';
import { OneOf, Text } from './schemas.js';
import { formatValidationIssue, invalidPartMessage, issueFromTypeBox } from '../../http/validation.js';

const chemistryMessage = `must be a chemistry (${CHEMISTRIES.join(', ')}) or a list of them`;

/** ISO-8601 UTC timestamp, e.g. `2025-01-31T12:00:00Z` or `2025-01-31T12:00:00.000Z`. */
export const IsoTimestamp = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,3})?Z$',
  errorMessage: 'must be an ISO-8601 UTC timestamp like 2025-01-31T12:00:00Z',
});

/** The filter properties of a report request (shared with `POST /reports`). */
export const reportParamProperties = {
  chemistry: Type.Optional(
    Type.Union(
      [OneOf(CHEMISTRIES), Type.Array(OneOf(CHEMISTRIES), { minItems: 1, maxItems: CHEMISTRIES.length })],
      {
        errorMessage: chemistryMessage,
      },
    ),
  ),
  manufacturer: Type.Optional(Text(100)),
  category: Type.Optional(OneOf(PRODUCT_CATEGORIES)),
  min_capacity_ah: Type.Optional(Type.Number({ minimum: 0 })),
  max_capacity_ah: Type.Optional(Type.Number({ minimum: 0 })),
  min_energy_wh: Type.Optional(Type.Number({ minimum: 0 })),
  max_energy_wh: Type.Optional(Type.Number({ minimum: 0 })),
  min_cycle_life: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Stamped into the report's header; the products service sets it to the time of the request. */
  generated_at: Type.Optional(IsoTimestamp),
};

/** Raw report parameters, as a JSON object. */
export const BatteryReportParamsSchema = Type.Object(reportParamProperties, { additionalProperties: false });
type RawParams = Static<typeof BatteryReportParamsSchema>;

/** Normalised report parameters: `chemistry` always a sorted, de-duplicated list. */
export type BatteryReportParams = Omit<RawParams, 'chemistry'> & { chemistry?: Chemistry[] };

const check = TypeCompiler.Compile(BatteryReportParamsSchema);

/**
 * Validates and normalises report parameters. Throws the error `fail(message)` returns, with a message naming the
 * parameter (`parameters.min_capacity_ah: must be ≥ 0, got -1`).
 */
export function parseReportParams(
  raw: unknown,
  fail: (message: string) => Error,
  part = 'parameters',
): BatteryReportParams {
  if (!check.Check(raw)) {
    const first = check.Errors(raw).First();
    throw fail(
      first === undefined
        ? invalidPartMessage(part, 'service')
        : formatValidationIssue(issueFromTypeBox(part, first), 'service'),
    );
  }
  const p = raw as RawParams;
  const pairs: Array<[keyof RawParams, keyof RawParams]> = [
    ['min_capacity_ah', 'max_capacity_ah'],
    ['min_energy_wh', 'max_energy_wh'],
  ];
  for (const [lo, hi] of pairs) {
    const a = p[lo] as number | undefined;
    const b = p[hi] as number | undefined;
    if (a !== undefined && b !== undefined && a > b)
      throw fail(`${part}: ${lo} ${a} is greater than ${hi} ${b}`);
  }
  const out: BatteryReportParams = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || k === 'chemistry') continue;
    (out as Record<string, unknown>)[k] = v;
  }
  if (p.chemistry !== undefined) {
    const list = (typeof p.chemistry === 'string' ? [p.chemistry] : p.chemistry) as Chemistry[];
    out.chemistry = [...new Set(list)].sort();
  }
  return out;
}
