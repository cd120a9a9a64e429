/**
 * Paged lists, as the services' repositories take and answer them: sorted by one whitelisted field, ties
 * broken by `id` in the same direction so pages are stable.
 */

/** Which page of a list, in which order. */
export interface ListQuery<F extends string> {
  sort: F;
  direction: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/** One page of rows and the number of rows matching the filters. */
export interface ListResult<R> {
  rows: R[];
  total: number;
}

/** A `LIKE … ESCAPE '\'` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
