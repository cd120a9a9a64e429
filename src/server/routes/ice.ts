/** `/api/ice/*` (docs/api.md §2–§4): the seed's four calls, session detail and cancel, ICE configuration. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { DeclineBody, DeclineWire, InitiateWire } from '../../wire/index.js';
import {
  CancelBody,
  type IceConfigWire,
  InitiateBody,
  ListQuery,
  SessionDetailWire,
  SessionParams,
  SessionWire,
  SignalBody,
  SignalWire,
  SignalsQuery,
} from '../schemas.js';
import { historyToWire, outcomeToWire, sessionToWire, signalToWire } from '../wire.js';
import type { ServerContext } from '../context.js';
import { turnCredential } from '../turn.js';

/**
 * The host part of a `Host` header (Fastify's `hostname` drops the port) as a STUN URL takes it, or
 * undefined when it is not a plain name or address (then no STUN entry: nothing odd is echoed back).
 */
export function stunHost(hostname: string): string | undefined {
  const h = hostname.startsWith('[') ? hostname.replace(/(\])(:\d+)?$/, '$1') : hostname.replace(/:\d+$/, '');
  if (/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(h) || /^\[[0-9A-Fa-f:.]{2,45}\]$/.test(h)) return h;
  return undefined;
}

const SIGNALS_LIMIT = 1000;
const SESSIONS_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Parses an optional `limit` query value (already checked to be decimal digits). */
export function limitOf(value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (n < 1 || n > MAX_LIMIT)
    throw new ApiError('ERR_VALIDATION', `querystring.limit must be between 1 and ${MAX_LIMIT}`);
  return n;
}

export function registerIceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { service } = ctx;

  app.post<{ Body: InitiateBody }>(
    '/api/ice/initiate',
    { schema: { body: InitiateBody, response: { 201: InitiateWire } } },
    async (request, reply) => {
      const r = await service.initiate(request.requireUser(), request.body);
      return reply.code(201).send({
        ...sessionToWire(r.session),
        providers_able: r.providersAble,
        ...(r.noProvider === undefined ? {} : { no_provider: r.noProvider }),
        ...(r.claimTimeoutMs === undefined ? {} : { claim_timeout_ms: r.claimTimeoutMs }),
      });
    },
  );

  app.post<{ Body: SignalBody }>(
    '/api/ice/signal',
    { schema: { body: SignalBody, response: { 200: SignalWire } } },
    async (request) => signalToWire(await service.postSignal(request.requireUser(), request.body)),
  );

  app.get<{ Params: SessionParams; Querystring: SignalsQuery }>(
    '/api/ice/signals/:session_id',
    {
      schema: { params: SessionParams, querystring: SignalsQuery, response: { 200: Type.Array(SignalWire) } },
    },
    async (request) => {
      const q = request.query;
      const after = q.after === undefined ? 0 : Number(q.after);
      const signals = await service.listSignals(
        request.requireUser(),
        request.params.session_id,
        after,
        limitOf(q.limit, SIGNALS_LIMIT),
      );
      return signals.map(signalToWire);
    },
  );

  app.get<{ Querystring: SignalsQuery }>(
    '/api/ice/signals',
    { schema: { querystring: SignalsQuery, response: { 200: Type.Array(SignalWire) } } },
    async (request) => {
      const q = request.query;
      if (q.session_id === undefined)
        throw new ApiError('ERR_VALIDATION', 'querystring.session_id is required');
      const after = q.after === undefined ? 0 : Number(q.after);
      const signals = await service.listSignals(
        request.requireUser(),
        q.session_id,
        after,
        limitOf(q.limit, SIGNALS_LIMIT),
      );
      return signals.map(signalToWire);
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/ice/sessions',
    { schema: { querystring: ListQuery, response: { 200: Type.Array(SessionWire) } } },
    async (request) => {
      const sessions = await service.listSessions(
        request.requireUser(),
        limitOf(request.query.limit, SESSIONS_LIMIT),
      );
      return sessions.map(sessionToWire);
    },
  );

  app.get<{ Params: SessionParams }>(
    '/api/ice/sessions/:session_id',
    { schema: { params: SessionParams, response: { 200: SessionDetailWire } } },
    async (request) => {
      const { session, history, transfer, declines } = await service.getSession(
        request.requireUser(),
        request.params.session_id,
      );
      return {
        ...sessionToWire(session),
        history: history.map(historyToWire),
        ...outcomeToWire(transfer),
        ...(declines === undefined
          ? {}
          : {
              declines: declines.map((d) => ({
                by_user_id: String(d.userId),
                code: d.code,
                message: d.message,
                at: d.at,
              })),
            }),
      };
    },
  );

  // The body (why) is optional: a cancel without one records ERR_CANCELLED.
  app.post<{ Params: SessionParams; Body: CancelBody | undefined }>(
    '/api/ice/sessions/:session_id/cancel',
    {
      schema: { params: SessionParams, body: CancelBody, response: { 200: SessionWire } },
      // no body at all (as before the reason existed) is an empty reason, not a 400
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request) =>
      sessionToWire(
        await service.cancel(request.requireUser(), request.params.session_id, request.body ?? {}),
      ),
  );

  app.post<{ Params: SessionParams; Body: DeclineBody }>(
    '/api/ice/sessions/:session_id/decline',
    { schema: { params: SessionParams, body: DeclineBody, response: { 200: DeclineWire } } },
    async (request) => {
      const { session, providersAble } = await service.decline(
        request.requireUser(),
        request.params.session_id,
        request.body,
      );
      return { session_id: session.sessionId, status: session.status, providers_able: providersAble };
    },
  );

  // No response schema (as before): the configured servers go out as they are; the type keeps them on contract.
  app.get('/api/ice/config', async (request): Promise<IceConfigWire> => {
    const user = request.requireUser();
    const servers: IceConfigWire['ice_servers'] = [...ctx.options.iceServers];
    const stunPort = ctx.stun.port;
    // Our own STUN responder, at the name the client reached us by (it will reach the UDP port there too).
    const host = stunHost(request.hostname);
    if (stunPort !== undefined && host !== undefined) servers.push({ urls: [`stun:${host}:${stunPort}`] });
    const turn = ctx.options.turn;
    if (turn !== undefined) {
      const { username, credential } = turnCredential(turn.secret, String(user.id), ctx.now(), turn.ttlS);
      servers.push({ urls: turn.urls, username, credential });
    }
    return { ice_servers: servers, relay_after_ms: ctx.options.relayAfterMs };
  });
}
