/**
 * The browser client (docs/api.md §13, README "In a browser"): `GET /` serves the page that
 * `npm run build` bundled into `dist/web/` (scripts/build-web.mjs), and `GET /<file>` its assets — every
 * file of that folder, nothing from elsewhere, no CDN. Each answer carries a strict Content-Security-Policy
 * (scripts and styles from this origin only, no inline script, no eval; connections to this origin only),
 * so neither a file the server sends nor data a peer sends can run as script in the page.
 * `GET /app-config.json` tells the page what the server allows (registration open or not).
 *
 * The files are read once, when the server starts: a server without a built client answers `/` with 404
 * `ERR_NOT_FOUND` saying so, and the API is unaffected.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from '../errors.js';

/** Where `npm run build` puts the client: `dist/web/`, beside `dist/src/`. */
export const WEB_ROOT = fileURLToPath(new URL('../../../web/', import.meta.url));

/** The page's Content-Security-Policy (docs/api.md §13). */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every file of the client. */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WEB_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The built files by name (flat: the build writes no folders), read once. */
function loadFiles(root: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return files; // not built: `/` says so
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) continue;
    files.set(name, { type, body: readFileSync(join(root, name)) });
  }
  return files;
}

export interface WebRouteOptions {
  /** Whether `POST /api/auth/register` is open (the page offers registration only then). */
  registration: boolean;
  /** The built client's folder (default {@link WEB_ROOT}). */
  root?: string;
}

export function registerWebRoutes(app: FastifyInstance, o: WebRouteOptions): void {
  const files = loadFiles(o.root ?? WEB_ROOT);
  const send = (reply: FastifyReply, name: string) => {
    const f = files.get(name);
    if (f === undefined) {
      const why = files.size === 0 ? 'the web client is not built (npm run build)' : `no file /${name}`;
      return reply.code(404).send(errorBody('ERR_NOT_FOUND', why));
    }
    return reply.headers(WEB_HEADERS).type(f.type).send(f.body);
  };
  // static files, not API: kept out of the OpenAPI document (docs/api.md §11)
  const hide = { schema: { hide: true } };
  app.get('/', hide, (_request, reply) => send(reply, 'index.html'));
  app.get('/app-config.json', hide, (_request, reply) =>
    reply.headers(WEB_HEADERS).send({ registration: o.registration ? 'open' : 'closed' }),
  );
  for (const name of files.keys()) {
    if (name !== 'index.html') app.get(`/${name}`, hide, (_request, reply) => send(reply, name));
  }
}
