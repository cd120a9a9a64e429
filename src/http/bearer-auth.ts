/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1) for every sdrlink HTTP API: reading the token, and an
 * `onRequest` hook factory, so a request without a valid token is refused before its body is read.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/** What an `Authorization` header holds: a token, or why there is none. */
export type BearerToken = { token: string } | { problem: 'missing' | 'malformed' };

/** Takes the token out of `Authorization: Bearer <token>`. */
export function readBearerToken(header: string | undefined): BearerToken {
  if (header === undefined || header === '') return { problem: 'missing' };
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m?.[1] === undefined ? { problem: 'malformed' } : { token: m[1] };
}

/** Options of {@link bearerAuth}. */
export interface BearerAuthOptions<C> {
  /** The error for a request without an `Authorization` header. */
  missing: () => Error;
  /** The error for a header that is not `Bearer <token>`. */
  malformed: () => Error;
  /**
   * Checks the token and returns its caller, or throws (or rejects) to refuse. A synchronous answer
   * costs no promise: the server answers known tokens from a cache this way.
   */
  verify: (token: string) => C | Promise<C>;
  /** Called with the caller once verified, e.g. to decorate the request. */
  accept?: (request: FastifyRequest, caller: C) => void;
}

/**
 * An `onRequest` hook admitting only requests with a token `verify` accepts; refusals go to the error
 * handler as the errors the options give.
 *
 * @example
 * scope.addHook('onRequest', bearerAuth({ missing, malformed, verify: (t) => users.forToken(t) }));
 */
export function bearerAuth<C>(
  options: BearerAuthOptions<C>,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  const { missing, malformed, verify, accept } = options;
  return (request, _reply, done) => {
    let caller: C | Promise<C>;
    try {
      const read = readBearerToken(request.headers.authorization);
      if ('problem' in read) throw read.problem === 'missing' ? missing() : malformed();
      caller = verify(read.token);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (caller instanceof Promise) {
      caller.then(
        (c) => {
          accept?.(request, c);
          done();
        },
        (err: unknown) => done(err as Error),
      );
      return;
    }
    accept?.(request, caller);
    done();
  };
}
