/** `GET /api/relay/{session_id}` (docs/api.md §6): authenticate, admit, hand the socket to the relay hub. */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { UserRecord } from '../../storage/types.js';
import type { Cluster } from '../cluster/cluster.js';
import { forwardRelay, relayUnavailable } from '../cluster/relay-forward.js';
import { ApiError, WS_CLOSE } from '../errors.js';
import { UUID_PATTERN } from '../schemas.js';
import { closeWith, upgradeRequired, wsCaller } from '../signaling/push.js';
import type { Heartbeat } from '../signaling/heartbeat.js';
import type { ServerContext } from '../context.js';

const UUID_RE = new RegExp(UUID_PATTERN);

export function registerRelayRoute(app: FastifyInstance, ctx: ServerContext, heartbeat: Heartbeat): void {
  app.route<{ Params: { session_id: string } }>({
    method: 'GET',
    url: '/api/relay/:session_id',
    handler: upgradeRequired,
    wsHandler: (ws, request) => {
      ws.pause(); // nothing is read (or lost) before the socket joins its relay
      heartbeat.track(ws);
      void (async () => {
        let caller;
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
        const user = caller.user;
        // revoking the key drops the relay too (its expiry does not: a transfer under way may finish)
        const unwatch = ctx.watch.watch(
          caller.credential,
          (code, message) => closeWith(ws, WS_CLOSE.UNAUTHENTICATED, `${code}: ${message}`),
          { expiry: false, userId: user.id },
        );
        ws.on('close', unwatch);
        const sessionId = request.params.session_id;
        if (!UUID_RE.test(sessionId)) {
          closeWith(ws, WS_CLOSE.NOT_FOUND, 'ERR_SESSION_NOT_FOUND');
          return;
        }
        const admission = await ctx.service.admitRelay(user, sessionId);
        if (!admission.ok) {
          request.log.info({ session: sessionId, user: user.id, code: admission.closeCode }, 'relay refused');
          closeWith(ws, admission.closeCode, admission.reason);
          return;
        }
        if (ws.readyState !== ws.OPEN) return;
        // several instances: the relay runs on the instance its first side reached; a side that reached
        // another one is piped there (src/server/cluster/relay-forward.ts)
        if (
          ctx.cluster !== undefined &&
          !(await runsHere(
            ctx,
            ctx.cluster,
            ws,
            request.log,
            user,
            admission.session.sessionId,
            admission.side,
          ))
        )
          return;
        if (ws.readyState !== ws.OPEN) return;
        request.log.info(
          { session: admission.session.sessionId, user: user.id, side: admission.side },
          'relay joined',
        );
        ctx.relay.join(admission.session.sessionId, admission.side, user.id, ws);
        if (ws.readyState === ws.OPEN) ws.resume();
      })().catch((err: unknown) => {
        request.log.error({ err }, 'relay connection failed');
        ws.terminate();
      });
    },
  });
}

/**
 * Several instances: whether this side's relay runs here (true: join it here). Otherwise the side is piped
 * to the instance that runs it (src/server/cluster/relay-forward.ts), or — that one unreachable — closed
 * with 1011 `ERR_RELAY_UNAVAILABLE`, unless that one is gone (no heartbeat): then this instance takes the
 * relay over and runs it (true). Returns false when the socket was handled.
 */
async function runsHere(
  ctx: ServerContext,
  cluster: Cluster,
  ws: WebSocket,
  log: FastifyBaseLogger,
  user: UserRecord,
  sessionId: string,
  side: string,
): Promise<boolean> {
  const owner = await cluster.relayOwner(sessionId);
  if (owner === undefined || owner.instanceId === cluster.instanceId) return true;
  log.info(
    { session: sessionId, user: user.id, side, owner: owner.instanceId },
    'relay forwarded to its instance',
  );
  const failed = await forwardRelay(ws, {
    ownerUrl: owner.url,
    ownerInstance: owner.instanceId,
    sessionId,
    userId: user.id,
    clientType: user.clientType,
    tokens: ctx.tokens,
    windowBytes: ctx.options.relay.windowBytes,
    maxMessageBytes: ctx.options.relay.maxMessageBytes,
    onError: (err) => log.warn({ err }, 'relay forward failed'),
  });
  if (failed === undefined) return false;
  const now = await cluster.takeOverRelay(sessionId, owner.instanceId);
  if (now?.instanceId === cluster.instanceId && ws.readyState === ws.OPEN) {
    log.warn(
      { session: sessionId, gone: owner.instanceId },
      'relay taken over from an instance that is gone',
    );
    return true;
  }
  log.warn({ session: sessionId, owner: owner.instanceId, why: failed }, 'relay owner unreachable');
  relayUnavailable(ws, owner.instanceId, failed);
  return false;
}
