/** API keys on the wire (docs/api.md §1.1). Key ids and user ids travel as strings, like every id. */
import { Type, type Static } from '@sinclair/typebox';

/** Shape of an API key: `sdrk_<id>_<43 base64url characters: 32 random bytes>`. */
export const API_KEY_PATTERN = '^sdrk_[1-9][0-9]{0,15}_[A-Za-z0-9_-]{43}$';

/** A key's name: what it is for (`laptop`, `radio-1 on host x`). */
export const KEY_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9 ._@:+/()-]{0,63}$';

/** Longest `expires_in`: ten years, in seconds. */
export const KEY_MAX_EXPIRES_IN_S = 10 * 366 * 24 * 3600;

/** `POST /api/keys` body. */
export const CreateKeyBody = Type.Object(
  {
    name: Type.String({
      pattern: KEY_NAME_PATTERN,
      errorMessage:
        'must be 1 to 64 characters: letters, digits, spaces and . _ @ : + / ( ) -, starting with a letter or digit',
    }),
    expires_in: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: KEY_MAX_EXPIRES_IN_S,
        errorMessage: `must be an integer number of seconds from 1 to ${KEY_MAX_EXPIRES_IN_S}`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateKeyBody = Static<typeof CreateKeyBody>;

/** A key as `GET /api/keys` lists it: never its secret. */
export const ApiKeyWire = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The key's first characters (`sdrk_12_AbCd`), to tell keys apart. */
  prefix: Type.String(),
  user_id: Type.String(),
  created_at: Type.String(),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
  /** `active`, `expired` or `revoked`, as of the answer. */
  status: Type.String(),
});
export type ApiKeyWire = Static<typeof ApiKeyWire>;

/** `POST /api/keys` answer: the key with its secret, shown this once. */
export const NewApiKeyWire = Type.Intersect([ApiKeyWire, Type.Object({ key: Type.String() })]);
export type NewApiKeyWire = Static<typeof NewApiKeyWire>;
