/** `/api/transfers` (docs/api.md §3): participants report progress and outcome; users read their history. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ListQuery, SessionParams, TransferBody, TransferWire } from '../schemas.js';
import { transferToWire } from '../wire.js';
import type { ServerContext } from '../context.js';
import { limitOf } from './ice.js';

export function registerTransferRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Params: SessionParams; Body: TransferBody }>(
    '/api/transfers/:session_id',
    { schema: { params: SessionParams, body: TransferBody, response: { 200: TransferWire } } },
    async (request) =>
      transferToWire(
        await ctx.service.reportTransfer(request.requireUser(), request.params.session_id, request.body),
      ),
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/transfers',
    { schema: { querystring: ListQuery, response: { 200: Type.Array(TransferWire) } } },
    async (request) => {
      const list = await ctx.service.listTransfers(request.requireUser(), limitOf(request.query.limit, 100));
      return list.map(transferToWire);
    },
  );
}
