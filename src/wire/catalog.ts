/**
 * Provider catalogs on the wire (docs/api.md §12): what a provider announces it serves
 * (`PUT /api/providers/me/catalog`), what `GET /api/providers` lists, a provider's refusal of a session
 * (`POST /api/ice/sessions/{id}/decline`), and the one matching rule the server routes sessions with
 * ({@link matchCatalog}). A catalog comes from a provider and is untrusted: every list and string is
 * bounded here, so the server's validator refuses an oversized one before anything is stored.
 */
import { Type, type Static } from '@sinclair/typebox';
import { enumOf } from './raw.js';
import { REQUEST_TYPE_PATTERN_SRC } from './sessions.js';

/** Bounds of a catalog (docs/api.md §12). */
export const CATALOG_LIMITS = {
  types: 32,
  parameters: 64,
  enumValues: 64,
  recordings: 10_000,
  nameLength: 200,
  textLength: 500,
} as const;

export const PARAM_TYPES = ['number', 'integer', 'string', 'boolean'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

const finite = (opts: Record<string, unknown> = {}) =>
  Type.Number({ minimum: -1e300, maximum: 1e300, ...opts });
const text = (max: number = CATALOG_LIMITS.textLength) => Type.String({ maxLength: max });

/** One parameter of a request type: its name, JSON type, unit, range, default. */
export const CatalogParam = Type.Object({
  name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', errorMessage: 'must be a parameter name' }),
  type: enumOf(PARAM_TYPES),
  unit: Type.Optional(text(32)),
  /** Inclusive lower bound. */
  minimum: Type.Optional(finite()),
  /** Exclusive lower bound ("positive": 0). */
  exclusive_minimum: Type.Optional(finite()),
  /** Inclusive upper bound. */
  maximum: Type.Optional(finite()),
  default: Type.Optional(Type.Union([finite(), text(CATALOG_LIMITS.nameLength), Type.Boolean()])),
  required: Type.Boolean(),
  enum: Type.Optional(Type.Array(text(64), { maxItems: CATALOG_LIMITS.enumValues, uniqueItems: true })),
  description: Type.Optional(text()),
});
export type CatalogParam = Static<typeof CatalogParam>;

/** A request type a provider serves, with the parameters it takes. */
export const CatalogType = Type.Object({
  type: Type.String({
    pattern: REQUEST_TYPE_PATTERN_SRC,
    errorMessage: 'must be a request type (lowercase letters, digits and -, at most 64)',
  }),
  description: Type.Optional(text()),
  parameters: Type.Array(CatalogParam, { maxItems: CATALOG_LIMITS.parameters }),
});
export type CatalogType = Static<typeof CatalogType>;

/** A recording a provider can read (the `recording` parameter names it). */
export const CatalogRecording = Type.Object({
  name: Type.String({ minLength: 1, maxLength: CATALOG_LIMITS.nameLength }),
  /** Samples per second (Hz). */
  sample_rate: finite({ minimum: 0 }),
  /** Centre frequency of the first capture (Hz). */
  center_frequency: finite(),
  /** Bandwidth captured (Hz): the sample rate for complex data, half of it for real data. */
  span: finite({ minimum: 0 }),
  /** Seconds. */
  duration: finite({ minimum: 0 }),
  /** SigMF `core:datatype`, e.g. `cf32_le`. */
  datatype: text(32),
});
export type CatalogRecording = Static<typeof CatalogRecording>;

/** `PUT /api/providers/me/catalog` body. */
export const Catalog = Type.Object({
  types: Type.Array(CatalogType, { maxItems: CATALOG_LIMITS.types }),
  recordings: Type.Array(CatalogRecording, { maxItems: CATALOG_LIMITS.recordings }),
});
export type Catalog = Static<typeof Catalog>;

/** One provider in `GET /api/providers`. `catalog` is null for a provider that announced none (a seed Type1). */
export const ProviderWire = Type.Object({
  user_id: Type.String(),
  username: Type.String(),
  online: Type.Boolean(),
  /** Last contact (push channel open, a poll, an announcement); "" when never seen since the server started. */
  last_seen: Type.String(),
  /** The request types from `PUT /api/me/request-types` (empty: every known type). */
  request_types: Type.Array(Type.String()),
  catalog: Type.Union([Catalog, Type.Null()]),
  catalog_updated_at: Type.String(),
});
export type ProviderWire = Static<typeof ProviderWire>;

/** `POST /api/ice/sessions/{id}/decline` body: why the provider will not serve the session. */
export const DeclineBody = Type.Object({
  code: Type.String({
    pattern: '^ERR_[A-Z0-9_]{1,60}$',
    errorMessage: 'must be an error code like ERR_PARAMS',
  }),
  message: Type.String({ maxLength: 2000 }),
});
export type DeclineBody = Static<typeof DeclineBody>;

/** The answer of a decline: the session as it stands after it (still `pending`, or `failed`). */
export const DeclineWire = Type.Object({
  session_id: Type.String(),
  status: Type.String(),
  /** Providers online that may still serve it. */
  providers_able: Type.Integer({ minimum: 0 }),
});
export type DeclineWire = Static<typeof DeclineWire>;

/** Why a catalog cannot serve a request (null: it can). */
export type CatalogMismatch = string | null;

/**
 * Whether a catalog can serve a request (docs/api.md §12, "Matching"): the type is in the catalog; every
 * parameter is one the type declares, of its JSON type, within its bounds and enum; a `recording`
 * parameter names a recording of the catalog. Parameters the catalog does not bound (or a type declared
 * with no parameters) are left to the provider. Returns null when it can, else the reason.
 */
export function matchCatalog(
  catalog: Catalog,
  requestType: string,
  params: Readonly<Record<string, unknown>>,
): CatalogMismatch {
  const t = catalog.types.find((x) => x.type === requestType);
  if (t === undefined) return `does not serve ${JSON.stringify(requestType)}`;
  if (t.parameters.length > 0) {
    for (const [name, value] of Object.entries(params)) {
      const p = t.parameters.find((x) => x.name === name);
      if (p === undefined) return `${requestType} takes no parameter ${JSON.stringify(name)}`;
      const why = paramMismatch(p, value);
      if (why !== null) return `parameters.${name}: ${why}`;
    }
  }
  const recording = params['recording'];
  if (recording !== undefined) {
    if (typeof recording !== 'string') return 'parameters.recording: must be a string';
    if (!catalog.recordings.some((r) => r.name === recording))
      return `has no recording ${JSON.stringify(recording)}`;
  }
  return null;
}

/** Why `value` does not fit parameter `p` (its JSON type, bounds, enum), or null; what {@link matchCatalog} checks per field. */
export function paramMismatch(p: CatalogParam, value: unknown): string | null {
  switch (p.type) {
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be a boolean';
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (p.enum !== undefined && !p.enum.includes(value)) return `must be one of ${p.enum.join(', ')}`;
      return null;
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a ${p.type}`;
      if (p.type === 'integer' && !Number.isInteger(value)) return 'must be an integer';
      const unit = p.unit === undefined ? '' : ` ${p.unit}`;
      if (p.minimum !== undefined && value < p.minimum) return `${value} is below ${p.minimum}${unit}`;
      if (p.exclusive_minimum !== undefined && value <= p.exclusive_minimum)
        return `must be above ${p.exclusive_minimum}${unit}, got ${value}`;
      if (p.maximum !== undefined && value > p.maximum) return `${value} is above ${p.maximum}${unit}`;
      return null;
    }
  }
}

/**
 * What is on offer, one line per provider, for the message of a request nobody can serve:
 * `alice (online): spectrum, signal; recordings: a, b`. At most `maxRecordings` names per provider.
 */
export function offerSummary(providers: readonly ProviderWire[], maxRecordings = 10): string {
  const online = providers.filter((p) => p.online);
  if (online.length === 0) return 'no provider is online';
  return online
    .map((p) => {
      if (p.catalog === null) {
        const types = p.request_types.length === 0 ? 'any type' : p.request_types.join(', ');
        return `${p.username}: ${types} (no catalog)`;
      }
      const types = p.catalog.types.map((t) => t.type).join(', ') || 'nothing';
      const recs = p.catalog.recordings.map((r) => r.name);
      const shown =
        recs.length === 0
          ? 'no recordings'
          : `recordings: ${recs.slice(0, maxRecordings).join(', ')}${recs.length > maxRecordings ? ` (+${recs.length - maxRecordings} more)` : ''}`;
      return `${p.username}: ${types}; ${shown}`;
    })
    .join(' | ');
}
