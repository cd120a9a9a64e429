/**
 * The signaling rules of docs/api.md §2–§3, independent of transport: REST routes and the push WebSocket
 * both call this service, which checks who may do what, writes through the storage layer, and publishes
 * each committed change to the hub.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  isFinalStatus,
  type NewSignal,
  type SessionRecord,
  type SessionStatus,
  type SignalRecord,
  type SignalType,
  type Storage,
  type TransferRecord,
  type UserRecord,
  type HistoryEntry,
  type FailedSide,
  type Outcome,
  type TransferFilter,
  type TransferListEntry,
  type DeclineRecord,
} from '../../storage/types.js';
import { ApiError, WS_CLOSE } from '../errors.js';
import type { ServerOptions } from '../config.js';
import type { ServerMetrics } from '../metrics.js';
import type { CancelBody, InitiateBody, TransferBody } from '../schemas.js';
import {
  ERROR_CODE_PATTERN,
  SIGNAL_DATA,
  createChecker,
  offerSummary,
  type DeclineBody,
} from '../../wire/index.js';
import { SlidingWindow } from '../auth/login-limiter.js';
import { UserDirectory } from './directory.js';
import type { SignalingHub } from './hub.js';
import type { ProviderRegistry } from './providers.js';

/** A stable error code (src/wire: ERROR_CODE_PATTERN). */
const ERROR_CODE_RE = new RegExp(ERROR_CODE_PATTERN);

const MAX_PARAMETERS_BYTES = 16 * 1024;

/**
 * The decline recorded for a provider whose claim the server released (docs/api.md §3 "Claim timeout"),
 * and the outcome of a named session that fails that way.
 */
export const CLAIM_TIMEOUT_CODE = 'ERR_CLAIM_TIMEOUT';

/** The consumer capability under which claims are released: a consumer that reports `connected` (§3). */
const RELEASE_CAPABILITY = 'sdrlink/1';

/** Stalled claims released per storage call. */
const RELEASE_BATCH = 100;

export interface SignalInput {
  session_id: string;
  signal_type: SignalType;
  signal_data: string;
}

export interface ServiceDeps {
  storage: Storage;
  hub: SignalingHub;
  directory: UserDirectory;
  /** Catalogs, presence and declines (docs/api.md §12). */
  providers: ProviderRegistry;
  options: Pick<ServerOptions, 'signalMaxBytes' | 'maxOpenSessionsPerUser' | 'sessionTtlMs'> &
    Partial<Pick<ServerOptions, 'sessionsPerMinute' | 'claimTimeoutMs'>>;
  now: () => number;
  log: FastifyBaseLogger;
  /** Counts sessions created, signals stored and transfers finished. */
  metrics?: Pick<ServerMetrics, 'session' | 'signal' | 'transfer'>;
}

/** Outcome of a relay join (docs/api.md §6): a side of the session, or a close code and reason. */
export type RelayAdmission =
  | { ok: true; session: SessionRecord; side: 'consumer' | 'provider' }
  | { ok: false; closeCode: number; reason: string };

const REPORT_FROM: Record<TransferBody['status'], readonly SessionStatus[]> = {
  connected: ['offered'],
  transferring: ['offered', 'connected'],
  completed: ['offered', 'connected', 'transferring'],
  failed: ['offered', 'connected', 'transferring'],
};

/** The wire contract's shape of each signal type's payload (src/wire/sessions.ts). */
const SIGNAL_DATA_CHECK = {
  offer: createChecker(SIGNAL_DATA.offer),
  answer: createChecker(SIGNAL_DATA.answer),
  candidate: createChecker(SIGNAL_DATA.candidate),
  error: createChecker(SIGNAL_DATA.error),
  progress: createChecker(SIGNAL_DATA.progress),
};

function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Checks a signal's payload (docs/api.md §2): at most `maxBytes`, a JSON-encoded object of the right shape.
 * Returns the seed's `ice_candidates` columns for candidates.
 * @param field how the message names the field (`body.signal_data`, `message.signal_data`).
 */
