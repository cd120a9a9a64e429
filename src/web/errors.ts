/**
 * The browser client's own error codes (docs/errors.md "Browser client"). Everything else the page shows
 * is a code from elsewhere, passed on as it came: the server's (`{"error":{code}}`), the transfer
 * protocol's (`ERR_FRAME_CRC`, `ERR_HASH_MISMATCH`…), the provider's `error` signal, or the agents' codes
 * for the same situations (`ERR_NO_PROVIDER`, `ERR_CONNECT_TIMEOUT`, `ERR_ICE_FAILED`…).
 */
export const WEB_ERROR_CODES = ['ERR_NETWORK', 'ERR_PUSH_CLOSED', 'ERR_PAGE'] as const;
export type WebErrorCode = (typeof WEB_ERROR_CODES)[number];
