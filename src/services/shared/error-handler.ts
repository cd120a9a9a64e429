/**
 * How the services answer errors, in the one shape of every sdrlink HTTP API (src/http/errors.ts):
 * domain errors carry their code; Fastify's own errors (bad JSON, body too large, wrong content type) are
 * translated here, at the edge (hono's pattern), with the statuses of `SERVICE_ERROR_STATUS`.
 */
import type { FastifyError } from 'fastify';
import type { ErrorReply } from '../../http/errors.js';
import { ServiceError, UpstreamTransferError, type ServiceErrorCode } from './errors.js';

/** The answer to anything thrown while a service handles a request. */
export function serviceErrorReply(err: unknown, bodyLimit: number): ErrorReply {
  const t = translate(err as FastifyError | Error, bodyLimit);
  // Domain errors are expected outcomes (an unreachable provider, a refused report), logged where they
  // happen; only anything else answered with 500 is a fault whose stack belongs in the log.
  const domain = err instanceof ServiceError || err instanceof UpstreamTransferError;
  return {
    ...t,
    fault: !domain && t.status >= 500,
    ...(t.status === 401 ? { headers: { 'www-authenticate': 'Bearer' } } : {}),
  };
}

function translate(
  err: FastifyError | Error,
  bodyLimit: number,
): { status: number; code: string; message: string } {
  if (err instanceof ServiceError || err instanceof UpstreamTransferError) {
    return { status: err.statusCode, code: err.code, message: err.message };
  }
  const fe = err as FastifyError;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  const byStatus: Partial<Record<number, ServiceErrorCode>> = {
    400: 'ERR_VALIDATION',
    401: 'ERR_TOKEN_INVALID',
    404: 'ERR_NOT_FOUND',
    413: 'ERR_BODY_TOO_LARGE',
    415: 'ERR_MEDIA_TYPE',
  };
  let code = byStatus[status];
  if (code === undefined) return { status: 500, code: 'ERR_INTERNAL', message: 'internal error' };
  let message = fe.message;
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    code = 'ERR_JSON';
    message = 'body: empty, but Content-Type is application/json';
  } else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    message = `unsupported Content-Type; send application/json`;
  else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    message = `body: larger than the limit of ${bodyLimit} bytes`;
  else if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    code = 'ERR_JSON';
    message = `body: invalid JSON (${fe.message})`;
  }
  return { status, code, message };
}
