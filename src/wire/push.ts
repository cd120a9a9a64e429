/**
 * The push channel's messages (docs/api.md §5): text JSON, one object per message, told apart by `type`.
 * Server → client: `hello`, `session`, `session-claimed`, `signal`, `session-status`, `claim-released`,
 * `result`, `pong`.
 * Client → server: `signal`, `ping`. A `ref` a client puts on a message comes back on its answer.
 */
import { Type, type Static } from '@sinclair/typebox';
import { createChecker, type Checker, type Decoded } from './check.js';
import { ErrorDetail } from './errors.js';
import { SessionWire, SignalWire } from './sessions.js';

/**
 * The WebSocket subprotocol a browser offers to carry its token on `/api/ws` and `/api/relay/…`
 * (docs/api.md §5): `new WebSocket(url, [WS_BEARER_PROTOCOL, token])`. A page cannot set `Authorization`,
 * and a token in the URL would sit in logs and history; the server answers with this name only, never
 * echoing the token.
 */
export const WS_BEARER_PROTOCOL = 'sdrlink-bearer';

const str = () => Type.String();
/** A client's correlation value, echoed on the answer. */
const Ref = Type.Optional(Type.Union([Type.Number(), Type.String()]));

/** First message on every connection: who the server took the token for. */
export const PushHello = Type.Object({
  type: Type.Literal('hello'),
  user_id: str(),
  client_type: Type.Integer(),
});
/** To providers: a `pending` session they may serve (may arrive twice: key on `session_id`). */
export const PushSession = Type.Object({ type: Type.Literal('session'), session: SessionWire });
/** To providers: a session left their list (claimed by another, cancelled, expired). */
export const PushSessionClaimed = Type.Object({ type: Type.Literal('session-claimed'), session_id: str() });
/** A signal addressed to this user, as stored. */
export const PushSignal = Type.Object({ type: Type.Literal('signal'), signal: SignalWire });
/** To both participants: the session moved to `status`. */
export const PushSessionStatus = Type.Object({
  type: Type.Literal('session-status'),
  session_id: str(),
  status: str(),
});
/**
 * To a provider: its claim of a session was released — no channel within the claim timeout (docs/api.md
 * §3) — and the session is offered to others; it drops its connection for `attempt`.
 */
export const PushClaimReleased = Type.Object({
  type: Type.Literal('claim-released'),
  session_id: str(),
  attempt: Type.Integer({ minimum: 0 }),
  code: str(),
  message: str(),
});
/** The answer to a client's `signal`: the stored signal, or why it was refused. */
export const PushResult = Type.Union([
  Type.Object({ type: Type.Literal('result'), ref: Ref, ok: Type.Literal(true), signal: SignalWire }),
  Type.Object({ type: Type.Literal('result'), ref: Ref, ok: Type.Literal(false), error: ErrorDetail }),
]);
/** The answer to a client's `ping`. */
export const PushPong = Type.Object({ type: Type.Literal('pong'), ref: Ref });

/** Every message the server sends on the push channel, by `type`. */
export const PUSH_SERVER_MESSAGES = {
  hello: PushHello,
  session: PushSession,
  'session-claimed': PushSessionClaimed,
  signal: PushSignal,
  'session-status': PushSessionStatus,
  'claim-released': PushClaimReleased,
  result: PushResult,
  pong: PushPong,
} as const;

export type PushServerMessageType = keyof typeof PUSH_SERVER_MESSAGES;
export type PushServerMessage = {
  [K in PushServerMessageType]: Static<(typeof PUSH_SERVER_MESSAGES)[K]>;
}[PushServerMessageType];

const PUSH_CHECKERS = Object.fromEntries(
  Object.entries(PUSH_SERVER_MESSAGES).map(([type, schema]) => [type, createChecker(schema)]),
) as { [K in PushServerMessageType]: Checker<Static<(typeof PUSH_SERVER_MESSAGES)[K]>> };

/**
 * Parses and checks one message of the server's: JSON, an object, a known `type`, and that type's shape.
 * A message that fails is the server's bug or a newer server's addition; clients ignore it (its `parsed`
 * value is there to answer a `result` whose shape is wrong).
 */
export function decodePushServerMessage(text: string): Decoded<PushServerMessage> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}`, parsed: undefined };
  }
  const type = (parsed as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.hasOwn(PUSH_CHECKERS, type)) {
    return { ok: false, error: `unknown message type ${JSON.stringify(type)}`, parsed };
  }
  const checker = PUSH_CHECKERS[type as PushServerMessageType] as Checker<PushServerMessage>;
  if (checker.check(parsed)) return { ok: true, value: parsed };
  return { ok: false, error: `${type} message ${checker.explain(parsed)}`, parsed };
}

/** Encodes a server message; the parameter type makes the compiler check every message the server builds. */
export function encodePushMessage(message: PushServerMessage): string {
  return JSON.stringify(message);
}

/** A client posts a signal (the fields of `POST /api/ice/signal`). */
export const PushClientSignal = Type.Object({
  type: Type.Literal('signal'),
  ref: Ref,
  session_id: str(),
  signal_type: str(),
  signal_data: str(),
});
export const PushPing = Type.Object({ type: Type.Literal('ping'), ref: Ref });

/** Every message a client may send on the push channel. */
export const PushClientMessage = Type.Union([PushClientSignal, PushPing]);
export type PushClientMessage = Static<typeof PushClientMessage>;
