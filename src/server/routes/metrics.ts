/**
 * `GET /metrics` (docs/api.md §10): the Prometheus exposition of {@link ServerMetrics}. Open unless the
 * server was given `--metrics-token`; then `Authorization: Bearer <token>` is required (401 in the one
 * error shape otherwise). The token is compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { readBearerToken } from '../../http/bearer-auth.js';
import { ApiError } from '../errors.js';
import type { ServerContext } from '../context.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

export function registerMetricsRoute(app: FastifyInstance, ctx: ServerContext): void {
  const expected = ctx.options.metricsToken === undefined ? undefined : digest(ctx.options.metricsToken);
  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined) {
      const read = readBearerToken(request.headers.authorization);
      if ('problem' in read) {
        throw read.problem === 'missing'
          ? new ApiError('ERR_TOKEN_MISSING', 'Authorization: Bearer <metrics token> is required')
          : new ApiError('ERR_TOKEN_INVALID', 'Authorization must be Bearer <metrics token>');
      }
      if (!timingSafeEqual(digest(read.token), expected))
        throw new ApiError('ERR_TOKEN_INVALID', 'not the metrics token');
    }
    const { contentType, text } = await ctx.metrics.expose();
    return reply.header('content-type', contentType).send(text);
  });
}
