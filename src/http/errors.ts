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
