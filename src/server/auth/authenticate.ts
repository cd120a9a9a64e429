/**
 * Bearer-token authentication for REST routes (an `onRequest` hook, so a request without a valid token
 * is refused before its body is even read) and for WebSocket upgrades (`?token=` is accepted there,
 * because browsers cannot set headers on a WebSocket).
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { bearerAuth, readBearerToken } from '../../http/bearer-auth.js';
import type { UserRecord } from '../../storage/types.js';
import { ApiError } from '../errors.js';
import type { UserDirectory } from '../signaling/directory.js';
import type { TokenService } from './jwt.js';

const missingToken = (): ApiError =>
  new ApiError('ERR_TOKEN_MISSING', 'Authorization: Bearer <token> is required');
const malformedToken = (): ApiError =>
  new ApiError('ERR_TOKEN_INVALID', 'Authorization header must be "Bearer <token>"');

/** Takes the token out of `Authorization: Bearer <token>`. */
export function bearerToken(header: string | undefined): string {
  const read = readBearerToken(header);
  if ('problem' in read) throw read.problem === 'missing' ? missingToken() : malformedToken();
  return read.token;
}

/**
 * The REST routes' `onRequest` hook (the platform's, src/http/bearer-auth.ts): sets `request.user` to
 * the token's user. A known token of a cached user is answered synchronously, with two map lookups.
 */
export function userAuthHook(
  tokens: TokenService,
  directory: UserDirectory,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return bearerAuth<UserRecord>({
    missing: missingToken,
    malformed: malformedToken,
    verify: (token) => cachedUserForToken(tokens, directory, token) ?? userForToken(tokens, directory, token),
    accept: (request, user) => {
      request.user = user;
    },
  });
}

/** Verifies a token and returns its (still existing) user. */
export async function userForToken(
  tokens: TokenService,
  directory: UserDirectory,
  token: string,
): Promise<UserRecord> {
  const claims = await tokens.verify(token);
  const user = await directory.get(claims.userId);
  if (user === undefined) throw new ApiError('ERR_TOKEN_INVALID', 'token names a user that does not exist');
  if (user.clientType !== claims.clientType)
    throw new ApiError('ERR_TOKEN_INVALID', 'token client type does not match the user');
  return user;
}

/**
 * The user of a token when both were seen before (token verified and cached, user cached), with no
 * asynchronous work; undefined otherwise (then call {@link userForToken}).
 * @throws ApiError ERR_TOKEN_EXPIRED for a cached token that has expired.
 */
export function cachedUserForToken(
  tokens: TokenService,
  directory: UserDirectory,
  token: string,
): UserRecord | undefined {
  const claims = tokens.cached(token);
  if (claims === undefined) return undefined;
  const user = directory.cached(claims.userId);
  return user !== undefined && user.clientType === claims.clientType ? user : undefined;
}
