/**
 * Request validation with TypeBox's compiler instead of Fastify's shared Ajv instance, because the services
 * need two behaviours Ajv applies to all parts alike: query strings and path params are *coerced*
 * (`?limit=20` → 20) while bodies are not (`"price":"12"` is an error, not 12), and unknown properties are
 * *refused* (Fastify's default silently removes them: `?limt=5` must be a 400, not the first 20 rows).
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { ServiceError } from './errors.js';

/** Schema option read by the message formatter: a human sentence replacing TypeBox's generic one. */
export interface ErrorMessageOption {
  errorMessage?: string;
}

const PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/** Turns TypeBox's first error into one precise sentence, e.g. `query.limit: must be ≤ 100, got 500`. */
export function formatValidationError(part: string, error: ValueError): string {
  const where = PART_NAMES[part] ?? part;
  const key = error.path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const name = key === '' ? where : `${where}.${key}`;
  const got = describeValue(error.value);
  const schema = error.schema as TSchema & ErrorMessageOption;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const allowed = Object.keys((schema as { properties?: object }).properties ?? {}).join(', ');
      const what =
        part === 'querystring'
          ? 'unknown query parameter'
          : part === 'parameters'
            ? 'unknown parameter'
            : 'unknown property';
      return `${what} "${key}"${allowed === '' ? '' : ` (allowed: ${allowed})`}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return `${name}: required`;
    default:
      break;
  }
  // Bounds are precise on their own; a schema's sentence covers patterns, unions and wrong types.
  const bounds = [
    ValueErrorType.NumberMaximum,
    ValueErrorType.IntegerMaximum,
    ValueErrorType.NumberMinimum,
    ValueErrorType.IntegerMinimum,
    ValueErrorType.NumberExclusiveMinimum,
    ValueErrorType.IntegerExclusiveMinimum,
    ValueErrorType.StringMaxLength,
    ValueErrorType.StringMinLength,
  ];
  if (schema.errorMessage !== undefined && !bounds.includes(error.type)) {
    return `${name}: ${schema.errorMessage}, got ${got}`;
  }
  switch (error.type) {
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `${name}: must be ≤ ${String(schema['maximum'])}, got ${got}`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `${name}: must be ≥ ${String(schema['minimum'])}, got ${got}`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `${name}: must be > ${String(schema['exclusiveMinimum'])}, got ${got}`;
    case ValueErrorType.StringMaxLength:
      return `${name}: must be at most ${String(schema['maxLength'])} characters, got ${String((error.value as string).length)}`;
    case ValueErrorType.StringMinLength:
      return `${name}: must be at least ${String(schema['minLength'])} characters, got ${got}`;
    case ValueErrorType.StringPattern:
      return `${name}: must match ${String(schema['pattern'])}, got ${got}`;
    case ValueErrorType.Integer:
      return `${name}: must be an integer, got ${got}`;
    case ValueErrorType.Number:
      return `${name}: must be a number, got ${got}`;
    case ValueErrorType.String:
      return `${name}: must be a string, got ${got}`;
    case ValueErrorType.Boolean:
      return `${name}: must be true or false, got ${got}`;
    case ValueErrorType.Object:
      return `${name}: must be a JSON object, got ${got}`;
    case ValueErrorType.Array:
      return `${name}: must be an array, got ${got}`;
    case ValueErrorType.ArrayMaxItems:
      return `${name}: at most ${String(schema['maxItems'])} items`;
    case ValueErrorType.ArrayMinItems:
      return `${name}: at least ${String(schema['minItems'])} items`;
    case ValueErrorType.Union: {
      const options = literalOptions(schema);
      if (options !== undefined) return `${name}: must be one of ${options.join(', ')}, got ${got}`;
      return `${name}: ${error.message.toLowerCase()}, got ${got}`;
    }
    default:
      return `${name}: ${error.message.toLowerCase()}, got ${got}`;
  }
}

function literalOptions(schema: TSchema): string[] | undefined {
  const anyOf = (schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (anyOf === undefined || !anyOf.every((s) => s.const !== undefined)) return undefined;
  return anyOf.map((s) => String(s.const));
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list (give the parameter once)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const NUMERIC = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * Coerces the string values of a flat object (query string, path params) to the numbers and booleans its
 * schema declares. Strict, unlike TypeBox's `Value.Convert` (which truncates `"1.5"` to the integer 1):
 * only a canonical decimal becomes a number, and the schema then checks integer-ness and bounds.
 */
function coerceFlat(schema: TSchema, value: unknown): unknown {
  const props = (schema as { properties?: Record<string, { type?: unknown }> }).properties;
  if (props === undefined || typeof value !== 'object' || value === null || Array.isArray(value))
    return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, v] of Object.entries(out)) {
    const type = props[key]?.type;
    if (typeof v !== 'string') continue;
    if ((type === 'number' || type === 'integer') && NUMERIC.test(v)) out[key] = Number(v);
    else if (type === 'boolean' && (v === 'true' || v === 'false')) out[key] = v === 'true';
  }
  return out;
}

function makeValidator(schema: TSchema, part: string, coerce: boolean): (data: unknown) => unknown {
  const check = TypeCompiler.Compile(schema);
  return (data) => {
    let value: unknown = data;
    if (value !== undefined && value !== null) {
      value = Value.Default(schema, Value.Clone(value));
      if (coerce) value = coerceFlat(schema, value);
    }
    if (check.Check(value)) return value;
    const first = check.Errors(value).First();
    const message =
      first === undefined ? `${PART_NAMES[part] ?? part}: invalid` : formatValidationError(part, first);
    throw new ServiceError('ERR_VALIDATION', message);
  };
}

/** Fastify validator compiler: coerces query strings, params and headers, never bodies. */
export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const part = httpPart ?? 'body';
  const validate = makeValidator(schema, part, part !== 'body');
  return (data: unknown) => {
    try {
      return { value: validate(data) };
    } catch (err) {
      return { error: err as Error };
    }
  };
};
