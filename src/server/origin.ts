/**
 * Browsers on other origins (docs/api.md "Browsers and CORS"): the CORS answers of the REST API, and the
 * `Origin` check of the two WebSockets, both from one list, `--cors-origin` (`ServerOptions.corsOrigins`).
 *
 * CORS only tells a browser which pages may read an answer; it protects nothing on its own. The REST API
 * authenticates every call with `Authorization: Bearer`, which a page must hold and send itself, so no
 * credentials (cookies, HTTP auth) are ever allowed: `Access-Control-Allow-Credentials` is never sent,
 * which also makes `*` safe. A WebSocket has no preflight: the browser connects and reports the page's
 * origin in `Origin`, so the server checks it (RFC 6455 §10.2) and answers 403 `ERR_ORIGIN` before the
 * upgrade to an origin it does not allow. A request without `Origin` is not a browser's (the agents, the
 * seed's Go clients) and passes unchanged.
 */
import type { FastifyCorsOptions } from '@fastify/cors';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ApiError } from './errors.js';

/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_S = 600;

/** Longest part of a refused `Origin` echoed in the error message. */
const MAX_ECHOED_ORIGIN = 200;

/**
 * The options of `@fastify/cors` for a list of allowed origins (`['*']`: any): the methods and request
 * headers of the API, its `Retry-After` readable by the page, and never credentials.
 */
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  return {
    // an array (even of one) makes the plugin echo the request's origin when listed, and add Vary: Origin
    origin: origins.includes('*') ? '*' : [...origins],
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: ['retry-after'],
    maxAge: CORS_MAX_AGE_S,
    // an OPTIONS request without Origin or Access-Control-Request-Method is not a preflight; the plugin's
    // strict mode would answer it with a text/plain 400, outside the API's one error shape
    strictPreflight: false,
  };
}

/**
 * Whether a request from `origin` may open a WebSocket: no `Origin` (not a browser), the server's own
 * origin (`protocol://host` of the request), or one of `origins` (`['*']`: any).
 */
export function isOriginAllowed(
  origin: string | undefined,
  origins: readonly string[],
  own: { protocol: string; host: string },
): boolean {
  if (origin === undefined) return true;
  if (origins.includes('*') || origins.includes(origin)) return true;
  return origin === `${own.protocol}://${own.host}`;
}

/**
 * An `onRequest` hook for the WebSocket routes: refuses a request whose `Origin` is not allowed
 * ({@link isOriginAllowed}) with 403 `ERR_ORIGIN`, before the upgrade.
 */
export function webSocketOriginHook(
  origins: readonly string[],
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return (request, _reply, done) => {
    const origin = request.headers.origin;
    if (isOriginAllowed(origin, origins, request)) {
      done();
      return;
    }
    request.log.info({ origin, url: request.url.split('?')[0] }, 'websocket origin refused');
    done(
      new ApiError(
        'ERR_ORIGIN',
        `origin ${JSON.stringify((origin ?? '').slice(0, MAX_ECHOED_ORIGIN))} may not open this WebSocket: ` +
          "only the server's own origin and those of --cors-origin may",
      ),
    );
  };
}
