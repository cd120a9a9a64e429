/** `/api/transfers` (docs/api.md §3): participants report progress and outcome; users read their history. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TransferFilter } from '../../storage/types.js';
import { ApiError } from '../errors.js';
import { SessionParams, TransferBody, TransfersQuery, TransferWire } from '../schemas.js';
import { transferToWire } from '../wire.js';
import type { ServerContext } from '../context.js';
import { limitOf } from './ice.js';

/** A checked ISO 8601 value as the stored form (UTC, milliseconds), or a 400 naming the field. */
function timeOf(value: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ApiError('ERR_VALIDATION', `querystring.${field}: ${value} is not a date`);
  return new Date(ms).toISOString();
}

/** The query's filters, checked (`since` before `until`). */
export function filterOf(q: TransfersQuery): TransferFilter {
  const f: TransferFilter = {};
  if (q.status !== undefined) f.status = q.status;
  if (q.type !== undefined) f.requestType = q.type;
  if (q.provider !== undefined) f.providerName = q.provider;
  if (q.since !== undefined) f.since = timeOf(q.since, 'since');
  if (q.until !== undefined) f.until = timeOf(q.until, 'until');
  if (f.since !== undefined && f.until !== undefined && f.since >= f.until)
    throw new ApiError('ERR_VALIDATION', 'querystring.since must be before querystring.until');
  return f;
}

export function registerTransferRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Params: SessionParams; Body: TransferBody }>(
    '/api/transfers/:session_id',
    { schema: { params: SessionParams, body: TransferBody, response: { 200: TransferWire } } },
    async (request) =>
      transferToWire(
        await ctx.service.reportTransfer(request.requireUser(), request.params.session_id, request.body),
      ),
  );

  app.get<{ Querystring: TransfersQuery }>(
    '/api/transfers',
    { schema: { querystring: TransfersQuery, response: { 200: Type.Array(TransferWire) } } },
    async (request) => {
      const user = request.requireUser();
      const filter = filterOf(request.query);
      const list = await ctx.service.listTransfers(user, limitOf(request.query.limit, 100), filter);
      return list.map((t) => transferToWire(t, { provider: t.providerName, consumer: t.consumerName }));
    },
  );
}
