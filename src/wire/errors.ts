/**
 * Errors on the wire (docs/api.md, docs/errors.md "Signaling server"): every refused HTTP call answers
 * `{"error":{"code":"ERR_…","message":"…"}}`; the push channel's refusals carry the same `{code, message}`;
 * a WebSocket the server closes with a 4xxx code gives `ERR_…: detail` as the close reason.
 */
import { Type, type Static } from '@sinclair/typebox';

/** `{code, message}`: what the server refused and why. */
export const ErrorDetail = Type.Object({ code: Type.String(), message: Type.String() });
export type ErrorDetail = Static<typeof ErrorDetail>;

/** The body of every HTTP error answer. */
export const ErrorWire = Type.Object({ error: ErrorDetail });
export type ErrorWire = Static<typeof ErrorWire>;

/**
 * The codes (HTTP 401, WebSocket 4401) that mean "who are you?": no, a bad or an expired token (JWT or
 * API key), a revoked API key; bad credentials; a user an operator disabled.
 */
export const AUTH_ERROR_CODES = [
  'ERR_TOKEN_MISSING',
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_KEY_REVOKED',
  'ERR_CREDENTIALS',
  'ERR_USER_DISABLED',
] as const;

/**
 * WebSocket close codes of the push channel and the relay (docs/api.md §5, §6; docs/errors.md). 4xxx mirror
 * HTTP statuses; the close reason starts with the error code.
 */
export const WS_CLOSE = {
  /**
   * Missing, malformed, forged or expired token or API key; also sent on an open socket when its API key
   * is revoked (`ERR_KEY_REVOKED`), its token or key expires (`ERR_TOKEN_EXPIRED`), or an operator disables
   * its user (`ERR_USER_DISABLED`).
   */
  UNAUTHENTICATED: 4401,
  /** Not a participant of the session, or the wrong kind of client. */
  FORBIDDEN: 4403,
  /** No such session. */
  NOT_FOUND: 4404,
  /** The relay peer did not arrive within the join timeout. */
  JOIN_TIMEOUT: 4408,
  /** Session claimed by another provider, final, or this side already joined. */
  CONFLICT: 4409,
  /** Limits: concurrent relays (all, and per user), bytes per relay, bytes per user, push sockets per user. */
  LIMIT: 4429,
  /** Protocol violation (data before relay-ready, a message too large, a slow push reader). */
  POLICY: 1008,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  /** Several server instances: the instance running the session's relay cannot be reached now. */
  UNAVAILABLE: 1011,
} as const;

/** A close reason split into the server's code and what follows it. */
export interface CloseReason {
  /** `ERR_SESSION_STATE` */
  code: string;
  /** `completed` (empty when the reason is the code alone). */
  detail: string;
}

const CLOSE_REASON = /^(ERR_[A-Z0-9_]+)(?::\s*(.*))?$/s;

/**
 * Parses a server's WebSocket close reason, `ERR_…` optionally followed by `: detail`.
 * @returns undefined when the reason does not start with an error code (`peer left`, `server shutting down`).
 * @example parseCloseReason('ERR_SESSION_STATE: completed') // { code: 'ERR_SESSION_STATE', detail: 'completed' }
 */
export function parseCloseReason(reason: string): CloseReason | undefined {
  const m = CLOSE_REASON.exec(reason);
  if (m === null) return undefined;
  return { code: m[1] as string, detail: m[2] ?? '' };
}
