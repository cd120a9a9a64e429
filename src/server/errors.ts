/**
 * The signaling server's error codes and their HTTP statuses (one table, docs/errors.md "Signaling
 * server"), the error class handlers throw, and the translation of everything else Fastify, ajv or the
 * storage layer can throw into the one wire shape `{"error":{"code","message"}}` (docs/api.md).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StorageError } from '../storage/types.js';

/** Every code the HTTP API answers with, and its status. */
export const API_ERROR_STATUS = {
  ERR_VALIDATION: 400,
  ERR_JSON: 400,
  ERR_BAD_REQUEST: 400,
  ERR_REQUEST_TYPE: 400,
  ERR_TARGET: 400,
  ERR_TOKEN_MISSING: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_EXPIRED: 401,
  ERR_CREDENTIALS: 401,
  ERR_FORBIDDEN: 403,
  ERR_ROLE: 403,
  ERR_REGISTRATION_CLOSED: 403,
  ERR_NOT_FOUND: 404,
  ERR_SESSION_NOT_FOUND: 404,
  ERR_USERNAME_TAKEN: 409,
  ERR_SESSION_CLAIMED: 409,
  ERR_SESSION_STATE: 409,
  ERR_BODY_TOO_LARGE: 413,
  ERR_MEDIA_TYPE: 415,
  ERR_UPGRADE_REQUIRED: 426,
  ERR_RATE_LIMITED: 429,
  ERR_TOO_MANY_SESSIONS: 429,
  ERR_INTERNAL: 500,
  ERR_UNAVAILABLE: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/**
 * WebSocket close codes of the push channel and the relay (docs/api.md §5, §6). 4xxx mirror HTTP.
 */
export const WS_CLOSE = {
  /** Missing, malformed, forged or expired token. */
  UNAUTHENTICATED: 4401,
  /** Not a participant of the session, or the wrong kind of client. */
  FORBIDDEN: 4403,
  /** No such session. */
  NOT_FOUND: 4404,
  /** The relay peer did not arrive within the join timeout. */
  JOIN_TIMEOUT: 4408,
  /** Session claimed by another provider, final, or this side already joined. */
  CONFLICT: 4409,
  /** Relay limits: concurrent relays, bytes per relay, bytes per user. */
  LIMIT: 4429,
  /** Protocol violation (data before relay-ready, a message too large, a slow push reader). */
  POLICY: 1008,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
} as const;

/** An error a handler throws on purpose: a stable code, a precise message, optional Retry-After. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly retryAfterS?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = API_ERROR_STATUS[code];
  }
}

/** The body of every error answer. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: Record<string, unknown>;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  object: 'a JSON object',
  array: 'an array',
  boolean: 'a boolean',
  null: 'null',
};

function describeType(t: unknown): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

/**
 * Turns the first ajv error into a message naming the field: `body.client_type must be 1 or 2`,
 * `body.password is required`, `querystring.after must be a decimal integer`. A schema can carry its own
 * wording in `errorMessage` (e.g. for enums and patterns).
 */
export function formatValidationError(errors: readonly AjvError[], context: string): string {
  const e = errors[0];
  if (e === undefined) return `${context} is invalid`;
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
  const field = `${context}${path}`;
  if (e.keyword === 'required') return `${field}.${String(e.params['missingProperty'])} is required`;
  const custom = e.parentSchema?.['errorMessage'];
  if (typeof custom === 'string' && e.keyword !== 'type') return `${field} ${custom}`;
  switch (e.keyword) {
    case 'type':
      return `${field} must be ${describeType(e.params['type'])}`;
    case 'enum':
      return `${field} must be one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${field} must be ${JSON.stringify(e.params['allowedValue'])}`;
    case 'minLength':
      return `${field} must be at least ${String(e.params['limit'])} characters long`;
    case 'maxLength':
      return `${field} must be at most ${String(e.params['limit'])} characters long`;
    case 'minimum':
      return `${field} must be ≥ ${String(e.params['limit'])}`;
    case 'maximum':
      return `${field} must be ≤ ${String(e.params['limit'])}`;
    case 'minItems':
      return `${field} must have at least ${String(e.params['limit'])} items`;
    case 'maxItems':
      return `${field} must have at most ${String(e.params['limit'])} items`;
    case 'uniqueItems':
      return `${field} must not contain duplicates`;
    case 'pattern':
      return `${field} has an invalid format (must match ${String(e.params['pattern'])})`;
    case 'additionalProperties':
      return `${field} has an unknown property ${JSON.stringify(e.params['additionalProperty'])}`;
    default:
      return `${field} ${e.message ?? 'is invalid'}`;
  }
}

/** Maps anything thrown while handling a request to an {@link ApiError}. */
export function toApiError(err: unknown, bodyLimit: number): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StorageError) {
    if (err.code === 'ERR_CONFLICT')
      return new ApiError('ERR_USERNAME_TAKEN', err.message, undefined, { cause: err });
    return new ApiError('ERR_INTERNAL', 'internal storage error', undefined, { cause: err });
  }
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return new ApiError(
      'ERR_VALIDATION',
      formatValidationError(fe.validation, fe.validationContext ?? 'request'),
    );
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('ERR_BODY_TOO_LARGE', `request body exceeds the limit of ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('ERR_MEDIA_TYPE', 'unsupported content-type: send application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('ERR_BAD_REQUEST', 'request body size does not match Content-Length');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('ERR_JSON', 'request body is not valid JSON');
    default:
      break;
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new ApiError('ERR_BAD_REQUEST', typeof fe.message === 'string' ? fe.message : 'bad request');
  }
  return new ApiError('ERR_INTERNAL', 'internal server error', undefined, { cause: err });
}

/** Fastify error handler: one JSON shape for every error; server faults are logged, client faults not. */
export function makeErrorHandler(bodyLimit: number) {
  return function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const api = toApiError(err, bodyLimit);
    if (api.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: api.code, msg: api.message }, 'request refused');
    if (api.retryAfterS !== undefined) void reply.header('retry-after', String(api.retryAfterS));
    void reply.code(api.status).send(errorBody(api.code, api.message));
  };
}
