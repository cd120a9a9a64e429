/** Users and tokens on the wire (docs/api.md §1). User ids travel as strings. */
import { Type, type Static } from '@sinclair/typebox';
import { raw } from './raw.js';
import { REQUEST_TYPE_PATTERN_SRC } from './sessions.js';

export const USERNAME_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,63}$';

const str = (opts: Record<string, unknown> = {}) => Type.String(opts);

const RequestTypes = Type.Array(
  str({
    pattern: REQUEST_TYPE_PATTERN_SRC,
    errorMessage:
      "must be a request type: lowercase letters, digits and '-', starting with a letter, at most 64",
  }),
  { maxItems: 32, uniqueItems: true },
);

/** `client_type`: 1 (provider) or 2 (consumer), as a number or a string. */
export const ClientTypeSchema = raw<1 | 2 | '1' | '2'>({
  enum: [1, 2, '1', '2'],
  errorMessage: 'must be 1 or 2',
});

/** `POST /api/auth/register` body. */
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

/** `POST /api/auth/login` body. */
export const LoginBody = Type.Object({
  username: str({ minLength: 1, maxLength: 64 }),
  password: str({ minLength: 1, maxLength: 1024 }),
});
export type LoginBody = Static<typeof LoginBody>;

/** `PUT /api/me/request-types` body. */
export const RequestTypesBody = Type.Object({ request_types: RequestTypes });
export type RequestTypesBody = Static<typeof RequestTypesBody>;

/** A user as `register`, `GET /api/me` and `PUT /api/me/request-types` answer. */
export const UserWire = Type.Object({
  user_id: str(),
  username: str(),
  client_type: Type.Integer(),
  request_types: Type.Array(str()),
});
export type UserWire = Static<typeof UserWire>;

/** `POST /api/auth/login` answer. */
export const LoginWire = Type.Object({
  token: str(),
  user_id: str(),
  client_type: Type.Integer(),
  expires_at: str(),
});
export type LoginWire = Static<typeof LoginWire>;
