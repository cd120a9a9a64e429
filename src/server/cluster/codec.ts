/**
 * The messages server instances exchange on the cluster bus (docs/architecture.md "Several instances"):
 * one JSON object each, told apart by `t`, carrying the sender's instance id `i`. A message is at most
 * {@link CLUSTER_PAYLOAD_MAX} bytes (PostgreSQL's NOTIFY limit): a session or signal record that does not
 * fit travels as its id (`ref`), and the receiver reads the row.
 *
 * Instances share a secret and a database, but a message is still checked (TypeBox) before it is used: one
 * that fails is logged and dropped, never applied.
 */
import { Type, type Static } from '@sinclair/typebox';
import { CLUSTER_PAYLOAD_MAX, type SessionRecord, type SignalRecord } from '../../storage/types.js';
import { createChecker } from '../../wire/check.js';

const Id = Type.Integer({ minimum: 0 });
const Text = Type.String({ maxLength: CLUSTER_PAYLOAD_MAX });
const Instance = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });
const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('offered'),
  Type.Literal('connected'),
  Type.Literal('transferring'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('expired'),
  Type.Literal('cancelled'),
]);

const SessionRecordSchema = Type.Object({
  sessionId: Text,
  initiatorUserId: Id,
  targetUserId: Type.Union([Id, Type.Null()]),
  requestType: Text,
  parameters: Text,
  status: Status,
  capabilities: Type.Array(Text),
  createdAt: Text,
  updatedAt: Text,
  attempt: Id,
  claimedAt: Type.Union([Text, Type.Null()]),
  namedUserId: Type.Union([Id, Type.Null()]),
});

const SignalRecordSchema = Type.Object({
  id: Id,
  sessionId: Text,
  signalType: Type.Union(['offer', 'answer', 'candidate', 'error', 'progress'].map((s) => Type.Literal(s))),
  signalData: Type.String(),
  fromUserId: Id,
  toUserId: Id,
  createdAt: Text,
  attempt: Id,
});

/** A session record, or (too large) its id and status. */
const SessionRef = Type.Union([
  Type.Object({ s: SessionRecordSchema }),
  Type.Object({ ref: Text, st: Status }),
]);

const head = { i: Instance };

export const ClusterMessage = Type.Union([
  /** A new pending session (the hub's `sessionCreated`). */
  Type.Intersect([Type.Object({ ...head, t: Type.Literal('created') }), SessionRef]),
  /** A session left the providers' lists; `x`: the claimant, who is not told. */
  Type.Intersect([
    Type.Object({ ...head, t: Type.Literal('withdrawn'), x: Type.Union([Id, Type.Null()]) }),
    SessionRef,
  ]),
  /** A session transition. */
  Type.Intersect([Type.Object({ ...head, t: Type.Literal('status') }), SessionRef]),
  /** A stored signal, or (too large) its id, session and addressee. */
  Type.Object({ ...head, t: Type.Literal('signal'), g: SignalRecordSchema }),
  Type.Object({ ...head, t: Type.Literal('signal'), ref: Id, sid: Text, to: Id }),
  /** A push message for one user's connections, encoded as it is sent (`m`), or a session by id. */
  Type.Object({ ...head, t: Type.Literal('user'), u: Id, m: Text }),
  Type.Object({ ...head, t: Type.Literal('user'), u: Id, session: Text }),
  /**
   * An instance is alive (sent every heartbeat and when its providers change): its URL, the providers with
   * a push connection to it (`p`), the providers it heard from otherwise since its last heartbeat
   * (`seen`: [id, ms]); `bye` when it shuts down.
   */
  Type.Object({
    ...head,
    t: Type.Literal('presence'),
    url: Text,
    p: Type.Array(Id, { maxItems: 1000 }),
    seen: Type.Array(Type.Tuple([Id, Type.Number()]), { maxItems: 500 }),
    bye: Type.Optional(Type.Boolean()),
  }),
  /** A session's declines changed (read them again). */
  Type.Object({ ...head, t: Type.Literal('declines'), sid: Text }),
  /** A provider's catalog changed (read it again). */
  Type.Object({ ...head, t: Type.Literal('catalog'), u: Id }),
  /** A user's record changed (drop it from the cache). */
  Type.Object({ ...head, t: Type.Literal('user-changed'), u: Id }),
]);
export type ClusterMessage = Static<typeof ClusterMessage>;

const checker = createChecker(ClusterMessage);

/** Encodes a message; a session or signal record that would not fit is replaced by its id. */
export function encodeClusterMessage(msg: ClusterMessage): string {
  const text = JSON.stringify(msg);
  if (Buffer.byteLength(text) <= CLUSTER_PAYLOAD_MAX) return text;
  if ('s' in msg) {
    const { s, ...rest } = msg;
    return JSON.stringify({ ...rest, ref: s.sessionId, st: s.status });
  }
  if ('g' in msg) {
    const { g, ...rest } = msg;
    return JSON.stringify({ ...rest, ref: g.id, sid: g.sessionId, to: g.toUserId });
  }
  if (msg.t === 'presence' && msg.p.length + msg.seen.length > 0) {
    // thousands of providers on one instance: the heartbeat still goes out, listing those that fit
    return encodeClusterMessage({
      ...msg,
      p: msg.p.slice(0, Math.floor(msg.p.length / 2)),
      seen: msg.seen.slice(0, Math.floor(msg.seen.length / 2)),
    });
  }
  throw new RangeError(`cluster message ${msg.t} of ${Buffer.byteLength(text)} bytes does not fit`);
}

export type DecodedClusterMessage = { ok: true; value: ClusterMessage } | { ok: false; error: string };

/** Parses and checks one message. */
export function decodeClusterMessage(text: string): DecodedClusterMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (checker.check(parsed)) return { ok: true, value: parsed };
  return { ok: false, error: checker.explain(parsed) };
}

/** The record a message carries (the checked shape is the storage record's). */
export function sessionOf(m: { s: unknown }): SessionRecord {
  return m.s as SessionRecord;
}

export function signalOf(m: { g: unknown }): SignalRecord {
  return m.g as SignalRecord;
}
