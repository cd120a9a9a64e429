/** Errors of the provider and consumer agents. Codes are listed in docs/errors.md ("Agents"). */
export const AGENT_ERROR_CODES = [
  'ERR_CONFIG',
  'ERR_DATA_DIR_LOCKED',
  'ERR_SERVER',
  'ERR_AUTH',
  'ERR_SERVER_RESPONSE',
  'ERR_SERVER_UNREACHABLE',
  'ERR_TLS',
  'ERR_TLS_PIN',
  'ERR_PROVIDER',
  'ERR_NO_PROVIDER',
  'ERR_CONNECT_TIMEOUT',
  'ERR_ICE_FAILED',
  'ERR_SCTP_STALLED',
  'ERR_SIGNAL_INVALID',
  'ERR_SESSION_ENDED',
  'ERR_TRANSFER',
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

/**
 * What an agent was waiting for when it gave up (set on `ERR_CONNECT_TIMEOUT`), so callers tell "no
 * provider answered" from "no direct path" without reading the message.
 * - `offer`: a provider to claim the session (the consumer's first wait);
 * - `answer`: the consumer's answer to the provider's offer;
 * - `channel`: an open data channel once the descriptions were exchanged (ICE/DTLS);
 * - `relay`: the other participant at the relay;
 * - `file`: the provider's own file to be produced.
 */
export type AgentWait = 'offer' | 'answer' | 'channel' | 'relay' | 'file';

export class AgentError extends Error {
  override name = 'AgentError';
  /** HTTP status, when the server refused a call. */
  readonly status: number | undefined;
  /** The server's or the peer's own error code, when one was given. */
  readonly serverCode: string | undefined;
  /** On a timeout: what was being waited for. */
  readonly waitingFor: AgentWait | undefined;
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: ErrorOptions & { status?: number; serverCode?: string; waitingFor?: AgentWait },
  ) {
    super(message, options);
    this.status = options?.status;
    this.serverCode = options?.serverCode;
    this.waitingFor = options?.waitingFor;
  }
}