export function checkSignalData(
  type: SignalType,
  data: string,
  maxBytes: number,
  field: string,
): NewSignal['candidate'] | undefined {
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > maxBytes)
    throw new ApiError('ERR_VALIDATION', `${field} must be at most ${maxBytes} bytes (got ${bytes})`);
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch (err) {
    throw new ApiError('ERR_VALIDATION', `${field} must be a JSON-encoded object: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ApiError('ERR_VALIDATION', `${field} must be a JSON-encoded object`);
  }
  switch (type) {
    case 'offer':
    case 'answer':
      if (!SIGNAL_DATA_CHECK[type].check(v)) {
        throw new ApiError(
          'ERR_VALIDATION',
          `${field} must encode {"type":"${type}","sdp":"…"} (RTCSessionDescriptionInit)`,
        );
      }
      return undefined;
    case 'candidate': {
      if (!SIGNAL_DATA_CHECK.candidate.check(v)) {
        throw new ApiError(
          'ERR_VALIDATION',
          `${field} must encode an RTCIceCandidateInit {"candidate","sdpMid","sdpMLineIndex"}`,
        );
      }
      return {
        candidate: v.candidate,
        sdpMLineIndex: typeof v.sdpMLineIndex === 'number' ? v.sdpMLineIndex : 0,
        sdpMid: typeof v.sdpMid === 'string' ? v.sdpMid : '',
      };
    }
    case 'error':
      if (!SIGNAL_DATA_CHECK.error.check(v)) {
        throw new ApiError('ERR_VALIDATION', `${field} must encode {"code":"…","message":"…"}`);
      }
      return undefined;
    case 'progress':
      if (!SIGNAL_DATA_CHECK.progress.check(v)) {
        throw new ApiError(
          'ERR_VALIDATION',
          `${field} must encode {"phase":"preparing"|"queued","bytes":<integer ≥ 0>,"total":<integer ≥ 0>,"position"?:<integer ≥ 1>}`,
        );
      }
      return undefined;
  }
}

/** Longest failure message recorded (longer ones are cut). */
const OUTCOME_MESSAGE_MAX = 1024;

/** The outcome an `error` signal records: its code and message, the sender's side. */
function errorSignalOutcome(data: string, side: FailedSide): Outcome {
  const v = JSON.parse(data) as { code?: string; message?: string };
  return {
    code: v.code !== undefined && ERROR_CODE_RE.test(v.code) ? v.code : 'ERR_PEER',
    message: (v.message ?? 'no message').slice(0, OUTCOME_MESSAGE_MAX),
    side,
  };
}

/**
 * The outcome a `failed` report records: `error_code` (or the `ERR_…` an `error` of the form
 * `<CODE>: <message>` starts with), the message, and the side (`failed_side`, else the reporter's).
 */
function reportOutcome(body: TransferBody, reporter: FailedSide): Outcome {
  const text = body.error ?? '';
  const m = /^([A-Z][A-Z0-9_]{0,63}): ([\s\S]*)$/.exec(text);
  const code = body.error_code ?? m?.[1] ?? 'ERR_TRANSFER';
  const message = m !== null && (body.error_code === undefined || body.error_code === m[1]) ? m[2] : text;
  return {
    code,
    message: (message === undefined || message === '' ? 'no message' : message).slice(0, OUTCOME_MESSAGE_MAX),
    side: body.failed_side ?? reporter,
  };
}

export class SignalingService {
  readonly #d: ServiceDeps;
  /** Sessions with signals since the last sweep: touched in one batch there, not on every signal. */
  #active = new Set<string>();

  /** Sessions each user created in the last minute (`sessionsPerMinute`). */
  readonly #rate: SlidingWindow | undefined;

  constructor(deps: ServiceDeps) {
    this.#d = deps;
    const perMinute = deps.options.sessionsPerMinute;
    this.#rate = perMinute === undefined ? undefined : new SlidingWindow(perMinute, 60_000);
  }

  /** Forgets rate entries that left their window (the sweep calls it). */
  pruneRates(): void {
    this.#rate?.prune(this.#d.now());
  }

  #nowIso(): string {
    // the same millisecond gives the same text: format it once (every signal stores one)
    const ms = this.#d.now();
    if (ms !== this.#isoMs) {
      this.#isoMs = ms;
      this.#iso = new Date(ms).toISOString();
    }
    return this.#iso;
  }
  #isoMs = Number.NaN;
  #iso = '';

  async #session(sessionId: string): Promise<SessionRecord> {
    const s = await this.#d.storage.sessions.get(sessionId.toLowerCase());
    if (s === undefined) throw new ApiError('ERR_SESSION_NOT_FOUND', `session ${sessionId} not found`);
    return s;
  }

  static #isParticipant(user: UserRecord, s: SessionRecord): boolean {
    return s.initiatorUserId === user.id || s.targetUserId === user.id;
  }

  /** 403 for a user who is neither participant nor (while it is open) a provider that may serve it. */
  #mustSee(user: UserRecord, s: SessionRecord): void {
    if (SignalingService.#isParticipant(user, s) || UserDirectory.mayServe(user, s)) return;
    throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not yours`);
  }

  /**
   * Refuses the claim of an open session by a provider it is not offered to (§12): one whose catalog
   * cannot serve it (ERR_CATALOG_MISMATCH), or that declined it (ERR_SESSION_DECLINED).
   */
  #mustBeOffered(user: UserRecord, s: SessionRecord): void {
    const { providers } = this.#d;
    const d = providers.declineOf(s.sessionId, user.id);
    if (d?.code === CLAIM_TIMEOUT_CODE) throw claimReleased(s, d);
    if (d !== undefined) {
      throw new ApiError('ERR_SESSION_DECLINED', `you declined session ${s.sessionId}`);
    }
    const why = providers.mismatch(user, s);
    if (why !== null) {
      throw new ApiError('ERR_CATALOG_MISMATCH', `your catalog cannot serve session ${s.sessionId}: ${why}`);
    }
  }

  /**
   * 409 `ERR_CLAIM_RELEASED` for a provider whose claim of this session the server released (it is no
   * longer the session's provider; read from storage, on this refusal path only).
   */
  async #mustNotBeReleased(user: UserRecord, s: SessionRecord): Promise<void> {
    const d = (await this.#d.storage.catalogs.declines(s.sessionId)).find(
      (x) => x.userId === user.id && x.code === CLAIM_TIMEOUT_CODE,
    );
    if (d !== undefined) throw claimReleased(s, d);
  }

  /**
   * POST /api/ice/sessions/{id}/decline (§12): a provider will not serve a pending session it was offered.
   * The session leaves that provider's list and stays pending for the others; when no provider online that
   * has not declined can serve it, it fails with `ERR_NO_PROVIDER` (an `error` signal to the consumer that
   * lists the declines and what is on offer). A session named for the provider fails at once with the
   * provider's own code, as an `error` signal would.
   */
  async decline(
    user: UserRecord,
    sessionId: string,
    body: DeclineBody,
  ): Promise<{ session: SessionRecord; providersAble: number }> {
    const { providers, hub } = this.#d;
    if (user.clientType !== 1)
      throw new ApiError('ERR_ROLE', 'only providers (client_type 1) decline sessions');
    const s = await this.#session(sessionId);
    if (s.status !== 'pending') {
      throw new ApiError(
        'ERR_SESSION_STATE',
        `session ${s.sessionId} is ${s.status}; only a pending one is declined`,
      );
    }
    if (!UserDirectory.mayServe(user, s)) {
      throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not offered to you`);
    }
    providers.seen(user.id);
    const at = this.#nowIso();
    await providers.decline({
      sessionId: s.sessionId,
      userId: user.id,
      code: body.code,
      message: body.message,
      at,
    });
    this.#d.log.info({ session: s.sessionId, provider: user.id, code: body.code }, 'session declined');
    hub.toUser(user.id, { type: 'session-claimed', session_id: s.sessionId });
    return this.#offerOrFail(s, user.id, { code: body.code, message: body.message }, at);
  }

  /**
   * A provider left a pending session (its decline, or the release of its claim): the session stays
   * pending for the providers still offered it, and the answer says how many there are. When none is left
   * it fails with `ERR_NO_PROVIDER` (the server's verdict), and a session named for that provider fails
   * with the provider's own `why` — both through an `error` signal to the consumer, in that provider's name.
   */
  async #offerOrFail(
    s: SessionRecord,
    fromUserId: number,
    why: { code: string; message: string },
    at: string,
  ): Promise<{ session: SessionRecord; providersAble: number }> {
    const { providers, hub, storage } = this.#d;
    let error: { code: string; message: string; side: FailedSide } | undefined;
    let able = 0;
    if (s.targetUserId !== null) {
      error = { code: why.code, message: why.message, side: 'provider' };
    } else {
      able = (await providers.able(s, hub.connectedProviders())).length;
      if (able === 0)
        error = { code: 'ERR_NO_PROVIDER', message: await this.#noProviderMessage(s), side: 'server' };
    }
    if (error === undefined) return { session: s, providersAble: able };
    const r = await storage.signals.post(
      {
        sessionId: s.sessionId,
        signalType: 'error',
        signalData: JSON.stringify({ code: error.code, message: error.message.slice(0, 4000) }),
        fromUserId,
        toUserId: s.initiatorUserId,
      },
      at,
      {
        claim: true,
        fail: true,
        outcome: { code: error.code, message: error.message.slice(0, 4000), side: error.side },
      },
    );
    if (!r.ok) return { session: r.session ?? s, providersAble: 0 }; // another decline (or a claim) won
    this.#d.log.info({ session: s.sessionId, code: error.code }, 'session failed: no provider');
    hub.sessionWithdrawn(s, fromUserId);
    if (r.session !== null) hub.sessionStatus(r.session);
    hub.signal(r.signal);
    return { session: r.session ?? s, providersAble: 0 };
  }

  /**
   * Releases the claims that reached no channel within `claimTimeoutMs` (docs/api.md §3 "Claim timeout"):
   * a session of an sdrlink consumer still `offered` that long after its claim goes back to `pending`, the
   * claimant is recorded as having declined it (`ERR_CLAIM_TIMEOUT`) and told (`claim-released`), the
   * consumer sees the status `pending`, and the session is offered again to the providers still able —
   * or fails as a decline would leave it (`ERR_NO_PROVIDER`; a named session with `ERR_CLAIM_TIMEOUT`).
   * Each release is one conditional statement on the claim's attempt, so a pass that overlaps another (or
   * a claim that moves on meanwhile) releases nothing twice. Returns how many were released.
   */
  async releaseStalledClaims(): Promise<number> {
    const timeoutMs = this.#d.options.claimTimeoutMs ?? 0;
    if (timeoutMs <= 0) return 0;
    const cutoff = new Date(this.#d.now() - timeoutMs).toISOString();
    let total = 0;
    for (;;) {
      const batch = await this.#d.storage.sessions.staleClaims(cutoff, RELEASE_CAPABILITY, RELEASE_BATCH);
      for (const s of batch) if (await this.#release(s, cutoff, timeoutMs)) total++;
      if (batch.length < RELEASE_BATCH) break;
    }
    return total;
  }

  async #release(s: SessionRecord, cutoff: string, timeoutMs: number): Promise<boolean> {
    const { storage, hub, providers, log } = this.#d;
    const providerId = s.targetUserId;
    if (providerId === null) return false;
    const code = CLAIM_TIMEOUT_CODE;
    const message =
      `claimed at ${s.claimedAt ?? '?'}, no channel within ${timeoutMs / 1000} s ` +
      `(no participant reported connected); released`;
    const at = this.#nowIso();
    const released = await storage.sessions.releaseClaim(
      { sessionId: s.sessionId, attempt: s.attempt, providerId, claimedBefore: cutoff, code, message },
      at,
    );
    if (released === undefined) return false; // it moved on meanwhile
    log.info(
      { session: s.sessionId, provider: providerId, attempt: s.attempt, code },
      'claim released: no channel in time',
    );
    // the claim dropped the session's declines from memory; this one is among them now
    await providers.reload(s.sessionId);
    hub.toUser(providerId, {
      type: 'claim-released',
      session_id: s.sessionId,
      attempt: s.attempt,
      code,
      message,
    });
    hub.sessionStatus(released);
    const r = await this.#offerOrFail(released, providerId, { code, message }, at);
    if (r.session.status === 'pending') hub.sessionCreated(released);
    return true;
  }

  /**
   * The message of `ERR_NO_PROVIDER`: what was asked, why each provider online cannot serve it (its
   * decline, or what in its catalog does not match), and what is on offer.
   */
  async #noProviderMessage(s: SessionRecord): Promise<string> {
    const { providers, directory } = this.#d;
    const listed = await providers.list(this.#d.hub.connectedProviders());
    const declines = providers.declinesOf(s.sessionId);
    const why: string[] = [];
    for (const d of declines) {
      const u = await directory.get(d.userId);
      why.push(`${u?.username ?? d.userId} declined: ${d.code}: ${d.message}`);
    }
    for (const p of listed) {
      if (!p.online || declines.some((d) => String(d.userId) === p.user_id)) continue;
      const u = await directory.get(Number(p.user_id));
      const reason = u === undefined ? null : providers.mismatch(u, s);
      if (reason !== null) why.push(`${p.username} ${reason}`);
    }
    return (
      `no provider online can serve this ${s.requestType} request ${s.parameters.length > 300 ? `${s.parameters.slice(0, 300)}…` : s.parameters}` +
      (why.length > 0 ? ` (${why.join('; ')})` : '') +
      `; on offer: ${offerSummary(listed)}`
    );
  }

  /**
   * POST /api/ice/initiate: a consumer asks for data (docs/api.md §2). Also says how many providers online
   * could serve it now (§12): a named provider counts when it is online.
   */
  async initiate(
    user: UserRecord,
    body: InitiateBody,
  ): Promise<{
    session: SessionRecord;
    providersAble: number;
    noProvider?: string;
    claimTimeoutMs?: number;
  }> {
    const { storage, directory, hub, options } = this.#d;
    if (user.clientType !== 2)
      throw new ApiError('ERR_ROLE', 'only consumers (client_type 2) initiate sessions');
    const requestType = body.request_type;
    if (!(await directory.isKnownType(requestType))) {
      throw new ApiError(
        'ERR_REQUEST_TYPE',
        `unknown request_type ${quote(requestType)}; known: ${(await directory.knownTypes()).join(', ')}`,
      );
    }
    const parameters = normaliseParameters(body.parameters);
    let targetUserId: number | null = null;
    if (body.target !== undefined) {
      const t = String(body.target);
      const target = /^\d+$/.test(t) ? await directory.get(Number(t)) : await directory.byName(t);
      // one answer, same code and message, for "no such user" and "not a provider": a consumer cannot
      // learn from `target` which names exist or who the consumers are
      if (target === undefined || target.clientType !== 1)
        throw new ApiError('ERR_TARGET', `body.target: no provider ${quote(t)}`);
      if (!UserDirectory.serves(target, requestType)) {
        throw new ApiError(
          'ERR_REQUEST_TYPE',
          `provider ${quote(target.username)} does not serve ${quote(requestType)} (serves ${target.requestTypes.join(', ')})`,
        );
      }
      targetUserId = target.id;
    }
    const rate = this.#rate;
    const wait = rate === undefined ? 0 : rate.retryAfterS(String(user.id), this.#d.now());
    if (wait > 0) {
      throw new ApiError(
        'ERR_SESSION_RATE',
        `you created ${options.sessionsPerMinute} sessions in the last minute (the limit); retry in ${wait} s`,
        wait,
      );
    }
    const open = await storage.sessions.countOpenByInitiator(user.id);
    if (open >= options.maxOpenSessionsPerUser) {
      throw new ApiError(
        'ERR_TOO_MANY_SESSIONS',
        `you have ${open} open sessions (limit ${options.maxOpenSessionsPerUser}); cancel some or wait for them to end`,
      );
    }
    const session = await storage.sessions.create(
      {
        sessionId: randomUUID(),
        initiatorUserId: user.id,
        targetUserId,
        requestType,
        parameters,
        capabilities: body.capabilities ?? [],
        fileName: body.file_name ?? `${requestType}_data.npz`,
        fileSize: body.file_size ?? 0,
        fileType: body.file_type ?? null,
      },
      this.#nowIso(),
    );
    this.#d.log.info(
      { session: session.sessionId, user: user.id, requestType, target: targetUserId },
      'session created',
    );
    rate?.hit(String(user.id), this.#d.now());
    this.#d.metrics?.session('pending');
    hub.sessionCreated(session);
    const providersAble =
      targetUserId !== null
        ? Number(this.#d.providers.online(targetUserId))
        : (await this.#d.providers.able(session, hub.connectedProviders())).length;
    const timeout = options.claimTimeoutMs ?? 0;
    const claim =
      timeout > 0 && session.capabilities.includes(RELEASE_CAPABILITY) ? { claimTimeoutMs: timeout } : {};
    if (providersAble > 0 || targetUserId !== null) return { session, providersAble, ...claim };
    return { session, providersAble, noProvider: await this.#noProviderMessage(session), ...claim };
  }

  /**
   * POST /api/ice/signal and the push channel's `signal` message (docs/api.md §2 "Rules"). A provider's first
   * signal on an open session (its offer, or a candidate that overtook the offer) claims the session.
   * @param field prefix naming the input in error messages.
   */
  async postSignal(user: UserRecord, input: SignalInput, field = 'body'): Promise<SignalRecord> {
    const { storage, hub, options } = this.#d;
    const type = input.signal_type;
    const candidate = checkSignalData(
      type,
      input.signal_data,
      options.signalMaxBytes,
      `${field}.signal_data`,
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await this.#session(input.session_id);
      if (isFinalStatus(s.status)) {
        throw new ApiError(
          'ERR_SESSION_STATE',
          `session ${s.sessionId} is ${s.status}; it takes no more signals`,
        );
      }
      let to: number;
      let claim = false;
      if (s.initiatorUserId === user.id) {
        if (type === 'offer') throw new ApiError('ERR_ROLE', 'only providers (client_type 1) send offers');
        if (type === 'progress')
          throw new ApiError('ERR_ROLE', 'only the provider (client_type 1) sends progress');
        if (s.targetUserId === null || s.status === 'pending') {
          throw new ApiError(
            'ERR_SESSION_STATE',
            `session ${s.sessionId} has no offer yet; no provider to signal`,
          );
        }
        to = s.targetUserId;
      } else if (user.clientType === 1) {
        if (type === 'answer') throw new ApiError('ERR_ROLE', 'only the consumer (client_type 2) answers');
        if (s.targetUserId !== null && s.targetUserId !== user.id) {
          if (s.status === 'pending')
            throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is addressed to another provider`);
          await this.#mustNotBeReleased(user, s);
          throw new ApiError('ERR_SESSION_CLAIMED', `session ${s.sessionId} was claimed by another provider`);
        }
        if (s.targetUserId === null && !UserDirectory.serves(user, s.requestType)) {
          throw new ApiError('ERR_FORBIDDEN', `you do not serve request type ${quote(s.requestType)}`);
        }
        if (type === 'progress' && s.status === 'pending') {
          throw new ApiError(
            'ERR_SESSION_STATE',
            `session ${s.sessionId} is not claimed yet; progress follows the offer`,
          );
        }
        if (s.status === 'pending' && s.targetUserId === null) this.#mustBeOffered(user, s);
        if (s.status === 'pending') {
          // An offer claims the session; so does an `error`: a provider that refuses the request (bad
          // parameters, too large) answers it with that refusal, claiming and failing it in one
          // transaction, so the consumer hears why instead of waiting for an offer that never comes.
          claim = true;
        }
        to = s.initiatorUserId;
      } else {
        throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not yours`);
      }
      const r = await storage.signals.post(
        {
          sessionId: s.sessionId,
          signalType: type,
          signalData: input.signal_data,
          fromUserId: user.id,
          toUserId: to,
          ...(candidate === undefined ? {} : { candidate }),
        },
        this.#nowIso(),
        type === 'error'
          ? {
              claim,
              fail: true,
              outcome: errorSignalOutcome(
                input.signal_data,
                to === s.initiatorUserId ? 'provider' : 'consumer',
              ),
            }
          : { claim },
      );
      if (!r.ok) continue; // lost a race (claimed meanwhile, or went final): decide again on fresh state
      if (r.claimed) {
        this.#d.log.info({ session: s.sessionId, provider: user.id, by: type }, 'session claimed');
        hub.sessionWithdrawn(s, user.id);
      }
      if (r.statusChanged && r.session !== null) hub.sessionStatus(r.session);
      this.#d.metrics?.signal(type, field === 'message' ? 'push' : 'rest');
      this.#active.add(s.sessionId);
      hub.signal(r.signal);
      return r.signal;
    }
    const s = await this.#session(input.session_id);
    if (isFinalStatus(s.status))
      throw new ApiError('ERR_SESSION_STATE', `session ${s.sessionId} is ${s.status}`);
    throw new ApiError('ERR_SESSION_CLAIMED', `session ${s.sessionId} was claimed by another provider`);
  }

  /** GET /api/ice/signals…: the signals addressed to the caller, oldest first. */
  async listSignals(
    user: UserRecord,
    sessionId: string,
    afterId: number,
    limit: number,
  ): Promise<SignalRecord[]> {
    const s = await this.#session(sessionId);
    if (!SignalingService.#isParticipant(user, s)) {
      throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not yours`);
    }
    return this.#d.storage.signals.listFor(s.sessionId, user.id, afterId, limit);
  }

  /** GET /api/ice/sessions: a provider's open list, or a consumer's own sessions. */
  async listSessions(user: UserRecord, limit: number): Promise<SessionRecord[]> {
    if (user.clientType === 1) {
      const { providers } = this.#d;
      providers.seen(user.id);
      // read more than asked: sessions its catalog cannot serve, or it declined, are left out (§12)
      const open = await this.#d.storage.sessions.listOpenForProvider(
        user.id,
        user.requestTypes.length === 0 ? null : user.requestTypes,
        Math.min(1000, limit * 4),
      );
      return open.filter((s) => providers.mayOffer(user, s)).slice(0, limit);
    }
    return this.#d.storage.sessions.listForUser(user.id, limit);
  }

  /**
   * GET /api/ice/sessions/{id}: the session, its history and its transfer (for the outcome); for its
   * consumer, the declines too (§12).
   */
  async getSession(
    user: UserRecord,
    sessionId: string,
  ): Promise<{
    session: SessionRecord;
    history: HistoryEntry[];
    transfer: TransferRecord | undefined;
    declines?: DeclineRecord[];
  }> {
    const s = await this.#session(sessionId);
    this.#mustSee(user, s);
    const history = await this.#d.storage.sessions.history(s.sessionId);
    const transfer = await this.#d.storage.transfers.get(s.sessionId);
    if (s.initiatorUserId !== user.id) return { session: s, history, transfer };
    return { session: s, history, transfer, declines: await this.#d.storage.catalogs.declines(s.sessionId) };
  }

  /** POST /api/ice/sessions/{id}/cancel, with the participant's reason when it gives one. */
  async cancel(user: UserRecord, sessionId: string, reason: CancelBody = {}): Promise<SessionRecord> {
    const s = await this.#session(sessionId);
    if (!SignalingService.#isParticipant(user, s))
      throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not yours`);
    const side: FailedSide = s.initiatorUserId === user.id ? 'consumer' : 'provider';
    const moved = await this.#d.storage.sessions.transition(
      s.sessionId,
      OPEN_STATUSES,
      'cancelled',
      this.#nowIso(),
      user.id,
      {
        code: reason.code ?? 'ERR_CANCELLED',
        message: reason.message ?? `cancelled by the ${side}`,
        side,
      },
    );
    if (moved === undefined) {
      const now = await this.#session(sessionId);
      throw new ApiError('ERR_SESSION_STATE', `session ${now.sessionId} is already ${now.status}`);
    }
    this.#d.log.info({ session: s.sessionId, user: user.id }, 'session cancelled');
    if (s.status === 'pending') this.#d.hub.sessionWithdrawn(s, null);
    this.#d.hub.sessionStatus(moved);
    return moved;
  }

  /** POST /api/transfers/{id}: a participant reports progress or outcome (docs/api.md §3). */
  async reportTransfer(user: UserRecord, sessionId: string, body: TransferBody): Promise<TransferRecord> {
    const s = await this.#session(sessionId);
    if (!SignalingService.#isParticipant(user, s)) {
      if (user.clientType === 1) await this.#mustNotBeReleased(user, s);
      throw new ApiError('ERR_FORBIDDEN', `session ${s.sessionId} is not yours`);
    }
    if (s.status === 'pending') {
      throw new ApiError(
        'ERR_SESSION_STATE',
        `session ${s.sessionId} has not been claimed by a provider yet`,
      );
    }
    if (isFinalStatus(s.status) && s.status !== body.status) {
      throw new ApiError('ERR_SESSION_STATE', `session ${s.sessionId} is already ${s.status}`);
    }
    const patch = {
      ...(body.file_name === undefined ? {} : { fileName: body.file_name }),
      ...(body.file_size === undefined ? {} : { fileSize: body.file_size }),
      ...(body.bytes === undefined ? {} : { bytes: body.bytes }),
      ...(body.sha256 === undefined ? {} : { sha256: body.sha256 }),
      ...(body.transport === undefined ? {} : { transport: body.transport }),
      ...(body.duration_ms === undefined ? {} : { durationMs: body.duration_ms }),
      ...(body.error === undefined ? {} : { error: body.error }),
      ...(body.verified === undefined ? {} : { verified: body.verified }),
      ...(body.path === undefined ? {} : { path: body.path }),
      ...(body.status === 'failed'
        ? { outcome: reportOutcome(body, s.initiatorUserId === user.id ? 'consumer' : 'provider') }
        : {}),
    };
    const r = await this.#d.storage.transfers.report(
      {
        sessionId: s.sessionId,
        byUserId: user.id,
        status: body.status,
        transitionFrom: REPORT_FROM[body.status],
        patch,
      },
      this.#nowIso(),
    );
    if (r === undefined) throw new ApiError('ERR_SESSION_NOT_FOUND', `session ${sessionId} not found`);
    if (isFinalStatus(r.session.status) && r.session.status !== body.status) {
      throw new ApiError('ERR_SESSION_STATE', `session ${s.sessionId} is already ${r.session.status}`);
    }
    if (r.previousStatus !== null) {
      this.#d.log.info(
        {
          session: s.sessionId,
          user: user.id,
          from: r.previousStatus,
          to: r.session.status,
          transport: r.transfer.transport,
          bytes: r.transfer.bytes,
        },
        'session status',
      );
      this.#d.hub.sessionStatus(r.session);
      if (isFinalStatus(r.session.status))
        this.#d.metrics?.transfer(r.transfer.transport, r.session.status, r.transfer.bytes, r.transfer.path);
    }
    return r.transfer;
  }

  /** GET /api/transfers: the caller's transfers, newest first, with the participants' names. */
  listTransfers(user: UserRecord, limit: number, filter: TransferFilter = {}): Promise<TransferListEntry[]> {
    return this.#d.storage.transfers.listForUser(user.id, limit, filter);
  }

  /** The open sessions a provider may serve (sent on push connect, and after a change of request types). */
  async openSessionsFor(user: UserRecord, limit = 500): Promise<SessionRecord[]> {
    if (user.clientType !== 1) return [];
    return this.listSessions(user, limit);
  }

  /**
   * Expires sessions untouched for `sessionTtlMs`. Sessions that had signals since the last sweep, or have a
   * running relay, are touched first (so a long relayed transfer does not expire). Returns how many expired.
   */
  async sweep(activeSessionIds: readonly string[]): Promise<number> {
    const { storage, hub, options } = this.#d;
    const now = this.#d.now();
    const nowIso = new Date(now).toISOString();
    const touched = [...this.#active, ...activeSessionIds];
    this.#active = new Set();
    await storage.sessions.touch(touched, nowIso);
    const cutoff = new Date(now - options.sessionTtlMs).toISOString();
    let total = 0;
    const ttlS = Math.round(options.sessionTtlMs / 1000);
    const why = (_s: SessionRecord, previous: SessionStatus): Outcome => ({
      code: 'ERR_EXPIRED',
      message: `no activity for ${ttlS} s while ${previous}`,
      side: 'server',
    });
    for (;;) {
      const batch = await storage.sessions.expireStale(cutoff, nowIso, 500, why);
      for (const { session, previous } of batch) {
        if (previous === 'pending') hub.sessionWithdrawn({ ...session, status: 'pending' }, null);
        hub.sessionStatus(session);
      }
      total += batch.length;
      if (batch.length < 500) break;
    }
    if (total > 0) this.#d.log.info({ expired: total }, 'sessions expired');
    return total;
  }

  /**
   * Who may join a session's relay (docs/api.md §6): its consumer, and its provider — a provider that may
   * serve a still-open session claims it by joining, as an offer would.
   */
  async admitRelay(user: UserRecord, sessionId: string): Promise<RelayAdmission> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await this.#d.storage.sessions.get(sessionId.toLowerCase());
      if (s === undefined)
        return { ok: false, closeCode: WS_CLOSE.NOT_FOUND, reason: 'ERR_SESSION_NOT_FOUND' };
      if (FINAL_STATUSES.includes(s.status))
        return { ok: false, closeCode: WS_CLOSE.CONFLICT, reason: `ERR_SESSION_STATE: ${s.status}` };
      if (s.initiatorUserId === user.id) return { ok: true, session: s, side: 'consumer' };
      if (user.clientType !== 1) return { ok: false, closeCode: WS_CLOSE.FORBIDDEN, reason: 'ERR_FORBIDDEN' };
      if (s.targetUserId === user.id && s.status !== 'pending')
        return { ok: true, session: s, side: 'provider' };
      if (s.targetUserId !== null && s.targetUserId !== user.id) {
        return s.status === 'pending'
          ? { ok: false, closeCode: WS_CLOSE.FORBIDDEN, reason: 'ERR_FORBIDDEN' }
          : { ok: false, closeCode: WS_CLOSE.CONFLICT, reason: 'ERR_SESSION_CLAIMED' };
      }
      if (!UserDirectory.mayServe(user, s))
        return { ok: false, closeCode: WS_CLOSE.FORBIDDEN, reason: 'ERR_FORBIDDEN' };
      if (s.targetUserId === null) {
        try {
          this.#mustBeOffered(user, s);
        } catch (err) {
          const e = err as ApiError;
          return {
            ok: false,
            closeCode: e.status === 409 ? WS_CLOSE.CONFLICT : WS_CLOSE.FORBIDDEN,
            reason: e.code,
          };
        }
      }
      const claimed = await this.#d.storage.sessions.claim(s.sessionId, user.id, this.#nowIso());
      if (claimed !== undefined) {
        this.#d.log.info({ session: s.sessionId, provider: user.id, by: 'relay' }, 'session claimed');
        this.#d.hub.sessionWithdrawn(s, user.id);
        this.#d.hub.sessionStatus(claimed);
        return { ok: true, session: claimed, side: 'provider' };
      }
    }
    return { ok: false, closeCode: WS_CLOSE.CONFLICT, reason: 'ERR_SESSION_CLAIMED' };
  }
}

/** The refusal a provider gets once the server released its claim (docs/api.md §3 "Claim timeout"). */
function claimReleased(s: SessionRecord, d: DeclineRecord): ApiError {
  return new ApiError(
    'ERR_CLAIM_RELEASED',
    `your claim of session ${s.sessionId} was released at ${d.at} (${d.message}); it is offered to other providers`,
  );
}

/** `parameters` as stored: a JSON-encoded object (a string is checked, an object encoded). */
function normaliseParameters(p: string | Record<string, unknown> | undefined): string {
  if (p === undefined) return '{}';
  let text: string;
  if (typeof p === 'string') {
    let v: unknown;
    try {
      v = JSON.parse(p);
    } catch (err) {
      throw new ApiError(
        'ERR_VALIDATION',
        `body.parameters must be a JSON-encoded object: ${(err as Error).message}`,
      );
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ApiError('ERR_VALIDATION', 'body.parameters must be a JSON-encoded object');
    }
    text = p;
  } else {
    text = JSON.stringify(p);
  }
  if (Buffer.byteLength(text) > MAX_PARAMETERS_BYTES) {
    throw new ApiError('ERR_VALIDATION', `body.parameters must be at most ${MAX_PARAMETERS_BYTES} bytes`);
  }
  return text;
}
