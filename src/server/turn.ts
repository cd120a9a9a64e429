/**
 * TURN with per-user, expiring credentials: the "TURN REST API" scheme that coturn implements
 * (`use-auth-secret` + `static-auth-secret`; draft-uberti-behave-turn-rest-00 §2.2). The server and coturn
 * share a secret; the server hands each authenticated user `username = EXPIRY:USERID` (EXPIRY in Unix
 * seconds) and `credential = base64(HMAC-SHA1(secret, username))`. coturn recomputes the credential from
 * the username and refuses it once EXPIRY has passed. The secret itself never leaves the server.
 */
import { createHmac } from 'node:crypto';

export interface TurnOptions {
  /** `turn:HOST[:PORT][?transport=udp]` URLs (libjuice relays over UDP only; see {@link parseTurnUrls}). */
  urls: string[];
  /** The secret shared with coturn (`static-auth-secret`). */
  secret: string;
  /** Lifetime of a credential in seconds. */
  ttlS: number;
}

export interface TurnCredential {
  username: string;
  credential: string;
}

/** The credential of `userId` valid until `nowMs + ttlS`. */
export function turnCredential(secret: string, userId: string, nowMs: number, ttlS: number): TurnCredential {
  const expiry = Math.floor(nowMs / 1000) + ttlS;
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

/** Why a URL is refused (the caller prefixes the flag's name). Undefined: usable. */
export function turnUrlProblem(url: string): string | undefined {
  if (/^turns:/i.test(url)) {
    return (
      `${JSON.stringify(url)}: TURN over TLS (turns:) is not supported by the agents' WebRTC stack ` +
      '(libdatachannel with libjuice relays over UDP only); networks without UDP use the WebSocket relay'
    );
  }
  const m = /^turn:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=([A-Za-z]+))?$/.exec(url);
  if (m === null) {
    return `${JSON.stringify(url)} is not a TURN URL: turn:HOST[:PORT][?transport=udp] expected (RFC 7065)`;
  }
  const host = m[1] as string;
  if (
    !host.startsWith('[') &&
    !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
  )
    return `${JSON.stringify(url)}: ${JSON.stringify(host)} is not a host name or address`;
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return `${JSON.stringify(url)}: port must be between 1 and 65535`;
  }
  const transport = m[3]?.toLowerCase();
  if (transport !== undefined && transport !== 'udp') {
    if (transport === 'tcp') {
      return (
        `${JSON.stringify(url)}: TURN over TCP is not supported by the agents' WebRTC stack ` +
        '(libdatachannel with libjuice: "TURN transports TCP and TLS are not supported"); ' +
        'networks without UDP use the WebSocket relay — give a UDP TURN URL'
      );
    }
    return `${JSON.stringify(url)}: transport must be udp, got ${JSON.stringify(m[3])}`;
  }
  return undefined;
}

/** Parses a comma-separated list of TURN URLs; throws an `Error` with the first problem's message. */
export function parseTurnUrls(text: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new Error('must name at least one turn:HOST[:PORT] URL');
  for (const u of list) {
    const problem = turnUrlProblem(u);
    if (problem !== undefined) throw new Error(problem);
  }
  return [...new Set(list)];
}

/** A shared secret: 16 to 256 visible ASCII characters (coturn's config line takes it as one word). */
export function turnSecretProblem(secret: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(secret)) return 'must be visible ASCII characters with no spaces';
  if (secret.length < 16) return `must be at least 16 characters, got ${secret.length}`;
  if (secret.length > 256) return `must be at most 256 characters, got ${secret.length}`;
  return undefined;
}

/** `90`, `90s`, `30m`, `1h`, `2d` → seconds; undefined when malformed. */
export function parseDurationS(text: string): number | undefined {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
