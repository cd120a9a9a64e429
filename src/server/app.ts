/**
 * The signaling server as a Fastify instance (fastify's "app factory" pattern): tests call
 * `buildServer({ db: ':memory:' })` and use `app.inject()`, or `listen({ port: 0 })` for WebSockets;
 * `main.ts` listens for real. This is the composition root: it picks the storage (SQLite, or PostgreSQL
 * for a `postgres://` database URL; src/storage/open.ts) and wires auth,
 * the hub, the signaling service, the relay and the routes.
 */
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Writable } from 'node:stream';
import { createHttpApp } from '../http/app.js';
import { openStorage } from '../storage/open.js';
import { FINAL_STATUSES, type Storage } from '../storage/types.js';
import { ApiKeyService } from './auth/api-keys.js';
import { userAuthHook } from './auth/authenticate.js';
import { CredentialWatch } from './auth/credential-watch.js';
import { TokenService } from './auth/jwt.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { loadJwtSecret } from './auth/secret.js';
import {
  ConfigError,
  defaultOptions,
  type LoginLimitOptions,
  type RelayOptions,
  type ServerOptions,
} from './config.js';
import { Cluster, newInstanceId } from './cluster/cluster.js';
import { sessionToWire } from './wire.js';
import type { ServerContext } from './context.js';
import { ApiError, WS_CLOSE, apiErrorReply } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { corsOptions, webSocketOriginHook } from './origin.js';
import { RelayHub } from './relay/relay-hub.js';
import { registerRelayRoute } from './relay/route.js';
import { registerMeRoutes, registerPublicAuthRoutes } from './routes/auth.js';
import { registerHealthRoute } from './routes/health.js';
import { registerIceRoutes } from './routes/ice.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerProviderRoutes } from './routes/providers.js';
import { registerTransferRoutes } from './routes/transfers.js';
import { registerWebRoutes } from './routes/web.js';
import { UserDirectory } from './signaling/directory.js';
import { SignalingService } from './signaling/handlers.js';
import { Heartbeat } from './signaling/heartbeat.js';
import { SignalingHub } from './signaling/hub.js';
import { ProviderRegistry } from './signaling/providers.js';
import { registerPushRoute } from './signaling/push.js';
import { pruneFinalSessions } from './retention.js';

/** Options for {@link buildServer}: any subset of {@link ServerOptions}, plus what tests inject. */
export interface BuildOptions extends Partial<Omit<ServerOptions, 'login' | 'relay'>> {
  login?: Partial<LoginLimitOptions>;
  relay?: Partial<RelayOptions>;
  /** Storage to use instead of opening `db` (closed by the caller, not the server). */
  storage?: Storage;
  /** Where pino writes (default stderr). */
  logStream?: Writable;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
  /** WebSocket keep-alive interval (default 30 s). */
  heartbeatMs?: number;
  /** Serve HTTPS/WSS with this key and certificate, PEM (main.ts loads them from `tls`). */
  https?: { key: string; cert: string } | undefined;
}

/** Fills unspecified options with the defaults. */
export function resolveOptions(input: BuildOptions): ServerOptions {
  const d = defaultOptions();
  const { login, relay, storage: _s, logStream: _l, now: _n, heartbeatMs: _h, https: _t, ...rest } = input;
  const defined = Object.fromEntries(
    Object.entries(rest).filter(([, v]) => v !== undefined),
  ) as Partial<ServerOptions>;
  return {
    ...d,
    ...defined,
    login: { ...d.login, ...login },
    relay: { ...d.relay, ...relay },
  };
}

/** `errorMessage` in a schema: a field's own wording for 400 answers (see errors.ts). */
function errorMessageKeyword<A extends { addKeyword: (keyword: string) => unknown }>(ajv: A): A {
  ajv.addKeyword('errorMessage');
  return ajv;
}

function hasPrototypeKeys(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor');
}

function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (
    key === '__proto__' ||
    (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)
  ) {
    throw new SyntaxError(`forbidden key ${JSON.stringify(key)}`);
  }
  return value;
}

/**
 * Builds the server (not listening). Opens and migrates the database unless `storage` is given, and
 * loads or creates the JWT secret beside it.
 *
 * @example
 * const app = await buildServer({ db: ':memory:', logLevel: 'warn' });
 * const res = await app.inject({ method: 'GET', url: '/healthz' });
 */
