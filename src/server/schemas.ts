/**
 * Request and response schemas of the HTTP API (TypeBox → JSON Schema for Fastify's validator and
 * serializer). The bodies and the JSON the server answers with are the wire contract shared with the agents
 * and the browser, defined once in `src/wire/` and re-exported here; only what no client sends or reads as
 * JSON (path and query parameters) is defined here. Bodies are validated without type coercion: `"1"` is
 * not an integer unless a schema says so (the seed sends exactly the types these schemas name).
 * `errorMessage` gives a field its own wording in 400 answers (see errors.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { RequestType, SessionId } from '../wire/sessions.js';
import { USERNAME_PATTERN } from '../wire/auth.js';

export {
  CancelBody,
  ClientTypeSchema,
  ErrorWire,
  HistoryWire,
  IceConfigWire,
  InitiateBody,
  LoginBody,
  LoginWire,
  REPORT_STATUSES,
  REQUEST_TYPE_PATTERN_SRC,
  RegisterBody,
  RequestTypesBody,
  SIGNAL_TYPES,
  SessionDetailWire,
  SessionWire,
  SignalBody,
  SignalWire,
  TransferBody,
  TransferWire,
  USERNAME_PATTERN,
  UUID_PATTERN,
  UserWire,
} from '../wire/index.js';

const DecimalString = Type.String({
  pattern: '^\\d{1,15}$',
  errorMessage: 'must be a non-negative decimal integer',
});

export const SessionParams = Type.Object({ session_id: SessionId });
export type SessionParams = Static<typeof SessionParams>;

export const SignalsQuery = Type.Object({
  session_id: Type.Optional(SessionId),
  after: Type.Optional(DecimalString),
  limit: Type.Optional(DecimalString),
});
export type SignalsQuery = Static<typeof SignalsQuery>;

export const ListQuery = Type.Object({ limit: Type.Optional(DecimalString) });
export type ListQuery = Static<typeof ListQuery>;

/** A date or a date-time (ISO 8601; a date is midnight UTC), checked for a real date by the route. */
const IsoTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?$',
  errorMessage: 'must be an ISO 8601 date or date-time, like 2026-12-01 or 2026-12-01T10:00:00Z',
});

/** `GET /api/transfers` filters (docs/api.md §3). */
export const TransfersQuery = Type.Object(
  {
    limit: Type.Optional(DecimalString),
    status: Type.Optional(
      Type.String({
        enum: [
          'pending',
          'offered',
          'connected',
          'transferring',
          'completed',
          'failed',
          'expired',
          'cancelled',
        ],
        errorMessage:
          'must be one of pending, offered, connected, transferring, completed, failed, expired, cancelled',
      }),
    ),
    type: Type.Optional(RequestType),
    provider: Type.Optional(Type.String({ pattern: USERNAME_PATTERN, errorMessage: 'must be a user name' })),
    since: Type.Optional(IsoTime),
    until: Type.Optional(IsoTime),
  },
  { additionalProperties: false },
);
export type TransfersQuery = Static<typeof TransfersQuery>;
