/** `/api/providers` (docs/api.md §12): providers announce their catalog; anyone signed in lists them. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Catalog, ProviderWire } from '../../wire/index.js';
import { ApiError } from '../errors.js';
import { sessionToWire } from '../wire.js';
import type { ServerContext } from '../context.js';

/** A catalog of 10 000 recordings (the most it may list) is larger than the API's usual body limit. */
export const CATALOG_BODY_LIMIT = 8 * 1024 * 1024;

export function registerProviderRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.put<{ Body: Catalog }>(
    '/api/providers/me/catalog',
    {
      bodyLimit: Math.max(ctx.options.bodyLimit, CATALOG_BODY_LIMIT),
      schema: { body: Catalog, response: { 200: ProviderWire } },
    },
    async (request) => {
      const user = request.requireUser();
      if (user.clientType !== 1)
        throw new ApiError('ERR_ROLE', 'only providers (client_type 1) announce a catalog');
      const catalog = request.body;
      const seen = new Set<string>();
      for (const [i, t] of catalog.types.entries()) {
        if (seen.has(t.type))
          throw new ApiError('ERR_VALIDATION', `body.types/${i}/type: ${t.type} is listed twice`);
        seen.add(t.type);
      }
      await ctx.providers.setCatalog(user.id, catalog);
      request.log.info(
        { user: user.id, types: catalog.types.length, recordings: catalog.recordings.length },
        'catalog announced',
      );
      // sessions its new catalog can serve are offered now (push), as after a change of request types
      for (const s of await ctx.service.openSessionsFor(user))
        ctx.hub.toUser(user.id, { type: 'session', session: sessionToWire(s) });
      const me = (await ctx.providers.list([user.id])).find((p) => p.user_id === String(user.id));
      if (me === undefined) throw new ApiError('ERR_INTERNAL', 'catalog stored but not listed');
      return me;
    },
  );

  app.get('/api/providers', { schema: { response: { 200: Type.Array(ProviderWire) } } }, async (request) => {
    request.requireUser();
    return ctx.providers.list(ctx.hub.connectedProviders());
  });
}
