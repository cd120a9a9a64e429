/** `/api/keys` (docs/api.md §1.1): a user's API keys — create (the secret shown once), list, revoke. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyRecord } from '../../storage/types.js';
import { ApiKeyWire, CreateKeyBody, NewApiKeyWire } from '../../wire/keys.js';
import { keyStatus } from '../auth/api-keys.js';
import type { ServerContext } from '../context.js';
import { ListQuery } from '../schemas.js';
import { limitOf } from './ice.js';

const KeyParams = Type.Object({
  id: Type.String({ pattern: '^[1-9][0-9]{0,15}$', errorMessage: 'must be a key id (a positive integer)' }),
});
type KeyParams = Static<typeof KeyParams>;

function keyToWire(k: ApiKeyRecord, nowMs: number): ApiKeyWire {
  return {
    id: String(k.id),
    name: k.name,
    prefix: k.prefix,
    user_id: String(k.userId),
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    expires_at: k.expiresAt,
    revoked_at: k.revokedAt,
    status: keyStatus(k, nowMs),
  };
}

export function registerKeyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CreateKeyBody }>(
    '/api/keys',
    { schema: { body: CreateKeyBody, response: { 201: NewApiKeyWire } } },
    async (request, reply) => {
      const user = request.requireUser();
      const { record, key } = await ctx.keys.create(user, request.body.name, request.body.expires_in);
      request.log.info({ user: user.id, key: record.id, name: record.name }, 'api key created');
      return reply.code(201).send({ ...keyToWire(record, ctx.now()), key });
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/keys',
    { schema: { querystring: ListQuery, response: { 200: Type.Array(ApiKeyWire) } } },
    async (request) => {
      const list = await ctx.keys.list(request.requireUser(), limitOf(request.query.limit, 100));
      const now = ctx.now();
      return list.map((k) => keyToWire(k, now));
    },
  );

  app.delete<{ Params: KeyParams }>(
    '/api/keys/:id',
    { schema: { params: KeyParams, response: { 200: ApiKeyWire } } },
    async (request) => {
      const user = request.requireUser();
      const revoked = await ctx.keys.revoke(user, Number(request.params.id));
      // its open push and relay sockets end now, not at their next call
      ctx.watch.keyRevoked(revoked.id, revoked.prefix);
      request.log.info({ user: user.id, key: revoked.id }, 'api key revoked');
      return keyToWire(revoked, ctx.now());
    },
  );
}
