/**
 * List endpoints: `limit` (1..100, default 20), `offset` (≥ 0, default 0) and `sort=field` / `sort=-field`
 * from a whitelist; the answer is `{items, total, limit, offset}`. Ties are broken by `id`, so pages are
 * stable.
 */
import { Type, type TSchema } from '@sinclair/typebox';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

/** Query-string properties every list endpoint has. */
export function paginationProperties<F extends string>(sortFields: readonly F[], defaultSort: string) {
  const values = [...sortFields, ...sortFields.map((f) => `-${f}`)];
  return {
    limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
    offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
    sort: Type.Union(
      values.map((v) => Type.Literal(v)),
      { default: defaultSort, errorMessage: `must be one of ${values.join(', ')}` },
    ) as TSchema,
  };
}

/** A parsed `sort` value. */
export interface SortSpec<F extends string> {
  field: F;
  direction: 'asc' | 'desc';
}

/** `-price` → `{field:'price', direction:'desc'}` (the value was validated against the whitelist). */
export function parseSort<F extends string>(sort: string): SortSpec<F> {
  return sort.startsWith('-')
    ? { field: sort.slice(1) as F, direction: 'desc' }
    : { field: sort as F, direction: 'asc' };
}

/** The body of every list answer. */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** Parses a comma list of positive integer ids (`"3,1,2"`); the schema pattern already checked the form. */
export function parseIdList(text: string): number[] {
  return [...new Set(text.split(',').map((s) => Number(s)))];
}
