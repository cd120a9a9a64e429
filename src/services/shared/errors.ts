/**
 * Errors of the products and batteries services, one registry for both (docs/errors.md "Services").
 * Codes that mean the same as the signaling server's (src/server/errors.ts) carry the same name.
 * Every code maps to exactly one HTTP status; the error handler (`error-handler.ts`) turns any of them into
 * the one JSON shape every sdrlink HTTP API answers: `{"error":{"code":"ERR_…","message":"…"}}`.
 */
import { StorageError } from '../../storage/types.js';

export type ServiceErrorCode =
  | 'ERR_VALIDATION'
  | 'ERR_JSON'
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_NOT_FOUND'
  | 'ERR_PROVIDER_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_MEDIA_TYPE'
  | 'ERR_UPSTREAM'
  | 'ERR_REPORT_UNVERIFIED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_TLS'
  | 'ERR_CONFIG'
  | 'ERR_INTERNAL';

/** The HTTP status of each code (ws's `kStatusCode`, fastify's `statusCode`). */
export const SERVICE_ERROR_STATUS: Readonly<Record<ServiceErrorCode, number>> = {
  ERR_VALIDATION: 400,
  ERR_JSON: 400,
  ERR_TOKEN_MISSING: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_NOT_FOUND: 404,
  ERR_PROVIDER_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_BODY_TOO_LARGE: 413,
  ERR_MEDIA_TYPE: 415,
  ERR_INTERNAL: 500,
  ERR_UPSTREAM: 502,
  ERR_REPORT_UNVERIFIED: 502,
  ERR_UNAVAILABLE: 503,
  // Start-up errors: never answered over HTTP, the CLI prints them and exits.
  ERR_TLS: 500,
  ERR_CONFIG: 500,
};

/** An error with a stable code, answered as `{"error":{code,message}}` with the code's HTTP status. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  /** HTTP status, read by Fastify and by our error handler. */
  readonly statusCode: number;
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.statusCode = SERVICE_ERROR_STATUS[code];
  }
}

/**
 * A report exchange that failed in the transfer layer: answered with 502 and the agent's own code
 * (`ERR_FRAME_CRC`, `ERR_HASH_MISMATCH`, `ERR_TIMEOUT`, …, docs/errors.md "Transfer protocol" / "Agents"),
 * so a client can tell a corrupted chunk from a provider that never answered.
 */
export class UpstreamTransferError extends Error {
  override name = 'UpstreamTransferError';
  readonly statusCode = 502;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Opens a service's database with `open`, turning a storage failure (unreadable file, failed migration)
 * into the start-up error `ERR_CONFIG` the CLI prints.
 */
export function openServiceStore<T>(open: (path: string) => T, path: string): T {
  try {
    return open(path);
  } catch (err) {
    if (err instanceof StorageError) throw new ServiceError('ERR_CONFIG', err.message, { cause: err });
    throw err;
  }
}
