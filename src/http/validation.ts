/**
 * One formatter for every 400 message that names a field, for the signaling server (its validator is
 * Fastify's ajv) and the services (their validator is TypeBox's compiler, typebox-validator.ts). Each
 * engine's error is first turned into a {@link ValidationIssue}; {@link formatValidationIssue} words it.
 *
 * The two APIs shipped with different wordings, and clients and tests rely on each, so the wording is an
 * option ({@link MessageStyle}) rather than two formatters:
 * - `api` (signaling server, docs/api.md): `body.client_type must be 1 or 2`, `body.password is required`,
 *   `body.request_types[0] has an invalid format (must match ^x$)`;
 * - `service` (products, batteries, docs/services.md): `query.limit: must be ≤ 100, got 500`,
 *   `body.name: required`, `unknown query parameter "limt" (allowed: …)` — the value received is quoted.
 */
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

/** How a message is worded: the signaling server's (`api`) or the services' (`service`). */
export type MessageStyle = 'api' | 'service';

/** What a validation rule found wrong, whichever engine found it. */
export interface ValidationIssue {
  /** The request part (`body`, `querystring`, `params`, `headers`) or another name (`parameters`). */
  part: string;
  /** Property names and array indexes from the part down to the faulty value (or its parent, see `property`). */
  path: readonly string[];
  rule:
    | 'required'
    | 'additionalProperties'
    | 'type'
    | 'enum'
    | 'const'
    | 'minLength'
    | 'maxLength'
    | 'minimum'
    | 'maximum'
    | 'exclusiveMinimum'
    | 'minItems'
    | 'maxItems'
    | 'uniqueItems'
    | 'pattern'
    | 'union'
    | 'other';
  /** `required`: the missing property; `additionalProperties`: the unknown one (`path` is the object). */
  property?: string;
  /** The bound, length or pattern of the rule. */
  limit?: unknown;
  /** `type`: the JSON types expected. */
  types?: readonly string[];
  /** `enum`, `const`, `union` of literals: the values allowed; `additionalProperties`: the properties. */
  allowed?: readonly unknown[];
  /** The value received (absent when there is none, e.g. a missing property). */
  value?: unknown;
  /** The schema's own sentence (`errorMessage`), e.g. for patterns and unions. */
  custom?: string;
  /** The engine's own message, for rules this module does not word. */
  fallback?: string;
}

/** Schema option read by the formatter: a human sentence replacing the engine's generic one. */
export interface ErrorMessageOption {
  errorMessage?: string;
}

const TYPE_WORDS: Record<MessageStyle, Record<string, string>> = {
  api: {
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    object: 'a JSON object',
    array: 'an array',
    boolean: 'a boolean',
    null: 'null',
  },
  service: {
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    object: 'a JSON object',
    array: 'an array',
    boolean: 'true or false',
    null: 'null',
  },
};

/** Names the services give the request parts in messages. */
const SERVICE_PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/** Rules a schema's `errorMessage` does not replace: their own wording is already precise. */
const KEEPS_OWN_WORDING: Record<MessageStyle, ReadonlySet<ValidationIssue['rule']>> = {
  api: new Set(['required', 'type']),
  service: new Set([
    'required',
    'additionalProperties',
    'minimum',
    'maximum',
    'exclusiveMinimum',
    'minLength',
    'maxLength',
  ]),
};

/**
 * Words a validation issue as one sentence naming the field, in the given style.
 *
 * @example
 * formatValidationIssue({ part: 'querystring', path: ['limit'], rule: 'maximum', limit: 100, value: 500 }, 'service');
 * // → 'query.limit: must be ≤ 100, got 500'
 */
