/**
 * What the routes share: options, storage, auth, the hub, the signaling service and the relay. Built once
 * by `buildServer` (src/server/app.ts).
 */
import type { Storage, UserRecord } from '../storage/types.js';
import type { ApiKeyService } from './auth/api-keys.js';
import type { Credential } from './auth/authenticate.js';
import type { CredentialWatch } from './auth/credential-watch.js';
import type { TokenService } from './auth/jwt.js';
import type { LoginLimiter } from './auth/login-limiter.js';
import type { ServerMetrics } from './metrics.js';
import type { ServerOptions } from './config.js';
import type { Cluster } from './cluster/cluster.js';
import type { RelayHub } from './relay/relay-hub.js';
import type { UserDirectory } from './signaling/directory.js';
import type { SignalingService } from './signaling/handlers.js';
import type { SignalingHub } from './signaling/hub.js';
import type { ProviderRegistry } from './signaling/providers.js';

export interface ServerContext {
  readonly options: ServerOptions;
  readonly storage: Storage;
  readonly tokens: TokenService;
  /** API keys: create, list, revoke, authenticate. */
  readonly keys: ApiKeyService;
  /** Open WebSockets by credential, closed when it is revoked or expires. */
  readonly watch: CredentialWatch;
  readonly directory: UserDirectory;
  readonly limiter: LoginLimiter;
  readonly hub: SignalingHub;
  /** Catalogs, presence and declines of the providers (docs/api.md §12). */
  readonly providers: ProviderRegistry;
  readonly service: SignalingService;
  readonly relay: RelayHub;
  /** Prometheus instruments (`GET /metrics`). */
  readonly metrics: ServerMetrics;
  /** This instance's id (`--instance-id`, or random at start), reported by `/healthz`. */
  readonly instanceId: string;
  /** The other instances on the same PostgreSQL database; undefined on SQLite (one instance). */
  readonly cluster: Cluster | undefined;
  /** Clock in milliseconds. */
  readonly now: () => number;
  readonly startedAt: number;
  /** The built-in STUN responder's UDP port once it runs (set by `startServer`; in-process apps have none). */
  readonly stun: { port: number | undefined };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (set by the token hook on /api routes). */
    user: UserRecord | null;
    /** What the user authenticated with (set with `user`). */
    credential: Credential | null;
    /** The authenticated user; throws if the route is not behind the token hook (a programmer error). */
    requireUser(): UserRecord;
  }
  interface FastifyInstance {
    /** The server's shared state (tests reach the relay's counters through it). */
    sdrlink: ServerContext;
  }
}
