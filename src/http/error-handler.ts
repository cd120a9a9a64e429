/**
 * Fastify's error and not-found handlers for every sdrlink HTTP API: one JSON shape (errors.ts), server
 * faults logged with their stack, client faults at debug level only (they are the client's to read, and
 * would flood the log under a misbehaving client).
 */
import type { FastifyInstance } from 'fastify';
import { errorBody, excerpt, type ErrorReply } from './errors.js';

/**
 * Installs the error handler (anything thrown while handling a request, translated by `toReply`, which
 * holds the area's code → status registry) and the not-found handler (`ERR_NOT_FOUND`).
 */
export function installErrorHandlers(app: FastifyInstance, toReply: (err: unknown) => ErrorReply): void {
  app.setErrorHandler((err, request, reply) => {
    const r = toReply(err);
    if (r.fault ?? r.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: r.code, msg: r.message }, 'request refused');
    for (const [name, value] of Object.entries(r.headers ?? {})) void reply.header(name, value);
    void reply.code(r.status).send(errorBody(r.code, r.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = excerpt(request.url.split('?')[0] ?? '');
    void reply.code(404).send(errorBody('ERR_NOT_FOUND', `no route ${request.method} ${path}`));
  });
}
