/**
 * One error shape for every reply of the services, the same as the signaling server's (docs/api.md):
 * `{"error":{"code":"ERR_…","message":"…"}}`. Domain errors carry their code; Fastify's own errors (bad
 * JSON, body too large, wrong content type) are translated here, at the edge (hono's pattern).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError, UpstreamTransferError, type ServiceErrorCode } from './errors.js';

/** The JSON body of every error reply. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Builds the error body. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
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

/** Installs the error and not-found handlers on an app. */
export function installErrorHandlers(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const t = translate(err, bodyLimit);
    if (t.status >= 500 && !(err instanceof UpstreamTransferError) && !(err instanceof ServiceError)) {
      request.log.error({ err }, 'unhandled error');
    }
    if (t.status === 401) void reply.header('www-authenticate', 'Bearer');
    return reply.status(t.status).send(errorBody(t.code, t.message));
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply
      .status(404)
      .send(errorBody('ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
}
