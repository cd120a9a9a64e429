/**
 * The push channel `GET /api/ws` (docs/api.md §5): after `hello`, a provider receives every open session it
 * may serve (those open now, then each new one), every client receives the signals addressed to it and the
 * status changes of its sessions, and a client may post signals with the same rules as REST.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { StorageError, type UserRecord } from '../../storage/types.js';
import { authenticate, bearerToken, type Caller } from '../auth/authenticate.js';
import { ApiError, WS_CLOSE, errorBody, toApiError } from '../errors.js';
import { SIGNAL_TYPES, UUID_PATTERN } from '../schemas.js';
import { WS_BEARER_PROTOCOL, encodePushMessage } from '../../wire/push.js';
import { sessionToWire, signalToWire } from '../wire.js';
import type { ServerContext } from '../context.js';
import type { Heartbeat } from './heartbeat.js';
import type { SignalInput } from './handlers.js';

/** Largest message a client may send on the push channel. */
export const PUSH_MAX_MESSAGE_BYTES = 128 * 1024;
/** A reader this far behind is disconnected rather than buffered for without bound. */
export const PUSH_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const UUID_RE = new RegExp(UUID_PATTERN);

/**
 * Authenticates a WebSocket upgrade: `Authorization: Bearer`, the subprotocols `sdrlink-bearer, <token>`
 * (a browser's way, docs/api.md §5), or `?token=` (a JWT or an API key).
 * @throws ApiError with a token code.
 */
export async function wsCaller(ctx: ServerContext, request: FastifyRequest): Promise<Caller> {
  const header = request.headers.authorization;
  const offered = request.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim());
  let token: string;
  if (header !== undefined && header !== '') {
    token = bearerToken(header);
  } else if (offered?.[0] === WS_BEARER_PROTOCOL && offered.length === 2 && offered[1] !== '') {
    // ws answers with the first protocol offered: the name, never the token
    token = offered[1] as string;
  } else {
    const q = new URL(request.url, 'http://x').searchParams.get('token');
    if (q === null || q === '')
      throw new ApiError('ERR_TOKEN_MISSING', 'Authorization: Bearer <token> or ?token= is required');
    token = q;
  }
  return authenticate(ctx.tokens, ctx.directory, ctx.keys, token);
}

/** Closes a socket with a 4xxx code whose reason is the error code (≤ 123 bytes). */
export function closeWith(ws: WebSocket, code: number, reason: string): void {
  // a paused socket would never read the peer's closing handshake
  if (ws.isPaused) ws.resume();
  ws.close(code, reason.slice(0, 120));
}

export function registerPushRoute(app: FastifyInstance, ctx: ServerContext, heartbeat: Heartbeat): void {
  app.route({
    method: 'GET',
    url: '/api/ws',
    handler: upgradeRequired,
    wsHandler: (ws, request) => {
      ws.pause(); // nothing is read until the client is known
      heartbeat.track(ws);
      pushConnection(ctx, ws, request).catch((err: unknown) => {
        request.log.error({ err }, 'push connection failed');
        ws.terminate();
      });
    },
  });
}

/** A plain HTTP request on a WebSocket route: 426 in the one error shape. */
export async function upgradeRequired(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await reply
    .code(426)
    .header('upgrade', 'websocket')
    .send(errorBody('ERR_UPGRADE_REQUIRED', 'this route speaks WebSocket only (send Upgrade: websocket)'));
}

function validateSignalMessage(m: Record<string, unknown>): SignalInput {
  const sid = m['session_id'];
  if (typeof sid !== 'string' || !UUID_RE.test(sid))
    throw new ApiError('ERR_VALIDATION', 'message.session_id must be a session id (a UUID)');
  const type = m['signal_type'];
  if (typeof type !== 'string' || !(SIGNAL_TYPES as readonly string[]).includes(type)) {
    throw new ApiError('ERR_VALIDATION', `message.signal_type must be one of ${SIGNAL_TYPES.join(', ')}`);
  }
  const data = m['signal_data'];
  if (typeof data !== 'string') throw new ApiError('ERR_VALIDATION', 'message.signal_data must be a string');
  return { session_id: sid, signal_type: type as SignalInput['signal_type'], signal_data: data };
}

