/** Errors of the provider and consumer agents. Codes are listed in docs/errors.md ("Agents"). */
export const AGENT_ERROR_CODES = [
  'ERR_CONFIG',
  'ERR_SERVER',
  'ERR_SERVER_UNREACHABLE',
  'ERR_PROVIDER',
  'ERR_CONNECT_TIMEOUT',
  'ERR_ICE_FAILED',
  'ERR_SIGNAL_INVALID',
  'ERR_SESSION_ENDED',
  'ERR_TRANSFER',
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export class AgentError extends Error {
  override name = 'AgentError';
  /** HTTP status, when the server refused a call. */
  readonly status: number | undefined;
  /** The server's or the peer's own error code, when one was given. */
  readonly serverCode: string | undefined;
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: ErrorOptions & { status?: number; serverCode?: string },
  ) {
    super(message, options);
    this.status = options?.status;
    this.serverCode = options?.serverCode;
  }
}
