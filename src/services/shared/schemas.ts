/**
 * TypeBox building blocks both services use.
 */
import { Type } from '@sinclair/typebox';

/** Visible text: no control characters, no leading or trailing spaces. */
export function Text(maxLength: number) {
  return Type.String({
    minLength: 1,
    maxLength,
    pattern: '^[^\\s\\x00-\\x1f\\x7f](?:[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$',
    errorMessage: `must be 1-${maxLength} characters of text without control characters or surrounding spaces`,
  });
}

/** Largest id accepted anywhere (JavaScript's safe integers; SQLite's rowid is wider). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A positive integer id. */
export const Id = Type.Integer({ minimum: 1, maximum: MAX_ID });

/** `/{id}` path parameters. */
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

/** A comma list of 1..100 positive integer ids, e.g. `3,1,2`. */
export const IdList = Type.String({
  pattern: '^[1-9][0-9]{0,15}(,[1-9][0-9]{0,15}){0,99}$',
  errorMessage: 'must be a comma list of 1 to 100 positive integer ids',
});

/** A literal union from a list of strings. */
export function OneOf<T extends string>(values: readonly T[]) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { errorMessage: `must be one of ${values.join(', ')}` },
  );
}
