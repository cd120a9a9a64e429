/**
 * ICE sessions, signals, the ICE configuration and transfer reports on the wire (docs/api.md §2–§4).
 * Names and JSON types follow the seed's Go structs (DESIGN.md, "Wire contract with the seed clients"):
 * ids of users and sessions are strings, `parameters` is a JSON-encoded string, a signal's `id` a number.
 * Request schemas carry the server's `errorMessage` wording; response schemas also drive the server's
 * serializer, and the agents check what they receive against them.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { enumOf, raw } from './raw.js';

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const REQUEST_TYPE_PATTERN_SRC = '^[a-z][a-z0-9-]{0,63}$';

const str = (opts: Record<string, unknown> = {}) => Type.String(opts);
const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const count = () => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** A session id as a request names it. */
export const SessionId = str({ pattern: UUID_PATTERN, errorMessage: 'must be a session id (a UUID)' });

export const RequestType = str({
  pattern: REQUEST_TYPE_PATTERN_SRC,
  errorMessage:
    "must be a request type: lowercase letters, digits and '-', starting with a letter, at most 64",
});

/**
 * `progress` is ours (docs/api.md §2): a provider's word on a claimed session while it prepares the file.
 * A seed client reads only `offer` and `candidate` and ignores it.
 */
export const SIGNAL_TYPES = ['offer', 'answer', 'candidate', 'error', 'progress'] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

