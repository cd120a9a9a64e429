/** `/api/auth/*` and `/api/me` (docs/api.md §1). */
import type { FastifyInstance } from 'fastify';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { ApiError } from '../errors.js';
import { LoginBody, LoginWire, RegisterBody, RequestTypesBody, UserWire, ErrorWire } from '../schemas.js';
import { sessionToWire, userToWire } from '../wire.js';
import type { ServerContext } from '../context.js';

/** Routes that need no token. */
export function registerPublicAuthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: RegisterBody }>(
    '/api/auth/register',
    { schema: { body: RegisterBody, response: { 201: UserWire, 409: ErrorWire } } },
    async (request, reply) => {
      if (!ctx.options.registration)
        throw new ApiError('ERR_REGISTRATION_CLOSED', 'registration is closed on this server');
      const wait = ctx.limiter.registerAttempt(request.ip);
      if (wait > 0)
        throw new ApiError(
          'ERR_RATE_LIMITED',
          `too many registrations from this address; retry in ${wait} s`,
          wait,
        );
      const body = request.body;
      const clientType = Number(body.client_type) as 1 | 2;
      const requestTypes = body.request_types ?? [];
      if (clientType === 2 && requestTypes.length > 0) {
        throw new ApiError('ERR_VALIDATION', 'body.request_types is for providers (client_type 1) only');
      }
      if ((await ctx.storage.users.byName(body.username)) !== undefined) {
        throw new ApiError('ERR_USERNAME_TAKEN', `username ${JSON.stringify(body.username)} is taken`);
      }
      const passwordHash = await hashPassword(body.password);
      const user = await ctx.storage.users.create(
        { username: body.username, passwordHash, clientType, requestTypes },
        new Date(ctx.now()).toISOString(),
      );
      ctx.directory.remember(user);
      request.log.info({ user: user.id, username: user.username, clientType }, 'user registered');
      return reply.code(201).send(userToWire(user));
    },
  );

  app.post<{ Body: LoginBody }>(
    '/api/auth/login',
    { schema: { body: LoginBody, response: { 200: LoginWire } } },
    async (request) => {
      const { username, password } = request.body;
      const wait = ctx.limiter.loginRetryAfterS(username, request.ip);
      if (wait > 0)
        throw new ApiError('ERR_RATE_LIMITED', `too many failed logins; retry in ${wait} s`, wait);
      const user = await ctx.directory.byName(username, true);
      const ok = await verifyPassword(password, user?.passwordHash);
      if (!ok || user === undefined) {
        ctx.limiter.loginFailed(username, request.ip);
        request.log.info({ username, ip: request.ip }, 'login failed');
        throw new ApiError('ERR_CREDENTIALS', 'wrong username or password');
      }
      ctx.limiter.loginSucceeded(username, request.ip);
      if (ctx.directory.isDisabled(user))
        throw new ApiError('ERR_USER_DISABLED', `user ${user.username} is disabled by an operator`);
      const issued = await ctx.tokens.issue(user.id, user.clientType);
      return {
        token: issued.token,
        user_id: String(user.id),
        client_type: user.clientType,
        expires_at: issued.expiresAt,
      };
    },
  );
}

/** Routes under the token hook. */
export function registerMeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/me', { schema: { response: { 200: UserWire } } }, async (request) =>
    userToWire(request.requireUser()),
  );

  app.put<{ Body: RequestTypesBody }>(
    '/api/me/request-types',
    { schema: { body: RequestTypesBody, response: { 200: UserWire } } },
    async (request) => {
      const user = request.requireUser();
      if (user.clientType !== 1)
        throw new ApiError('ERR_ROLE', 'only providers (client_type 1) declare request types');
      await ctx.storage.users.setRequestTypes(user.id, request.body.request_types);
      const updated = { ...user, requestTypes: request.body.request_types };
      ctx.directory.changed(updated);
      const open = await ctx.service.openSessionsFor(updated);
      for (const s of open) ctx.hub.toUser(user.id, { type: 'session', session: sessionToWire(s) });
      return userToWire(updated);
    },
  );
}
