/**
 * The one error shape of every sdrlink HTTP API (the signaling server's, docs/api.md, and the services',
 * docs/services.md): `{"error":{"code":"ERR_…","message":"…"}}`. Each area keeps its own registry of
 * codes and statuses (`API_ERROR_STATUS` in src/server/errors.ts, `SERVICE_ERROR_STATUS` in
 * src/services/shared/errors.ts) and turns what it throws into an {@link ErrorReply}.
 */
import type { ErrorWire } from '../wire/errors.js';

/** The JSON body of every error answer: the wire contract's (src/wire/errors.ts), which clients check. */
export type ErrorBody = ErrorWire;

/** Builds the error body. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** How to answer an error: what an area's translation decided (error-handler.ts sends it). */
export interface ErrorReply {
  status: number;
  code: string;
  message: string;
  /** Extra response headers (`retry-after`, `www-authenticate`). */
  headers?: Readonly<Record<string, string>>;
  /** Log the thrown error with its stack as a server fault; default: when `status` ≥ 500. */
  fault?: boolean;
}

/** Longest excerpt of client input an error message quotes. */
export const MAX_EXCERPT = 80;

/**
 * A short excerpt of text that came from a client, safe to put in an error message: at most
 * {@link MAX_EXCERPT} characters, control and non-ASCII characters escaped (JSON string escapes, then
 * `\uXXXX` for the rest), `…` when cut.
 */
export function excerpt(text: string, max = MAX_EXCERPT): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = JSON.stringify(cut)
    .slice(1, -1)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${escaped}…` : escaped;
}

/**
 * The answer to a URL the router refused before any route was chosen (Fastify's `frameworkErrors`): not
 * valid percent-encoded UTF-8, or a path parameter over the router's limit. Every area answers these the
 * same way, never quoting the URL; undefined for another error (the area's registry answers it).
 */
export function frameworkErrorReply(
  errCode: string | undefined,
): { status: number; code: string; message: string } | undefined {
  switch (errCode) {
    case 'FST_ERR_BAD_URL':
      return {
        status: 400,
        code: 'ERR_BAD_URL',
        message: 'the request URL is not valid percent-encoded UTF-8',
      };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        status: 414,
        code: 'ERR_URL_TOO_LONG',
        message: 'a path parameter of the request URL is too long',
      };
    default:
      return undefined;
  }
}

/**
 * The answer to a request Node's HTTP parser refused before any route saw it (`clientError`): a header
 * block over the limit (the request line included: an over-long URL lands here), a malformed request, a
 * request that took too long to arrive. In the one error shape, and never quoting the request.
 */
export function clientErrorReply(errCode: string | undefined): {
  status: number;
  code: string;
  message: string;
} {
  switch (errCode) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'ERR_HEADERS_TOO_LARGE',
        message: "the request line and headers exceed the server's limit",
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'ERR_REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    default:
      return { status: 400, code: 'ERR_BAD_REQUEST', message: 'malformed HTTP request' };
  }
}
