/** `GET /healthz` (docs/api.md §7): liveness plus a database round trip (and which database); no auth. */
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../errors.js';
import type { ServerContext } from '../context.js';

export function registerHealthRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', async (request, reply) => {
    try {
      await ctx.storage.users.byId(0);
    } catch (err) {
      request.log.error({ err }, 'health check: database unavailable');
      return reply.code(503).send(errorBody('ERR_UNAVAILABLE', `database unavailable (${ctx.storage.kind})`));
    }
    const relay = ctx.relay.stats();
    return {
      status: 'ok',
      instance: ctx.instanceId,
      db: { kind: ctx.storage.kind, ok: true },
      ...(ctx.cluster === undefined
        ? {}
        : { cluster: { instances: ctx.cluster.peers().length + 1, url: ctx.cluster.url } }),
      uptime_s: Math.round((ctx.now() - ctx.startedAt) / 1000),
      push_connections: ctx.hub.size,
      relays: { active: relay.active, waiting: relay.waiting, buffered_bytes: relay.bufferedBytes },
    };
  });
}
