/**
 * Relays across instances (docs/api.md §6, docs/architecture.md "Several instances"): a session's relay
 * runs on one instance, its owner — the one its first side reached, recorded on the session (migration
 * 009) — and a side that reaches another instance is forwarded there: this instance opens the same
 * `/api/relay/{session_id}` WebSocket on the owner, authenticated as the same user with a short token it
 * signs with the secret every instance shares, and pipes every message both ways as it is (text stays
 * text, binary stays binary), with the relay's backpressure: when a direction has `windowBytes` not yet
 * flushed, the socket it reads from is paused until half of it is. The owner admits, pairs, limits and
 * counts the relay's bytes as for a local side (once); a close on either leg closes the other with the
 * same code and reason.
 */
import WebSocket, { type RawData } from 'ws';
import type { ClientType } from '../../storage/types.js';
import { WS_CLOSE } from '../errors.js';
import type { TokenService } from '../auth/jwt.js';

/** Lifetime of the token a forwarding instance signs for the owner (used once, at the upgrade). */
const FORWARD_TOKEN_TTL_S = 60;

/** How long the owner may take to accept the forwarded socket. */
const FORWARD_CONNECT_MS = 10_000;

function size(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

/** A close code that may be sent on (1005, 1006 and 1015 are reserved: they only describe a close). */
function sendable(code: number): number {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006) || code >= 3000
    ? code
    : 1000;
}

export interface ForwardOptions {
  readonly ownerUrl: string;
  readonly ownerInstance: string;
  readonly sessionId: string;
  readonly userId: number;
  readonly clientType: ClientType;
  readonly tokens: TokenService;
  readonly windowBytes: number;
  readonly maxMessageBytes: number;
  readonly onError: (err: unknown) => void;
}

/** Closes a client's relay socket: the instance running its relay cannot be reached. */
export function relayUnavailable(client: WebSocket, ownerInstance: string, why: string): void {
  if (client.isPaused) client.resume();
  if (client.readyState === client.OPEN)
    client.close(
      WS_CLOSE.UNAVAILABLE,
      `ERR_RELAY_UNAVAILABLE: instance ${ownerInstance} running this relay: ${why}`.slice(0, 120),
    );
}

/**
 * Pipes a client's relay socket (paused, not yet read) to the owner instance. Resolves with undefined once
 * piping, or with why the owner could not be reached (the client's socket is left as it was, paused).
 */
export async function forwardRelay(client: WebSocket, o: ForwardOptions): Promise<string | undefined> {
  const { token } = await o.tokens.issue(o.userId, o.clientType, FORWARD_TOKEN_TTL_S);
  const url = `${o.ownerUrl.replace(/^http/, 'ws')}/api/relay/${encodeURIComponent(o.sessionId)}`;
  const upstream = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
    maxPayload: o.maxMessageBytes,
    handshakeTimeout: FORWARD_CONNECT_MS,
  });
  let opened = false;
  let failure: string | undefined;
  upstream.on('error', (err) => {
    if (!opened) failure ??= err.message;
    else o.onError(err);
  });
  upstream.on('unexpected-response', (_req, res) => {
    failure ??= `HTTP ${String(res.statusCode)}`;
    upstream.terminate();
  });
  // the client leaving before the owner answered ends the attempt
  client.once('close', () => {
    if (!opened) upstream.terminate();
  });
  await new Promise<void>((resolve) => {
    upstream.once('open', () => resolve());
    upstream.once('close', () => resolve());
  });
  if (upstream.readyState !== upstream.OPEN) return failure ?? 'closed before it opened';
  opened = true;
  if (client.readyState !== client.OPEN) {
    upstream.close(1000, 'peer left');
    return undefined;
  }
  pipe(client, upstream, o.windowBytes);
  pipe(upstream, client, o.windowBytes);
  client.on('close', (code, reason) => {
    if (upstream.readyState === upstream.OPEN || upstream.readyState === upstream.CONNECTING)
      upstream.close(sendable(code), reason.toString());
  });
  upstream.on('close', (code, reason) => {
    if (client.isPaused) client.resume();
    if (client.readyState === client.OPEN) client.close(sendable(code), reason.toString());
  });
  client.on('error', () => client.terminate());
  if (client.isPaused) client.resume();
  return undefined;
}

/** Sends what `from` receives to `to`, pausing `from` while `to` has `windowBytes` unflushed. */
function pipe(from: WebSocket, to: WebSocket, windowBytes: number): void {
  let pending = 0;
  let paused = false;
  from.on('message', (data, isBinary) => {
    if (to.readyState !== to.OPEN) return;
    const len = size(data);
    pending += len;
    to.send(data, { binary: isBinary }, () => {
      pending -= len;
      if (paused && pending <= windowBytes / 2) {
        paused = false;
        if (from.readyState === from.OPEN) from.resume();
      }
    });
    if (!paused && pending >= windowBytes) {
      paused = true;
      from.pause();
    }
  });
}