export function formatValidationIssue(issue: ValidationIssue, style: MessageStyle): string {
  const field = fieldName(issue, style);
  const sentence = (text: string): string =>
    style === 'api' ? `${field} ${text}` : `${field}: ${text}, got ${describeValue(issue.value)}`;
  const limit = String(issue.limit);

  if (issue.rule === 'required') {
    const name = fieldName({ ...issue, path: [...issue.path, issue.property ?? ''] }, style, true);
    return style === 'api' ? `${name} is required` : `${name}: required`;
  }
  if (issue.rule === 'additionalProperties' && style === 'service') {
    const property = issue.property ?? '';
    const what =
      issue.part === 'querystring'
        ? 'unknown query parameter'
        : issue.part === 'parameters'
          ? 'unknown parameter'
          : 'unknown property';
    const allowed = (issue.allowed ?? []).map(String).join(', ');
    const key = [...issue.path, property].join('.');
    return `${what} "${key}"${allowed === '' ? '' : ` (allowed: ${allowed})`}`;
  }
  if (issue.custom !== undefined && !KEEPS_OWN_WORDING[style].has(issue.rule)) return sentence(issue.custom);

  switch (issue.rule) {
    case 'additionalProperties':
      return `${field} has an unknown property ${JSON.stringify(issue.property ?? '')}`;
    case 'type': {
      const words = TYPE_WORDS[style];
      return sentence(`must be ${(issue.types ?? []).map((t) => words[t] ?? t).join(' or ')}`);
    }
    case 'minimum':
      return sentence(`must be ≥ ${limit}`);
    case 'maximum':
      return sentence(`must be ≤ ${limit}`);
    case 'exclusiveMinimum':
      return sentence(`must be > ${limit}`);
    case 'minLength':
      return style === 'api'
        ? sentence(`must be at least ${limit} characters long`)
        : sentence(`must be at least ${limit} characters`);
    case 'maxLength':
      // the services show the length received, not the (long) value
      return style === 'api'
        ? sentence(`must be at most ${limit} characters long`)
        : `${field}: must be at most ${limit} characters, got ${String((issue.value as string).length)}`;
    case 'minItems':
      return style === 'api'
        ? sentence(`must have at least ${limit} items`)
        : `${field}: at least ${limit} items`;
    case 'maxItems':
      return style === 'api'
        ? sentence(`must have at most ${limit} items`)
        : `${field}: at most ${limit} items`;
    case 'uniqueItems':
      return sentence('must not contain duplicates');
    case 'pattern':
      return style === 'api'
        ? sentence(`has an invalid format (must match ${limit})`)
        : sentence(`must match ${limit}`);
    case 'enum':
    case 'const':
    case 'union': {
      if (issue.allowed === undefined) return sentence(lowerFallback(issue, style));
      if (issue.rule === 'const') return sentence(`must be ${JSON.stringify(issue.allowed[0])}`);
      const list =
        style === 'api' ? issue.allowed.map((v) => JSON.stringify(v)) : issue.allowed.map((v) => String(v));
      return sentence(`must be one of ${list.join(', ')}`);
    }
    default:
      return sentence(lowerFallback(issue, style));
  }
}

/** The message for a part refused without a reported issue (the engine gave no detail). */
export function invalidPartMessage(part: string, style: MessageStyle): string {
  return style === 'api' ? `${part} is invalid` : `${SERVICE_PART_NAMES[part] ?? part}: invalid`;
}

function lowerFallback(issue: ValidationIssue, style: MessageStyle): string {
  if (style === 'api') return issue.fallback ?? 'is invalid';
  return (issue.fallback ?? 'invalid').toLowerCase();
}

function fieldName(issue: ValidationIssue, style: MessageStyle, required = false): string {
  if (style === 'api') {
    const segments = issue.path.map((seg, i) =>
      // a missing property is always named with a dot, even when it looks like an index
      /^\d+$/.test(seg) && !(required && i === issue.path.length - 1) ? `[${seg}]` : `.${seg}`,
    );
    return `${issue.part}${segments.join('')}`;
  }
  const where = SERVICE_PART_NAMES[issue.part] ?? issue.part;
  return issue.path.length === 0 ? where : `${where}.${issue.path.join('.')}`;
}

/** The value received, as the services quote it. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list (give the parameter once)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function pointer(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** An error as ajv reports it (Fastify's validator, with `verbose: true` for `parentSchema`). */
export interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: Record<string, unknown>;
  data?: unknown;
}

