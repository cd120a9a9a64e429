/**
 * JSON Schema that TypeBox cannot express as one node (an `enum` of mixed values, a `type` list), kept as
 * written so ajv (the server) reports one error with the schema's own `errorMessage` (an `anyOf` would
 * report one error per branch first), and still checkable by TypeBox's `Value` and `TypeCompiler` (the
 * agents, a browser) through a registered kind.
 */
import { Kind, Type, TypeRegistry, type TUnsafe } from '@sinclair/typebox';

/** JSON types as JSON Schema names them. */
export type JsonTypeName = 'string' | 'integer' | 'number' | 'object' | 'array' | 'boolean' | 'null';

/** The subset of JSON Schema {@link raw} accepts: what the wire contract needs, and all of it checked. */
export interface RawSchema {
  type?: JsonTypeName | readonly JsonTypeName[];
  enum?: readonly (string | number | boolean | null)[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  /** How the server words a failure of this field (src/server/errors.ts `formatValidationError`). */
  errorMessage?: string;
}

const RAW_KIND = 'WireRaw';

function hasType(value: unknown, t: JsonTypeName): boolean {
  switch (t) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
  }
}

/** Checks `value` against a {@link RawSchema} exactly as ajv would. */
export function checkRaw(schema: RawSchema, value: unknown): boolean {
  if (schema.enum !== undefined && !schema.enum.includes(value as never)) return false;
  if (schema.type !== undefined) {
    const types: readonly JsonTypeName[] = typeof schema.type === 'string' ? [schema.type] : schema.type;
    if (!types.some((t) => hasType(value, t))) return false;
  }
  if (typeof value === 'string' && (schema.minLength !== undefined || schema.maxLength !== undefined)) {
    // JSON Schema counts code points, not UTF-16 units (ajv's ucs2length).
    let n = 0;
    for (const _ of value) n++;
    if (schema.minLength !== undefined && n < schema.minLength) return false;
    if (schema.maxLength !== undefined && n > schema.maxLength) return false;
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) return false;
  return true;
}

if (!TypeRegistry.Has(RAW_KIND)) {
  TypeRegistry.Set<RawSchema>(RAW_KIND, (schema, value) => checkRaw(schema, value));
}

/** A {@link RawSchema} with its static type `T`. */
export function raw<T>(schema: RawSchema): TUnsafe<T> {
  return Type.Unsafe<T>({ ...schema, [Kind]: RAW_KIND });
}

/** A string enum with the server's wording `must be one of a, b, c`. */
export function enumOf<const T extends string>(values: readonly T[]): TUnsafe<T> {
  return raw<T>({ type: 'string', enum: values, errorMessage: `must be one of ${values.join(', ')}` });
}
