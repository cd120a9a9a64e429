/**
 * Access tokens: HS256 JWTs (jose) carrying `sub` (the user id, a decimal string), `ctype` (1 | 2), `iat`,
 * `exp` and `iss: "sdrlink"`. Only HS256 is accepted, so `alg: none` and algorithm confusion fail.
 * Verified tokens are cached until their expiry: a client presents the same token on every call, and the
 * cache turns verification into one map lookup (the expiry is still checked on every use).
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { ClientType } from '../../storage/types.js';
import { ApiError } from '../errors.js';

const ISSUER = 'sdrlink';
const CACHE_MAX = 50_000;

export interface TokenClaims {
  userId: number;
  clientType: ClientType;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface IssuedToken {
  token: string;
  /** ISO-8601. */
  expiresAt: string;
}

export class TokenService {
  readonly #key: Uint8Array;
  readonly #ttlS: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, TokenClaims>();

  /**
   * @param key HS256 secret bytes.
   * @param ttlS token lifetime in seconds.
   * @param now clock in milliseconds (tests).
   */
  constructor(key: Uint8Array, ttlS: number, now: () => number = Date.now) {
    this.#key = key;
    this.#ttlS = ttlS;
    this.#now = now;
  }

  /** Signs a token for a user. */
  async issue(userId: number, clientType: ClientType, ttlS: number = this.#ttlS): Promise<IssuedToken> {
    const iat = Math.floor(this.#now() / 1000);
    const exp = iat + ttlS;
    const token = await new SignJWT({ ctype: clientType })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /**
   * The claims of a token verified before, without doing any work (the request fast path); undefined when
   * the token has not been seen.
   * @throws ApiError ERR_TOKEN_EXPIRED when it was verified but has expired since.
   */
  cached(token: string): TokenClaims | undefined {
    const cached = this.#cache.get(token);
    if (cached === undefined) return undefined;
    if (cached.exp > Math.floor(this.#now() / 1000)) return cached;
    this.#cache.delete(token);
    throw new ApiError('ERR_TOKEN_EXPIRED', 'token expired');
  }

  /**
   * Verifies a token.
   * @throws ApiError ERR_TOKEN_EXPIRED or ERR_TOKEN_INVALID with the reason.
   */
  async verify(token: string): Promise<TokenClaims> {
    const nowS = Math.floor(this.#now() / 1000);
    const cached = this.cached(token);
    if (cached !== undefined) return cached;
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
      throw new ApiError('ERR_TOKEN_INVALID', 'token is not a JWT (expected header.payload.signature)');
    }
    let payload: Record<string, unknown>;
    try {
      const r = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(nowS * 1000),
      });
      payload = r.payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new ApiError('ERR_TOKEN_EXPIRED', 'token expired');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw new ApiError('ERR_TOKEN_INVALID', 'token signature does not verify');
      }
      if (err instanceof joseErrors.JOSEAlgNotAllowed) {
        throw new ApiError('ERR_TOKEN_INVALID', 'token algorithm is not allowed (HS256 only)');
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new ApiError('ERR_TOKEN_INVALID', `token is invalid: ${reason}`);
    }
    const sub = payload['sub'];
    const ctype = payload['ctype'];
    const exp = payload['exp'];
    if (typeof sub !== 'string' || !/^[1-9]\d{0,15}$/.test(sub)) {
      throw new ApiError('ERR_TOKEN_INVALID', 'token subject is not a user id');
    }
    if (ctype !== 1 && ctype !== 2)
      throw new ApiError('ERR_TOKEN_INVALID', 'token client type must be 1 or 2');
    const claims: TokenClaims = { userId: Number(sub), clientType: ctype, exp: exp as number };
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(token, claims);
    return claims;
  }
}