/** An ajv error as a {@link ValidationIssue} of the request part `part`. */
export function issueFromAjv(e: AjvError, part: string): ValidationIssue {
  const issue: ValidationIssue = { part, path: pointer(e.instancePath), rule: 'other' };
  const custom = e.parentSchema?.['errorMessage'];
  if (typeof custom === 'string') issue.custom = custom;
  if (e.message !== undefined) issue.fallback = e.message;
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return { ...issue, rule: 'required', property: String(p['missingProperty']) };
    case 'additionalProperties':
      return { ...issue, rule: 'additionalProperties', property: String(p['additionalProperty']) };
    case 'type':
      return { ...issue, rule: 'type', types: [p['type']].flat().map(String) };
    case 'enum':
      return { ...issue, rule: 'enum', allowed: p['allowedValues'] as unknown[] };
    case 'const':
      return { ...issue, rule: 'const', allowed: [p['allowedValue']] };
    case 'pattern':
      return { ...issue, rule: 'pattern', limit: p['pattern'] };
    case 'minLength':
    case 'maxLength':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'minItems':
    case 'maxItems':
      return { ...issue, rule: e.keyword, limit: p['limit'] };
    case 'uniqueItems':
      return { ...issue, rule: 'uniqueItems' };
    default:
      return issue;
  }
}

const TYPEBOX_TYPES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.Integer]: 'integer',
  [ValueErrorType.Number]: 'number',
  [ValueErrorType.String]: 'string',
  [ValueErrorType.Boolean]: 'boolean',
  [ValueErrorType.Object]: 'object',
  [ValueErrorType.Array]: 'array',
};

/** A TypeBox value error as a {@link ValidationIssue} of the request part `part`. */
export function issueFromTypeBox(part: string, error: ValueError): ValidationIssue {
  const schema = error.schema as Record<string, unknown> & ErrorMessageOption;
  const path = pointer(error.path);
  const issue: ValidationIssue = { part, path, rule: 'other', value: error.value, fallback: error.message };
  if (schema.errorMessage !== undefined) issue.custom = schema.errorMessage;
  const type = TYPEBOX_TYPES[error.type];
  if (type !== undefined) return { ...issue, rule: 'type', types: [type] };
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
    case ValueErrorType.ObjectRequiredProperty: {
      // TypeBox points at the property itself; the issue names its object and the property
      const rule = error.type === ValueErrorType.ObjectRequiredProperty ? 'required' : 'additionalProperties';
      const allowed = Object.keys((schema['properties'] as object | undefined) ?? {});
      return { ...issue, rule, path: path.slice(0, -1), property: path.at(-1) ?? '', allowed };
    }
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return { ...issue, rule: 'maximum', limit: schema['maximum'] };
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return { ...issue, rule: 'minimum', limit: schema['minimum'] };
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return { ...issue, rule: 'exclusiveMinimum', limit: schema['exclusiveMinimum'] };
    case ValueErrorType.StringMaxLength:
      return { ...issue, rule: 'maxLength', limit: schema['maxLength'] };
    case ValueErrorType.StringMinLength:
      return { ...issue, rule: 'minLength', limit: schema['minLength'] };
    case ValueErrorType.StringPattern:
      return { ...issue, rule: 'pattern', limit: schema['pattern'] };
    case ValueErrorType.ArrayMaxItems:
      return { ...issue, rule: 'maxItems', limit: schema['maxItems'] };
    case ValueErrorType.ArrayMinItems:
      return { ...issue, rule: 'minItems', limit: schema['minItems'] };
    case ValueErrorType.Union: {
      const anyOf = schema['anyOf'] as Array<{ const?: unknown }> | undefined;
      const literals =
        anyOf?.every((s) => s.const !== undefined) === true ? anyOf.map((s) => s.const) : undefined;
      return literals === undefined
        ? { ...issue, rule: 'union' }
        : { ...issue, rule: 'union', allowed: literals };
    }
    default:
      return issue;
  }
}
