/**
 * The signaling server's error codes and their HTTP statuses (one table, docs/errors.md "Signaling
 * server"), the error class handlers throw, and the translation of everything else Fastify, ajv or the
 * storage layer can throw into the one wire shape `{"error":{"code","message"}}` (docs/api.md).
 */
import type { FastifyError } from 'fastify';
import type { ErrorReply } from '../http/errors.js';
import {
  formatValidationIssue,
  invalidPartMessage,
  issueFromAjv,
  type AjvError,
} from '../http/validation.js';
import { StorageError } from '../storage/types.js';

export { errorBody, excerpt } from '../http/errors.js';
import { excerpt } from '../http/errors.js';

/** Every code the HTTP API answers with, and its status. */
export const API_ERROR_STATUS = {
  ERR_VALIDATION: 400,
  ERR_JSON: 400,
  ERR_BAD_REQUEST: 400,
  ERR_BAD_URL: 400,
  ERR_REQUEST_TYPE: 400,
  ERR_TARGET: 400,
  ERR_TOKEN_MISSING: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_EXPIRED: 401,
  ERR_KEY_REVOKED: 401,
  ERR_CREDENTIALS: 401,
  ERR_USER_DISABLED: 401,
  ERR_FORBIDDEN: 403,
  ERR_ROLE: 403,
  ERR_REGISTRATION_CLOSED: 403,
  ERR_ORIGIN: 403,
  ERR_CATALOG_MISMATCH: 403,
  ERR_NOT_FOUND: 404,
  ERR_SESSION_NOT_FOUND: 404,
  ERR_KEY_NOT_FOUND: 404,
  ERR_USERNAME_TAKEN: 409,
  ERR_SESSION_CLAIMED: 409,
  ERR_SESSION_STATE: 409,
  ERR_SESSION_DECLINED: 409,
  ERR_CLAIM_RELEASED: 409,
  ERR_REQUEST_TIMEOUT: 408,
  ERR_BODY_TOO_LARGE: 413,
  ERR_URL_TOO_LONG: 414,
  ERR_MEDIA_TYPE: 415,
  ERR_UPGRADE_REQUIRED: 426,
  ERR_RATE_LIMITED: 429,
  ERR_TOO_MANY_SESSIONS: 429,
  ERR_TOO_MANY_KEYS: 429,
  ERR_SESSION_RATE: 429,
  ERR_HEADERS_TOO_LARGE: 431,
  ERR_INTERNAL: 500,
  ERR_UNAVAILABLE: 503,
  ERR_DB_UNAVAILABLE: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** WebSocket close codes of the push channel and the relay: part of the wire contract (src/wire/errors.ts). */
export { WS_CLOSE } from '../wire/errors.js';

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

/**
 * Turns the first ajv error into a message naming the field: `body.client_type must be 1 or 2`,
 * `body.password is required`, `querystring.after must be a decimal integer`. A schema can carry its own
 * wording in `errorMessage` (e.g. for enums and patterns).
 */
export function formatValidationError(errors: readonly AjvError[], context: string): string {
  const e = errors[0];
  return e === undefined
    ? invalidPartMessage(context, 'api')
    : formatValidationIssue(issueFromAjv(e, context), 'api');
}

/** Maps anything thrown while handling a request to an {@link ApiError}. */
export function toApiError(err: unknown, bodyLimit: number): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StorageError) {
    if (err.code === 'ERR_CONFLICT')
      return new ApiError('ERR_USERNAME_TAKEN', err.message, undefined, { cause: err });
    // PostgreSQL is restarting or cut off: the client may retry (the pool reconnects by itself)
    if (err.code === 'ERR_DB_UNAVAILABLE')
      return new ApiError('ERR_DB_UNAVAILABLE', 'the database is unavailable; retry shortly', 1, {
        cause: err,
      });
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
    // Fastify's own messages may quote the raw request: only a short, escaped excerpt goes back
    return new ApiError(
      'ERR_BAD_REQUEST',
      typeof fe.message === 'string' ? excerpt(fe.message) : 'bad request',
    );
  }
  return new ApiError('ERR_INTERNAL', 'internal server error', undefined, { cause: err });
}

/** The answer to anything thrown while the server handles a request (src/http/error-handler.ts sends it). */
export function apiErrorReply(err: unknown, bodyLimit: number): ErrorReply {
  const api = toApiError(err, bodyLimit);
  return {
    status: api.status,
    code: api.code,
    message: api.message,
    ...(api.retryAfterS !== undefined ? { headers: { 'retry-after': String(api.retryAfterS) } } : {}),
  };
}
