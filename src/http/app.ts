/**
 * The Fastify base of every sdrlink HTTP API (the signaling server, src/server/app.ts, and the services,
 * src/services/shared/http-app.ts): logging (logging.ts), optional HTTPS (tls.ts), the one error shape
 * and its handlers (error-handler.ts). Validation and the error registry stay the area's own, given here.
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifySchemaCompiler,
  type FastifyServerOptions,
} from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { installErrorHandlers } from './error-handler.js';
import { clientErrorReply, errorBody, frameworkErrorReply, type ErrorReply } from './errors.js';
import { httpLogging, type HttpLogOptions } from './logging.js';

/** Options of {@link createHttpApp}. */
export interface HttpAppOptions {
  /** Logging; no logger when absent. */
  log?: HttpLogOptions | undefined;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer } | undefined;
  trustProxy?: FastifyServerOptions['trustProxy'];
  routerOptions?: FastifyServerOptions['routerOptions'];
  /** Options of Fastify's own (ajv) validator. */
  ajv?: FastifyServerOptions['ajv'];
  /** A validator to use instead of ajv (e.g. typebox-validator.ts). */
  validatorCompiler?: FastifySchemaCompiler<never>;
  /** Turns anything thrown while handling a request into its answer (the area's code → status registry). */
  toErrorReply: (err: unknown) => ErrorReply;
}

/** Node's `clientError` (a request its parser refused): the one error shape, then close. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const r = clientErrorReply(err.code);
  const body = JSON.stringify(errorBody(r.code, r.message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Creates the app (not listening), with its error and not-found handlers installed.
 *
 * @example
 * const app = createHttpApp({ bodyLimit: 1 << 20, toErrorReply: (err) => toMyReply(err) });
 */
export function createHttpApp(o: HttpAppOptions): FastifyInstance {
  const common = {
    ...httpLogging(o.log),
    // routing errors (a URL that is not valid percent-encoding, an over-long path parameter) in the one
    // shape, through the area's registry
    frameworkErrors: ((err, _request, reply) => {
      const r = frameworkErrorReply(err.code) ?? o.toErrorReply(err);
      const plain = reply as unknown as FastifyReply;
      void plain.code(r.status).send(errorBody(r.code, r.message));
    }) satisfies FastifyServerOptions['frameworkErrors'],
    clientErrorHandler: answerClientError,
    bodyLimit: o.bodyLimit,
    ...(o.trustProxy !== undefined ? { trustProxy: o.trustProxy } : {}),
    ...(o.routerOptions !== undefined ? { routerOptions: o.routerOptions } : {}),
    ...(o.ajv !== undefined ? { ajv: o.ajv } : {}),
  };
  const app = (o.tls !== undefined
    ? Fastify({ ...common, https: { key: o.tls.key, cert: o.tls.cert } })
    : Fastify(common)) as unknown as FastifyInstance;
  if (o.validatorCompiler !== undefined) app.setValidatorCompiler(o.validatorCompiler);
  installErrorHandlers(app, o.toErrorReply);
  return app;
}