export async function buildServer(input: BuildOptions = {}): Promise<FastifyInstance> {
  const options = resolveOptions(input);
  const now = input.now ?? Date.now;
  const ownStorage = input.storage === undefined;
  const rawStorage = input.storage ?? (await openStorage(options.db, { backgroundCheckpoint: true }));
  let secret: Uint8Array;
  try {
    if (rawStorage.kind === 'postgres' && options.jwtSecret === undefined)
      throw new ConfigError(
        'a PostgreSQL database needs SDRLINK_JWT_SECRET (32+ characters; the same for every server on the database): there is no file beside it to keep a generated one in',
      );
    secret = loadJwtSecret(rawStorage.location, options.jwtSecret);
  } catch (err) {
    if (ownStorage) await rawStorage.close();
    throw err;
  }
  // the gauges read the hub and the relay only when scraped (both exist by then)
  const metrics = new ServerMetrics({
    pushConnections: () => hub.size,
    relay: () => relay.stats(),
    maxRelays: options.relay.maxRelays,
    openSessions: () => rawStorage.sessions.countOpenByStatus(),
  });
  const storage = metrics.timedStorage(rawStorage);

  const app = createHttpApp({
    // per-request lines (and per-request child loggers) would dominate at signaling rates; the service
    // logs domain events carrying session and user ids instead
    log: { level: options.logLevel, stream: input.logStream ?? process.stderr, requests: false },
    bodyLimit: options.bodyLimit,
    tls: input.https,
    trustProxy: options.trustProxy,
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        allErrors: false,
        verbose: true,
        allowUnionTypes: true,
      },
      plugins: [errorMessageKeyword],
    },
    toErrorReply: (err) => apiErrorReply(err, options.bodyLimit),
  });

  const hub = new SignalingHub();
  const directory = new UserDirectory(storage, options.requestTypes, now);
  const providers = new ProviderRegistry(storage, directory, (id) => hub.connected(id), now);
  const instanceId = options.instanceId ?? newInstanceId();
  let cluster: Cluster | undefined;
  try {
    await providers.load();
    // several instances on one PostgreSQL share the hub, presence and declines through its bus
    if (rawStorage.cluster !== undefined) {
      const bus = await rawStorage.cluster.openBus();
      cluster = new Cluster({
        bus,
        storage,
        owners: rawStorage.cluster,
        hub,
        providers,
        directory,
        log: app.log,
        now,
        instanceId,
        heartbeatMs: options.clusterHeartbeatMs,
      });
    }
  } catch (err) {
    if (ownStorage) await rawStorage.close();
    throw err;
  }
  const service = new SignalingService({
    storage,
    hub,
    directory,
    providers,
    options,
    now,
    log: app.log,
    metrics,
  });
  const relay = new RelayHub(options.relay, {
    now,
    onEnd: (sessionId, bytes, durationMs, reason) => {
      app.log.info({ session: sessionId, bytes, durationMs, reason }, 'relay ended');
      storage.transfers
        .addRelayBytes(sessionId, bytes)
        .catch((err: unknown) => app.log.error({ err }, 'relay bytes not recorded'));
    },
  });
  hub.onSessionStatus((s, local) => {
    if (local) metrics.session(s.status);
    if (s.status !== 'pending') providers.forget(s.sessionId);
    if (FINAL_STATUSES.includes(s.status)) relay.sessionEnded(s.sessionId, s.status);
  });
  const ctx: ServerContext = {
    options,
    storage,
    tokens: new TokenService(secret, options.tokenTtlS, now),
    keys: new ApiKeyService(storage, directory, now, app.log),
    watch: new CredentialWatch(now),
    directory,
    limiter: new LoginLimiter(options.login, now),
    hub,
    providers,
    service,
    relay,
    metrics,
    instanceId,
    cluster,
    now,
    startedAt: now(),
    stun: { port: undefined },
  };
  // after a loss of the bus, the providers connected here get their open sessions again (as on connect)
  cluster?.onResync(async () => {
    for (const id of hub.localProviders()) {
      const u = await directory.get(id);
      if (u === undefined) continue;
      for (const s of await service.openSessionsFor(u))
        hub.deliver({ kind: 'user', userId: id, message: { type: 'session', session: sessionToWire(s) } });
    }
  });
  cluster?.start(options.advertiseUrl ?? '');
  app.decorate('sdrlink', ctx);
  app.decorateRequest('user', null);
  app.decorateRequest('credential', null);
  app.decorateRequest('requireUser', function requireUser(this: FastifyRequest) {
    if (this.user === null) throw new Error('route is not behind the token hook');
    return this.user;
  });

  // Latency per route pattern (never the raw URL: bounded labels); Fastify has timed the request already.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  // JSON only: any other body (text/plain included, which Fastify parses by default) is a 415
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text, hasPrototypeKeys(text) ? rejectPrototypeKeys : undefined));
    } catch (err) {
      done(new ApiError('ERR_JSON', `request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  // before every route: the generator collects their schemas as they are added
  await registerOpenApi(app);

  // Browsers on other origins (origin.ts): CORS answers (and preflights) only when --cors-origin names
  // some; registered first, so its hook runs before the token hook and the preflight never needs a token.
  if (options.corsOrigins.length > 0) await app.register(cors, corsOptions(options.corsOrigins));

  const heartbeat = new Heartbeat(input.heartbeatMs ?? 30_000);
  // The WebSocket plugin (and the hooks it adds to every request) lives in its own scope with the two
  // WebSocket routes, so REST requests do not pay for it.
  await app.register(async (wsScope) => {
    await wsScope.register(websocket, {
      options: { maxPayload: options.relay.maxMessageBytes, perMessageDeflate: false },
      // a socket error (a message over maxPayload, a bad frame): ws closes that connection (1009/1002), so
      // this is once per connection; a client's fault, logged at warn without a stack
      errorHandler(error, socket, request) {
        const code = (error as NodeJS.ErrnoException).code;
        request.log.warn(
          { code, msg: error.message, user: request.user?.id, url: request.routeOptions.url },
          'websocket closed on a client error',
        );
        if (socket.readyState === socket.OPEN) socket.terminate();
      },
      preClose(done) {
        relay.closeAll();
        for (const client of wsScope.websocketServer.clients) {
          client.close(WS_CLOSE.GOING_AWAY, 'server shutting down');
        }
        done();
      },
    });
    // a browser page's Origin is checked before the upgrade (and before the token)
    wsScope.addHook('onRequest', webSocketOriginHook(options.corsOrigins));
    registerPushRoute(wsScope, ctx, heartbeat);
    registerRelayRoute(wsScope, ctx, heartbeat);
  });
  registerHealthRoute(app, ctx);
  registerWebRoutes(app, { registration: options.registration });
  registerMetricsRoute(app, ctx);
  registerPublicAuthRoutes(app, ctx);
  await app.register(async (scope) => {
    scope.addHook('onRequest', userAuthHook(ctx.tokens, directory, ctx.keys));
    registerMeRoutes(scope, ctx);
    registerKeyRoutes(scope, ctx);
    registerIceRoutes(scope, ctx);
    registerTransferRoutes(scope, ctx);
    registerProviderRoutes(scope, ctx);
  });

  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    service
      .sweep(relay.activeSessionIds())
      .then(() => {
        ctx.limiter.prune();
        relay.prune();
        service.pruneRates();
      })
      .catch((err: unknown) => app.log.error({ err }, 'session sweep failed'))
      .finally(() => {
        sweeping = false;
      });
  }, options.sweepIntervalMs);
  sweeper.unref();

  // stalled claims (docs/api.md §3 "Claim timeout"): looked for a few times per timeout, one pass at a time
  let releasing = false;
  const releaser =
    options.claimTimeoutMs === 0
      ? undefined
      : setInterval(
          () => {
            if (releasing) return;
            releasing = true;
            service
              .releaseStalledClaims()
              .catch((err: unknown) => app.log.error({ err }, 'claim release pass failed'))
              .finally(() => {
                releasing = false;
              });
          },
          Math.max(50, Math.min(5000, Math.floor(options.claimTimeoutMs / 4))),
        );
  releaser?.unref();

  // `sdrlink user disable` writes the database from another process: re-read the disabled users often,
  // and drop the sockets of those newly disabled (their next request is refused by the token hook)
  let polling = false;
  const userPoll = setInterval(() => {
    if (polling) return;
    polling = true;
    directory
      .refreshDisabled()
      .then((added) => {
        for (const u of added) {
          app.log.info({ user: u.id }, 'user disabled: dropping its sockets');
          ctx.watch.userDisabled(u.id, u.username);
        }
      })
      .catch((err: unknown) => app.log.error({ err }, 'reading disabled users failed'))
      .finally(() => {
        polling = false;
      });
  }, options.userPollMs);
  userPoll.unref();
  try {
    await directory.refreshDisabled();
  } catch (err) {
    clearInterval(userPoll);
    clearInterval(sweeper);
    if (releaser !== undefined) clearInterval(releaser);
    await cluster?.close();
    if (ownStorage) await rawStorage.close();
    throw err;
  }

  // retention: final sessions' signals, candidates, history and declines after `retentionMs`
  let retaining = false;
  const retain = () => {
    if (retaining || options.retentionMs === 0) return;
    retaining = true;
    pruneFinalSessions(storage, options.retentionMs, now())
      .then((r) => {
        if (r.sessions > 0) app.log.info({ ...r }, 'retention: pruned final sessions');
      })
      .catch((err: unknown) => app.log.error({ err }, 'retention pass failed'))
      .finally(() => {
        retaining = false;
      });
  };
  const retention = options.retentionMs === 0 ? undefined : setInterval(retain, options.retentionIntervalMs);
  retention?.unref();

  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    if (releaser !== undefined) clearInterval(releaser);
    clearInterval(userPoll);
    if (retention !== undefined) clearInterval(retention);
    heartbeat.stop();
    ctx.watch.stop();
    await cluster?.close();
    if (ownStorage) await storage.close();
  });
  return app;
}