export const REPORT_STATUSES = ['connected', 'transferring', 'completed', 'failed'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export const TRANSPORTS = ['p2p', 'relay'] as const;

/** Which side ended a session that did not complete (docs/api.md §3 "Outcome"). */
export const FAILED_SIDES = ['consumer', 'provider', 'server'] as const;
export type FailedSide = (typeof FAILED_SIDES)[number];

/** The stable code of a recorded failure: an `ERR_…`-style upper-case token. */
export const ERROR_CODE_PATTERN = '^[A-Z][A-Z0-9_]{0,63}$';

/**
 * How a transfer's bytes went (docs/api.md §3): `ws-relay` through the server's relay, or the selected
 * ICE candidate pair as `<local>-<remote>/<proto>` (`host-host/udp`, `srflx-prflx/udp`, `relay-srflx/udp`).
 */
export const TRANSFER_PATH_PATTERN =
  '^(ws-relay|(host|srflx|prflx|relay)-(host|srflx|prflx|relay)/(udp|tcp))$';

const ErrorCode = str({
  pattern: ERROR_CODE_PATTERN,
  errorMessage: 'must be an error code like "ERR_PARAMS" (upper-case letters, digits and _)',
});

/** `POST /api/ice/initiate` body (seed fields first). */
export const InitiateBody = Type.Object({
  request_type: str({ minLength: 1, maxLength: 64 }),
  parameters: Type.Optional(
    raw<string | Record<string, unknown>>({
      type: ['string', 'object'],
      errorMessage: 'must be a JSON-encoded object (a string) or an object',
    }),
  ),
  file_name: Type.Optional(str({ maxLength: 255 })),
  file_size: Type.Optional(count()),
  file_type: Type.Optional(str({ maxLength: 255 })),
  target: Type.Optional(
    raw<string | number>({
      type: ['string', 'integer'],
      minLength: 1,
      maxLength: 64,
      minimum: 1,
      errorMessage: 'must be a provider user name or user id',
    }),
  ),
  capabilities: Type.Optional(
    Type.Array(
      str({
        pattern: '^[a-z0-9][a-z0-9/._-]{0,63}$',
        errorMessage: 'must be a capability token like "sdrlink/1"',
      }),
      {
        maxItems: 16,
        uniqueItems: true,
      },
    ),
  ),
});
export type InitiateBody = Static<typeof InitiateBody>;

/** `POST /api/ice/signal` body; also the fields of the push channel's `signal` message. */
export const SignalBody = Type.Object({
  session_id: SessionId,
  signal_type: enumOf(SIGNAL_TYPES),
  signal_data: str(),
});
export type SignalBody = Static<typeof SignalBody>;

/** `POST /api/transfers/{session_id}` body: what a participant reports about its transfer (§3). */
export const TransferBody = Type.Object({
  status: enumOf(REPORT_STATUSES),
  file_name: Type.Optional(str({ minLength: 1, maxLength: 255 })),
  file_size: Type.Optional(count()),
  bytes: Type.Optional(count()),
  sha256: Type.Optional(str({ pattern: '^[0-9a-f]{64}$', errorMessage: 'must be 64 lowercase hex digits' })),
  transport: Type.Optional(enumOf(TRANSPORTS)),
  duration_ms: Type.Optional(count()),
  error: Type.Optional(str({ maxLength: 1024 })),
  verified: Type.Optional(Type.Boolean()),
  /** With `failed`: the failure's stable code (else taken from an `error` that starts `ERR_…: `). */
  error_code: Type.Optional(ErrorCode),
  /** With `failed`: which side failed, when the reporter knows it was the other (default: the reporter). */
  failed_side: Type.Optional(enumOf(FAILED_SIDES)),
  path: Type.Optional(
    str({
      pattern: TRANSFER_PATH_PATTERN,
      errorMessage: 'must be "ws-relay" or "<local>-<remote>/<proto>" like "host-host/udp"',
    }),
  ),
});
export type TransferBody = Static<typeof TransferBody>;

/** `POST /api/ice/sessions/{session_id}/cancel` body (optional): why the participant cancels. */
export const CancelBody = Type.Object({
  code: Type.Optional(ErrorCode),
  message: Type.Optional(str({ maxLength: 1024 })),
});
export type CancelBody = Static<typeof CancelBody>;

/** Why a session ended without completing (§3 "Outcome"); every field null while none is recorded. */
const OutcomeFields = {
  error_code: Type.Optional(nullable(str())),
  error_message: Type.Optional(nullable(str())),
  failed_side: Type.Optional(nullable(str())),
  path: Type.Optional(nullable(str())),
};

/** A session as the server sends it (§2): `target_user_id` is `""` while any provider may claim it. */
export const SessionWire = Type.Object({
  session_id: str(),
  initiator_user_id: str(),
  target_user_id: str(),
  request_type: str(),
  parameters: str(),
  status: str(),
  capabilities: Type.Array(str()),
  created_at: str(),
  updated_at: str(),
  /** Ours (additive): which claim the session is at, 0 until a stalled claim is released (§3). */
  attempt: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type SessionWire = Static<typeof SessionWire>;

/**
 * `POST /api/ice/initiate`'s answer: the session, and (additive) how many providers online could serve it
 * now (docs/api.md §12): 0 tells a consumer at once that nobody can, instead of waiting for an offer.
 */
export const InitiateWire = Type.Composite([
  SessionWire,
  Type.Object({
    providers_able: Type.Optional(Type.Integer({ minimum: 0 })),
    /** When `providers_able` is 0 (an open request): why nobody can serve it, and what is on offer. */
    no_provider: Type.Optional(Type.String()),
    /**
     * How long a claim of this session may take to reach a channel before the server releases it and
     * offers the session again (§3 "Claim timeout"); absent when it never does (a seed consumer's session,
     * or the timeout off).
     */
    claim_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
]);
export type InitiateWire = Static<typeof InitiateWire>;

/** One transition of a session (§3). */
export const HistoryWire = Type.Object({ status: str(), at: str(), by_user_id: str() });
export type HistoryWire = Static<typeof HistoryWire>;

/** A provider's decline of a session (§12), as its consumer sees it in the session's detail. */
export const DeclineEntryWire = Type.Object({
  by_user_id: str(),
  code: str(),
  message: str(),
  at: str(),
});
export type DeclineEntryWire = Static<typeof DeclineEntryWire>;

/** `GET /api/ice/sessions/{session_id}`: the session and its history (and, for its consumer, the declines). */
export const SessionDetailWire = Type.Composite([
  SessionWire,
  Type.Object({
    history: Type.Array(HistoryWire),
    ...OutcomeFields,
    declines: Type.Optional(Type.Array(DeclineEntryWire)),
  }),
]);
export type SessionDetailWire = Static<typeof SessionDetailWire>;

/**
 * A stored signal (§2). `signal_type` is a plain string on the way out: a client ignores types it does
 * not know (the seed does), so a newer server may add one.
 */
export const SignalWire = Type.Object({
  id: Type.Integer(),
  session_id: str(),
  signal_type: str(),
  signal_data: str(),
  from_client_id: str(),
  to_client_id: str(),
  created_at: str(),
  /** Ours (additive): the session's claim attempt the signal was posted under (§3 "Claim timeout"). */
  attempt: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type SignalWire = Static<typeof SignalWire>;

/** A transfer record, the seed's `file_transfers` row (§3). */
export const TransferWire = Type.Object({
  session_id: str(),
  file_name: str(),
  file_size: Type.Integer(),
  file_type: nullable(str()),
  request_type: str(),
  parameters: nullable(str()),
  status: str(),
  bytes: Type.Integer(),
  sha256: nullable(str()),
  transport: nullable(str()),
  duration_ms: nullable(Type.Integer()),
  error: nullable(str()),
  verified: nullable(Type.Boolean()),
  relay_bytes: Type.Integer(),
  created_at: str(),
  updated_at: nullable(str()),
  completed_at: nullable(str()),
  ...OutcomeFields,
  /** `GET /api/transfers` only: the participants' user names (the provider's null while unclaimed). */
  provider_name: Type.Optional(nullable(str())),
  consumer_name: Type.Optional(str()),
});
export type TransferWire = Static<typeof TransferWire>;

/** One entry of RTCConfiguration.iceServers (§4). */
export const IceServerWire = Type.Object({
  urls: Type.Union([str(), Type.Array(str())]),
  username: Type.Optional(str()),
  credential: Type.Optional(str()),
});
export type IceServerWire = Static<typeof IceServerWire>;

/** `GET /api/ice/config` (§4). */
export const IceConfigWire = Type.Object({
  ice_servers: Type.Array(IceServerWire),
  relay_after_ms: Type.Integer({ minimum: 0 }),
});
export type IceConfigWire = Static<typeof IceConfigWire>;

// ---- what a signal's `signal_data` encodes (a JSON string on the wire, §2) ----

/** An offer's `signal_data`: RTCSessionDescriptionInit; `type`, when present, is the signal's type. */
export const OfferData = Type.Object({ type: Type.Optional(Type.Literal('offer')), sdp: str() });
/** An answer's `signal_data`: RTCSessionDescriptionInit. */
export const AnswerData = Type.Object({ type: Type.Optional(Type.Literal('answer')), sdp: str() });
/** A candidate's `signal_data`: RTCIceCandidateInit (the seed's `webrtc.ICECandidateInit`). */
export const CandidateData = Type.Object({
  candidate: str(),
  sdpMid: Type.Optional(nullable(str())),
  sdpMLineIndex: Type.Optional(nullable(Type.Integer({ minimum: 0, maximum: 65535 }))),
});
/** An `error` signal's `signal_data`: why a participant gave the session up. */
export const ErrorSignalData = Type.Object({ code: Type.Optional(str()), message: Type.Optional(str()) });

/**
 * A `progress` signal's `signal_data`: the provider is producing the file and has written `bytes` of about
 * `total` (its estimate; 0 when it has none). Providers send at most one every 500 ms. Phase `queued`: a
 * live capture waits for the provider's device, `position` in line (1: next).
 */
export const ProgressSignalData = Type.Object({
  phase: Type.Union([Type.Literal('preparing'), Type.Literal('queued')]),
  bytes: count(),
  total: count(),
  position: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
});

/** The schema of each signal type's decoded `signal_data`. */
export const SIGNAL_DATA = {
  offer: OfferData,
  answer: AnswerData,
  candidate: CandidateData,
  error: ErrorSignalData,
  progress: ProgressSignalData,
} as const;
export type SignalData<T extends SignalType> = Static<(typeof SIGNAL_DATA)[T]>;