async function pushConnection(ctx: ServerContext, ws: WebSocket, request: FastifyRequest): Promise<void> {
  let caller: Caller;
  try {
    caller = await wsCaller(ctx, request);
  } catch (err) {
    closeWith(
      ws,
      WS_CLOSE.UNAUTHENTICATED,
      err instanceof ApiError ? `${err.code}: ${err.message}` : 'ERR_TOKEN_INVALID',
    );
    return;
  }
  if (ws.readyState !== ws.OPEN) return;
  const user: UserRecord = caller.user;
  // one account may not hold more than its share of push sockets (checked and subscribed synchronously
  // below, so concurrent upgrades cannot all slip under the cap)
  const held = ctx.hub.countFor(user.id);
  if (held >= ctx.options.maxPushPerUser) {
    request.log.info({ user: user.id, held }, 'push socket refused: per-user limit');
    closeWith(
      ws,
      WS_CLOSE.LIMIT,
      `ERR_PUSH_LIMIT: user holds ${held} push sockets (limit ${ctx.options.maxPushPerUser})`,
    );
    return;
  }
  // a revoked key, or the credential's expiry, ends the channel: the client hears why (4401)
  const unwatch = ctx.watch.watch(
    caller.credential,
    (code, message) => closeWith(ws, WS_CLOSE.UNAUTHENTICATED, `${code}: ${message}`),
    { expiry: true, userId: user.id },
  );
  ws.on('close', unwatch);
  const send = (text: string) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > PUSH_MAX_BUFFERED_BYTES) {
      closeWith(ws, WS_CLOSE.POLICY, 'ERR_SLOW_READER: push messages not read');
      return;
    }
    ws.send(text);
  };
  const userId = user.id;
  const unsubscribe = ctx.hub.subscribe({
    userId,
    clientType: user.clientType,
    mayServe: (session) => ctx.providers.mayOffer(ctx.directory.cached(userId) ?? user, session),
    send,
  });
  ws.on('close', () => {
    unsubscribe();
    if (user.clientType === 1) ctx.providers.seen(userId);
  });
  send(encodePushMessage({ type: 'hello', user_id: String(user.id), client_type: user.clientType }));
  for (const s of await ctx.service.openSessionsFor(user))
    send(encodePushMessage({ type: 'session', session: sessionToWire(s) }));

  let chain: Promise<void> = Promise.resolve();
  let warnedTooLarge = false;
  ws.on('message', (data, isBinary) => {
    chain = chain
      .then(() => onMessage(data, isBinary))
      .catch((err: unknown) => request.log.error({ err }, 'push message failed'));
  });
  ws.resume();

  async function onMessage(data: unknown, isBinary: boolean): Promise<void> {
    const buf = data as Buffer;
    let ref: number | string | undefined;
    try {
      if (isBinary) throw new ApiError('ERR_VALIDATION', 'the push channel takes text JSON messages only');
      if (buf.length > PUSH_MAX_MESSAGE_BYTES) {
        // logged once per connection: a client that keeps sending them must not flood the log
        if (!warnedTooLarge) {
          warnedTooLarge = true;
          request.log.warn(
            { user: userId, bytes: buf.length, limit: PUSH_MAX_MESSAGE_BYTES },
            'push message too large (refused; further ones on this connection are not logged)',
          );
        }
        throw new ApiError('ERR_VALIDATION', `message must be at most ${PUSH_MAX_MESSAGE_BYTES} bytes`);
      }
      let m: unknown;
      try {
        m = JSON.parse(buf.toString('utf8'));
      } catch (err) {
        throw new ApiError('ERR_JSON', `message is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof m !== 'object' || m === null || Array.isArray(m))
        throw new ApiError('ERR_VALIDATION', 'message must be a JSON object');
      const msg = m as Record<string, unknown>;
      const r = msg['ref'];
      if (r !== undefined && typeof r !== 'number' && typeof r !== 'string')
        throw new ApiError('ERR_VALIDATION', 'message.ref must be a number or a string');
      ref = r;
      switch (msg['type']) {
        case 'ping':
          send(encodePushMessage({ type: 'pong', ...(ref === undefined ? {} : { ref }) }));
          return;
        case 'signal': {
          const input = validateSignalMessage(msg);
          const current = (await ctx.directory.get(userId)) ?? user;
          const signal = await ctx.service.postSignal(current, input, 'message');
          send(
            encodePushMessage({
              type: 'result',
              ...(ref === undefined ? {} : { ref }),
              ok: true,
              signal: signalToWire(signal),
            }),
          );
          return;
        }
        default:
          throw new ApiError('ERR_VALIDATION', 'message.type must be one of signal, ping');
      }
    } catch (err) {
      // a database that is away for the moment is said so (as REST does, 503's code), not an internal error
      const e =
        err instanceof ApiError
          ? err
          : err instanceof StorageError && err.code === 'ERR_DB_UNAVAILABLE'
            ? toApiError(err, ctx.options.bodyLimit)
            : new ApiError('ERR_INTERNAL', 'internal server error', undefined, { cause: err });
      if (e.code === 'ERR_INTERNAL') request.log.error({ err }, 'push message failed');
      send(
        encodePushMessage({
          type: 'result',
          ...(ref === undefined ? {} : { ref }),
          ok: false,
          error: { code: e.code, message: e.message },
        }),
      );
    }
  }
}
