/**
 * The storage contract: what the signaling server needs from a database, as repository interfaces.
 * The server sees only these types; the composition root (`src/server/app.ts`) picks an implementation
 * (`sqlite/` today). Every method that changes more than one row does so atomically, and every method
 * that can lose a race (claiming a session, a state transition) reports whether it won.
 *
 * Times are ISO-8601 UTC strings with milliseconds (`2024-05-01T12:00:00.000Z`), which sort as text.
 * User ids are numbers here; the HTTP layer turns them into strings (docs/api.md).
 */

/** 1 = provider (the seed's Type1, sends data), 2 = consumer (the seed's Type2, asks for data). */
export type ClientType = 1 | 2;

/** Session lifecycle (docs/api.md §3, DESIGN.md "Sessions"). */
export type SessionStatus =
  'pending' | 'offered' | 'connected' | 'transferring' | 'completed' | 'failed' | 'expired' | 'cancelled';

/** Statuses a session never leaves. */
export const FINAL_STATUSES: readonly SessionStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

/** Statuses a session can still move on from. */
export const OPEN_STATUSES: readonly SessionStatus[] = ['pending', 'offered', 'connected', 'transferring'];

/** True when `status` is final (completed, failed, expired, cancelled). */
export function isFinalStatus(status: SessionStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export type SignalType = 'offer' | 'answer' | 'candidate' | 'error' | 'progress';

export type Transport = 'p2p' | 'relay';

/** Which side ended a session that did not complete: a participant, or the server (expiry). */
export type FailedSide = 'consumer' | 'provider' | 'server';

/**
 * Why a session ended without completing (docs/api.md §3 "Outcome"): a stable code, a message, and who
 * ended it. Recorded once: the first final word wins, later ones do not overwrite it.
 */
export interface Outcome {
  code: string;
  message: string;
  side: FailedSide;
}

export interface UserRecord {
  id: number;
  username: string;
  clientType: ClientType;
  /** `scrypt$N$r$p$salt$hash` (see src/server/auth/passwords.ts). */
  passwordHash: string;
  /** Request types a provider serves; empty = every known type. Always empty for consumers. */
  requestTypes: string[];
  createdAt: string;
  /** When an operator disabled the user (`sdrlink user disable`); null while enabled. */
  disabledAt: string | null;
}

/**
 * How user names compare (docs/security.md): Unicode NFKC, then lower case. Two names with the same key
 * are the same user: registration refuses the second, and look-ups by name use the key.
 *
 * @example usernameKey('Alice') === usernameKey('alice') // true
 */
export function usernameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

export interface NewUser {
  username: string;
  passwordHash: string;
  clientType: ClientType;
  requestTypes: string[];
}

export interface SessionRecord {
  sessionId: string;
  initiatorUserId: number;
  /** The provider: named by the consumer at initiate, or the one that claimed the session; null while open. */
  targetUserId: number | null;
  requestType: string;
  /** JSON-encoded object, as the seed sends it. */
  parameters: string;
  status: SessionStatus;
  capabilities: string[];
  createdAt: string;
  updatedAt: string;
  /**
   * Which claim the session is at (docs/api.md §3 "Claim timeout"): 0 until a claim is released, then one
   * more for each release. Signals carry the attempt they were posted under.
   */
  attempt: number;
  /** When the current claim was made, while the session is `offered`; null otherwise. */
  claimedAt: string | null;
  /** The provider the consumer named at initiate (`target`); null for an open session. */
  namedUserId: number | null;
}

/** A claim the server releases because it did not reach a channel in time (docs/api.md §3). */
export interface ClaimRelease {
  sessionId: string;
  /** The claim's attempt: a session that moved on (a later claim, another status) is left alone. */
  attempt: number;
  /** The provider that holds the claim; it is recorded as having declined the session. */
  providerId: number;
  /** Only a claim made before this is released. */
  claimedBefore: string;
  /** The decline recorded for the provider (`session_declines`). */
  code: string;
  message: string;
}

export interface NewSession {
  sessionId: string;
  initiatorUserId: number;
  targetUserId: number | null;
  requestType: string;
  parameters: string;
  capabilities: string[];
  /** The seed's `file_transfers` fields sent with initiate. */
  fileName: string;
  fileSize: number;
  fileType: string | null;
}

export interface SignalRecord {
  id: number;
  sessionId: string;
  signalType: SignalType;
  /** JSON-encoded string, as received. */
  signalData: string;
  fromUserId: number;
  toUserId: number;
  createdAt: string;
  /** The session's claim attempt when the signal was posted ({@link SessionRecord.attempt}). */
  attempt: number;
}

export interface NewSignal {
  sessionId: string;
  signalType: SignalType;
  signalData: string;
  fromUserId: number;
  toUserId: number;
  /** For `candidate` signals, the seed's `ice_candidates` columns, taken from the RTCIceCandidateInit. */
  candidate?: { candidate: string; sdpMLineIndex: number; sdpMid: string };
}

export interface PostSignalOptions {
  /**
   * Claim the session for `fromUserId` first (pending → offered, target set), in the same transaction.
   * When the claim is lost the signal is not stored.
   */
  claim?: boolean;
  /** Move the session to `failed` (an `error` signal), in the same transaction. */
  fail?: boolean;
  /** With `fail`: why, recorded on the session's transfer. */
  outcome?: Outcome;
}

export type PostSignalResult =
  | {
      ok: true;
      signal: SignalRecord;
      /** The session after the post when it changed (claimed or failed), else null. */
      session: SessionRecord | null;
      claimed: boolean;
      statusChanged: boolean;
    }
  | { ok: false; reason: 'claim-lost' | 'final'; session: SessionRecord | undefined };

export interface HistoryEntry {
  status: SessionStatus;
  at: string;
  byUserId: number | null;
}

export interface TransferRecord {
  sessionId: string;
  fileName: string;
  fileSize: number;
  fileType: string | null;
  requestType: string;
  parameters: string | null;
  status: string;
  bytes: number;
  sha256: string | null;
  transport: Transport | null;
  durationMs: number | null;
  error: string | null;
  verified: boolean | null;
  relayBytes: number;
  createdAt: string;
  updatedAt: string | null;
  completedAt: string | null;
  /** Why it failed, was cancelled or expired (null while open, and when completed). */
  errorCode: string | null;
  errorMessage: string | null;
  failedSide: FailedSide | null;
  /** How the bytes went: `ws-relay`, or `<local>-<remote>/<proto>` (e.g. `host-host/udp`); null if unknown. */
  path: string | null;
}

/** A transfer as `GET /api/transfers` lists it: with its participants' names. */
export interface TransferListEntry extends TransferRecord {
  /** Null while no provider has claimed the session. */
  providerName: string | null;
  consumerName: string;
}

/** Which transfers to list (every filter optional; all given ones must hold). */
export interface TransferFilter {
  /** The transfer's status (`completed`, `failed`, `cancelled`, …). */
  status?: string;
  requestType?: string;
  /** The provider's user name. */
  providerName?: string;
  /** Created at or after (ISO 8601 UTC, as stored). */
  since?: string;
  /** Created before. */
  until?: string;
}

/** Fields a participant reports; absent fields keep their stored value. */
export interface TransferPatch {
  fileName?: string;
  fileSize?: number;
  bytes?: number;
  sha256?: string;
  transport?: Transport;
  durationMs?: number;
  error?: string;
  verified?: boolean;
  path?: string;
  /** Recorded only if the transfer has no outcome yet (the first final word wins). */
  outcome?: Outcome;
}

export interface TransferReport {
  sessionId: string;
  byUserId: number;
  /** The transfer's new status (also the session's, when `transitionFrom` allows it). */
  status: 'connected' | 'transferring' | 'completed' | 'failed';
  /** Session statuses from which the session moves to `status`; from any other it stays put. */
  transitionFrom: readonly SessionStatus[];
  patch: TransferPatch;
}

export interface TransferReportResult {
  transfer: TransferRecord;
  session: SessionRecord;
  /** The session status before the report, when the report moved it. */
  previousStatus: SessionStatus | null;
}

/** An API key as stored (docs/api.md §1.1): never its secret, only the secret's SHA-256. */
export interface ApiKeyRecord {
  id: number;
  userId: number;
  name: string;
  /** The key's first characters (`sdrk_<id>_` and 4 of the secret), to tell keys apart in a listing. */
  prefix: string;
  /** SHA-256 of the secret part, lowercase hex. */
  secretSha256: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Null: the key does not expire. */
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface NewApiKey {
  userId: number;
  name: string;
  secretSha256: string;
  /** The secret's first characters, for the public prefix (the id is added once it is known). */
  secretHead: string;
  expiresAt: string | null;
}

export interface ApiKeyRepository {
  /** Stores a new key; its `prefix` is `sdrk_<id>_<secretHead>`. */
  create(key: NewApiKey, now: string): Promise<ApiKeyRecord>;
  get(id: number): Promise<ApiKeyRecord | undefined>;
  /** The user's keys (revoked ones too), newest first. */
  listForUser(userId: number, limit: number): Promise<ApiKeyRecord[]>;
  /** Keys of the user that are neither revoked nor expired at `now`. */
  countActiveForUser(userId: number, now: string): Promise<number>;
  /** Sets `revoked_at` unless already set; returns the key as it is afterwards (undefined: no such key). */
  revoke(id: number, now: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use (`last_used_at`). */
  touch(id: number, now: string): Promise<void>;
}

export interface UserRepository {
  /**
   * Creates a user. Throws StorageError('ERR_CONFLICT') when the name is taken — by any name with the
   * same {@link usernameKey}.
   */
  create(user: NewUser, now: string): Promise<UserRecord>;
  byId(id: number): Promise<UserRecord | undefined>;
  /** The user whose name has the same {@link usernameKey} as `username`. */
  byName(username: string): Promise<UserRecord | undefined>;
  /**
   * Sets (a time) or clears (null) `disabledAt`; returns the user as it is afterwards (undefined: no such
   * user).
   */
  setDisabled(id: number, disabledAt: string | null): Promise<UserRecord | undefined>;
  /** Ids of the disabled users. */
  disabledIds(): Promise<number[]>;
  setRequestTypes(id: number, requestTypes: string[]): Promise<void>;
  /** The union of every provider's declared request types, sorted. */
  servedRequestTypes(): Promise<string[]>;
  list(): Promise<UserRecord[]>;
}

export interface SessionRepository {
  /** Creates the session, its `file_transfers` row and its first history entry, atomically. */
  create(session: NewSession, now: string): Promise<SessionRecord>;
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * Pending sessions a provider may serve, oldest first: those named for it, and unnamed ones whose
   * request type is in `requestTypes` (null = any type).
   */
  listOpenForProvider(
    providerId: number,
    requestTypes: readonly string[] | null,
    limit: number,
  ): Promise<SessionRecord[]>;
  /** Sessions the user takes part in (as initiator or target), newest first. */
  listForUser(userId: number, limit: number): Promise<SessionRecord[]>;
  /** Count of the initiator's sessions that are not final. */
  countOpenByInitiator(userId: number): Promise<number>;
  /**
   * How many sessions are in each open status now (statuses with none are absent). Costs a walk over the
   * open sessions only, not the whole table (the server's metrics read it at each scrape).
   */
  countOpenByStatus(): Promise<Partial<Record<SessionStatus, number>>>;
  /**
   * Claims a pending session for a provider: one UPDATE … WHERE status = 'pending' AND (target IS NULL OR
   * target = provider). Returns the claimed session, or undefined when the claim was lost.
   */
  claim(sessionId: string, providerId: number, now: string): Promise<SessionRecord | undefined>;
  /**
   * Moves a session to `to` if its status is one of `from` (one conditional UPDATE), recording history
   * and, for a final `to`, the `outcome` on its transfer. Returns the updated session, or undefined when
   * the session was not in one of `from`.
   */
  transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): Promise<SessionRecord | undefined>;
  /**
   * Marks sessions not final and untouched since `cutoff` as expired; returns them (at most `limit`).
   * `outcome` says why, for each (recorded on its transfer).
   */
  expireStale(
    cutoff: string,
    now: string,
    limit: number,
    outcome?: (session: SessionRecord, previous: SessionStatus) => Outcome,
  ): Promise<Array<{ session: SessionRecord; previous: SessionStatus }>>;
  /**
   * Sessions still `offered` under a claim made before `claimedBefore` (no participant reported a channel)
   * whose consumer declared `capability`, oldest claim first, at most `limit` — through a partial index of
   * the `offered` sessions.
   */
  staleClaims(claimedBefore: string, capability: string, limit: number): Promise<SessionRecord[]>;
  /**
   * Releases a stalled claim, atomically: if the session is still `offered` under `attempt` by
   * `providerId`, claimed before `claimedBefore` (one conditional UPDATE), it goes back to `pending` (its
   * target cleared unless the consumer named that provider), its attempt goes up by one (the claim's
   * signals are no longer listed), the provider is recorded as having declined it, and the history gets a
   * `pending` row by the server (null). Returns the session afterwards, or undefined when the claim had
   * moved on (connected, final, released already).
   */
  releaseClaim(release: ClaimRelease, now: string): Promise<SessionRecord | undefined>;
  /** Sets `updated_at` of the given sessions (activity that is not a stored row, e.g. a running relay). */
  touch(sessionIds: readonly string[], now: string): Promise<void>;
  history(sessionId: string): Promise<HistoryEntry[]>;
  /**
   * Retention (docs/security.md): for at most `limit` final sessions last changed before `cutoff` that
   * still have any, deletes their signals and candidates, their status history and their declines, in one
   * transaction. The session and transfer rows stay, so transfer listings keep them. Returns how many
   * sessions were pruned and rows deleted (call again while `sessions` is `limit`).
   */
  prune(cutoff: string, limit: number): Promise<PruneResult>;
}

/** What one {@link SessionRepository.prune} call removed. */
export interface PruneResult {
  sessions: number;
  signals: number;
  history: number;
  declines: number;
}

export interface SignalRepository {
  /**
   * Stores a signal if its session is not final, optionally claiming or failing the session in the same
   * transaction. A plain post is one statement (`INSERT … SELECT … WHERE EXISTS (open session)`) and does
   * not rewrite the session row: the caller records activity and touches sessions in batches (`touch`).
   */
  post(signal: NewSignal, now: string, options?: PostSignalOptions): Promise<PostSignalResult>;
  /**
   * Signals of a session addressed to `toUserId` with id > `afterId`, oldest first — those of its current
   * claim attempt only: a released claim's signals are not listed.
   */
  listFor(sessionId: string, toUserId: number, afterId: number, limit: number): Promise<SignalRecord[]>;
}

export interface TransferRepository {
  get(sessionId: string): Promise<TransferRecord | undefined>;
  /** Applies a participant's report to the transfer and (if allowed) the session, atomically. */
  report(report: TransferReport, now: string): Promise<TransferReportResult | undefined>;
  /** Adds bytes carried by the server's relay. */
  addRelayBytes(sessionId: string, bytes: number): Promise<void>;
  /** Transfers of sessions the user takes part in, newest first, with the participants' names. */
  listForUser(userId: number, limit: number, filter?: TransferFilter): Promise<TransferListEntry[]>;
}

/** The catalog a provider last announced (docs/api.md §12). */
export interface CatalogRecord {
  userId: number;
  /** The catalog as JSON text, as validated by the server. */
  catalog: string;
  updatedAt: string;
}

/** A provider's refusal of a session it was offered (docs/api.md §12). */
export interface DeclineRecord {
  sessionId: string;
  userId: number;
  code: string;
  message: string;
  at: string;
}

export interface CatalogRepository {
  /** Stores (or replaces) a provider's catalog. */
  put(userId: number, catalog: string, now: string): Promise<CatalogRecord>;
  get(userId: number): Promise<CatalogRecord | undefined>;
  /** Every stored catalog, by user id. */
  list(): Promise<CatalogRecord[]>;
  /** Records a decline; a provider's second decline of the same session keeps the first. Returns whether it was new. */
  decline(d: DeclineRecord): Promise<boolean>;
  /** The declines of a session, oldest first. */
  declines(sessionId: string): Promise<DeclineRecord[]>;
  /** The declines of every session still pending (read when the server starts). */
  pendingDeclines(): Promise<DeclineRecord[]>;
}

/** Everything the server needs from a database. */
export interface Storage {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly signals: SignalRepository;
  readonly transfers: TransferRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly catalogs: CatalogRepository;
  /** Which backend: SQLite (a file, or `:memory:`) or PostgreSQL. */
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Where the data lives: an absolute file path, `:memory:`, or `postgres://USER@HOST:PORT/DB` (never the
   * password).
   */
  readonly location: string;
  /**
   * What several server instances on one database share beyond the tables (docs/architecture.md "Several
   * instances"): present on PostgreSQL only; SQLite is one instance's file and has none.
   */
  readonly cluster?: ClusterStorage;
  /**
   * Resolves once every change already acknowledged is committed to the database: SQLite's hot path
   * writes behind (docs/architecture.md "The signaling hot path") and commits its log now; PostgreSQL
   * writes through, so there is nothing to wait for. Rejects with the commit's error.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The largest payload {@link ClusterBus.publish} carries (PostgreSQL's NOTIFY takes under 8000 bytes). */
export const CLUSTER_PAYLOAD_MAX = 7900;

/**
 * Messages between the server instances on one database, in the order each instance published them. A
 * message published while an instance's listening connection is down is lost to that instance: it is told
 * when the connection is back ({@link onReconnect}) and re-syncs what it keeps in memory.
 */
export interface ClusterBus {
  /** Sends a payload (at most {@link CLUSTER_PAYLOAD_MAX} bytes) to every instance, this one included. */
  publish(payload: string): Promise<void>;
  /** Calls `fn` with each payload received. */
  onMessage(fn: (payload: string) => void): void;
  /** Calls `fn` each time the listening connection is back after a loss (messages in between are lost). */
  onReconnect(fn: () => void): void;
  close(): Promise<void>;
}

/** The instance running a session's relay, and where the other instances reach it. */
export interface RelayOwner {
  readonly instanceId: string;
  readonly url: string;
}

/** Storage for several server instances on one database (PostgreSQL). */
export interface ClusterStorage {
  /** Opens the bus: a connection of its own that listens (and reconnects by itself). */
  openBus(): Promise<ClusterBus>;
  /**
   * Records `owner` as the relay owner of a session that has none (or whose owner is `replace`, an instance
   * that is gone), in one conditional UPDATE; returns the owner recorded now (undefined: no such session).
   */
  claimRelayOwner(sessionId: string, owner: RelayOwner, replace?: string): Promise<RelayOwner | undefined>;
}

/** Every code a storage failure carries (docs/errors.md "Signaling server", outside HTTP). */
export const STORAGE_ERROR_CODES = [
  'ERR_CONFLICT',
  'ERR_STORAGE',
  'ERR_MIGRATION',
  'ERR_DB_URL',
  'ERR_DB_UNREACHABLE',
  'ERR_DB_AUTH',
  'ERR_DB_UNAVAILABLE',
  'ERR_DB_NOT_EMPTY',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** A storage failure with a stable code (docs/errors.md "Signaling server"). */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
