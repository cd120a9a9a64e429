/**
 * Transfer errors (docs/protocol.md §5). Every failure of a transfer, local or reported by the peer,
 * surfaces as a `TransferError` with one of these stable codes; the same codes travel in `error` control
 * messages (§3.6). docs/errors.md lists them all.
 */

/** Every code of docs/protocol.md §5, in the order of the table. */
export const TRANSFER_ERROR_CODES = [
  'ERR_FRAME_SHORT',
  'ERR_FRAME_KIND',
  'ERR_FRAME_RESERVED',
  'ERR_FRAME_OFFSET',
  'ERR_FRAME_SIZE',
  'ERR_FRAME_CRC',
  'ERR_MESSAGE_INVALID',
  'ERR_MESSAGE_TYPE',
  'ERR_UNEXPECTED',
  'ERR_RESUME_OFFSET',
  'ERR_SIZE_MISMATCH',
  'ERR_HASH_MISMATCH',
  'ERR_UNVERIFIED',
  'ERR_TOO_LARGE',
  'ERR_FILENAME',
  'ERR_IO',
  'ERR_DISK_FULL',
  'ERR_CHANNEL_CLOSED',
  'ERR_TIMEOUT',
  'ERR_PEER_GONE',
  'ERR_ABORTED',
  'ERR_PEER',
] as const;

/** A stable transfer error code (docs/protocol.md §5). */
export type TransferErrorCode = (typeof TRANSFER_ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(TRANSFER_ERROR_CODES);

/** True when `code` is one of the §5 codes. */
export function isTransferErrorCode(code: string): code is TransferErrorCode {
  return CODE_SET.has(code);
}

/** Options of {@link TransferError}: the standard `cause`, and for `ERR_PEER` what the peer said. */
export interface TransferErrorOptions extends ErrorOptions {
  /** For ERR_PEER: the `code` of the peer's `error` message (§3.6), as received. */
  peerCode?: string;
  /** For ERR_PEER: the `message` of the peer's `error` message, as received. */
  peerMessage?: string;
}

/**
 * A failed transfer. `code` is stable (switch on it, never on the text). For `ERR_PEER`, `peerCode` and
 * `peerMessage` carry what the peer reported in its `error` message (docs/protocol.md §3.6).
 *
 * @example
 * try { await receiveFile(channel, opts); }
 * catch (err) { if (err instanceof TransferError && err.code === 'ERR_PEER') log(err.peerCode); }
 */
export class TransferError extends Error {
  override name = 'TransferError';
  readonly code: TransferErrorCode;
  readonly peerCode: string | undefined;
  readonly peerMessage: string | undefined;

  constructor(code: TransferErrorCode, message: string, options?: TransferErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.peerCode = options?.peerCode;
    this.peerMessage = options?.peerMessage;
  }
}

/**
 * Turns anything thrown into a TransferError: a TransferError passes through, anything else becomes
 * `fallback` with the original as `cause` (e.g. a disk error from an injected writer becomes ERR_IO).
 */
export function toTransferError(err: unknown, fallback: TransferErrorCode, context: string): TransferError {
  if (err instanceof TransferError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TransferError(fallback, `${context}: ${detail}`, { cause: err });
}
