/**
 * Request validation with TypeBox's compiler instead of Fastify's shared Ajv instance, because the services
 * need two behaviours Ajv applies to all parts alike: query strings and path params are *coerced*
 * (`?limit=20` → 20) while bodies are not (`"price":"12"` is an error, not 12), and unknown properties are
 * *refused* (Fastify's default silently removes them: `?limt=5` must be a 400, not the first 20 rows).
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import {
  formatValidationIssue,
  invalidPartMessage,
  issueFromTypeBox,
  type MessageStyle,
} from './validation.js';

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

/** Options of {@link createTypeBoxValidatorCompiler}. */
export interface TypeBoxValidatorOptions {
  /** How 400 messages are worded (validation.ts). */
  style: MessageStyle;
  /** The error a refused part becomes (the area's validation error). */
  fail: (message: string) => Error;
}

function makeValidator(
  schema: TSchema,
  part: string,
  coerce: boolean,
  { style, fail }: TypeBoxValidatorOptions,
): (data: unknown) => unknown {
  const check = TypeCompiler.Compile(schema);
  return (data) => {
    let value: unknown = data;
    if (value !== undefined && value !== null) {
      value = Value.Default(schema, Value.Clone(value));
      if (coerce) value = coerceFlat(schema, value);
    }
    if (check.Check(value)) return value;
    const first = check.Errors(value).First();
    throw fail(
      first === undefined
        ? invalidPartMessage(part, style)
        : formatValidationIssue(issueFromTypeBox(part, first), style),
    );
  };
}

/**
 * A Fastify validator compiler over TypeBox: coerces query strings, params and headers, never bodies, and
 * refuses what the schema does not declare.
 *
 * @example
 * app.setValidatorCompiler(createTypeBoxValidatorCompiler({ style: 'service', fail: (m) => new ServiceError('ERR_VALIDATION', m) }));
 */
export function createTypeBoxValidatorCompiler(
  options: TypeBoxValidatorOptions,
): FastifySchemaCompiler<TSchema> {
  return ({ schema, httpPart }) => {
    const part = httpPart ?? 'body';
    const validate = makeValidator(schema, part, part !== 'body', options);
    return (data: unknown) => {
      try {
        return { value: validate(data) };
      } catch (err) {
        return { error: err as Error };
      }
    };
  };
}
