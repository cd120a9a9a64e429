/**
 * Request and response schemas (TypeBox → JSON Schema for Fastify's validator and serializer), the wire
 * contract of docs/api.md. Bodies are validated without type coercion: `"1"` is not an integer unless a
 * schema says so (the seed sends exactly the types these schemas name). `errorMessage` gives a field its
 * own wording in 400 answers (see errors.ts).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const str = (opts: Record<string, unknown> = {}) => Type.String(opts);
/** A schema TypeBox cannot express directly, with its static type. */
const raw = <T>(schema: Record<string, unknown>) => Type.Unsafe<T>(schema);
const enumOf = <T extends string>(values: readonly T[]) =>
  raw<T>({ type: 'string', enum: values, errorMessage: `must be one of ${values.join(', ')}` });

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const USERNAME_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,63}$';
export const REQUEST_TYPE_PATTERN_SRC = '^[a-z][a-z0-9-]{0,63}$';

const SessionId = str({ pattern: UUID_PATTERN, errorMessage: 'must be a session id (a UUID)' });
const DecimalString = str({ pattern: '^\\d{1,15}$', errorMessage: 'must be a non-negative decimal integer' });
const RequestType = str({
  pattern: REQUEST_TYPE_PATTERN_SRC,
  errorMessage:
    "must be a request type: lowercase letters, digits and '-', starting with a letter, at most 64",
});
const RequestTypes = Type.Array(RequestType, { maxItems: 32, uniqueItems: true });

export const ClientTypeSchema = raw<1 | 2 | '1' | '2'>({
  enum: [1, 2, '1', '2'],
  errorMessage: 'must be 1 or 2',
});

export const RegisterBody = Type.Object({
  username: str({
    pattern: USERNAME_PATTERN,
    errorMessage: "must start with a letter and hold only letters, digits, '.', '_' or '-' (at most 64)",
  }),
  password: str({ minLength: 8, maxLength: 1024 }),
  client_type: ClientTypeSchema,
  request_types: Type.Optional(RequestTypes),
});
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginBody = Type.Object({
  username: str({ minLength: 1, maxLength: 64 }),
  password: str({ minLength: 1, maxLength: 1024 }),
});
export type LoginBody = Static<typeof LoginBody>;

export const RequestTypesBody = Type.Object({ request_types: RequestTypes });
export type RequestTypesBody = Static<typeof RequestTypesBody>;

export const SIGNAL_TYPES = ['offer', 'answer', 'candidate', 'error'] as const;
export const REPORT_STATUSES = ['connected', 'transferring', 'completed', 'failed'] as const;

export const InitiateBody = Type.Object({
  request_type: str({ minLength: 1, maxLength: 64 }),
  parameters: Type.Optional(
    raw<string | Record<string, unknown>>({
      type: ['string', 'object'],
      errorMessage: 'must be a JSON-encoded object (a string) or an object',
    }),
  ),
  file_name: Type.Optional(str({ maxLength: 255 })),
  file_size: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
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

export const SignalBody = Type.Object({
  session_id: SessionId,
  signal_type: enumOf(SIGNAL_TYPES),
  signal_data: str(),
});
export type SignalBody = Static<typeof SignalBody>;

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

export const TransferBody = Type.Object({
  status: enumOf(REPORT_STATUSES),
  file_name: Type.Optional(str({ minLength: 1, maxLength: 255 })),
  file_size: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  sha256: Type.Optional(str({ pattern: '^[0-9a-f]{64}$', errorMessage: 'must be 64 lowercase hex digits' })),
  transport: Type.Optional(enumOf(['p2p', 'relay'] as const)),
  duration_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  error: Type.Optional(str({ maxLength: 1024 })),
  verified: Type.Optional(Type.Boolean()),
});
export type TransferBody = Static<typeof TransferBody>;

// ---- responses (also drive fast-json-stringify) ----

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
});
export type SessionWire = Static<typeof SessionWire>;

export const HistoryWire = Type.Object({ status: str(), at: str(), by_user_id: str() });

export const SessionDetailWire = Type.Composite([
  SessionWire,
  Type.Object({ history: Type.Array(HistoryWire) }),
]);

export const SignalWire = Type.Object({
  id: Type.Integer(),
  session_id: str(),
  signal_type: str(),
  signal_data: str(),
  from_client_id: str(),
  to_client_id: str(),
  created_at: str(),
});
export type SignalWire = Static<typeof SignalWire>;

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

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
});
export type TransferWire = Static<typeof TransferWire>;

export const UserWire = Type.Object({
  user_id: str(),
  username: str(),
  client_type: Type.Integer(),
  request_types: Type.Array(str()),
});
export type UserWire = Static<typeof UserWire>;

export const LoginWire = Type.Object({
  token: str(),
  user_id: str(),
  client_type: Type.Integer(),
  expires_at: str(),
});

export const ErrorWire = Type.Object({ error: Type.Object({ code: str(), message: str() }) });
