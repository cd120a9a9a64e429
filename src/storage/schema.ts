import type { Generated } from 'kysely';

/**
 * The signaling server's tables as Kysely sees them (migrations 001–008), on both backends: `sqlite/` and
 * `postgres/` (whose BIGINT columns come back as strings, turned into numbers where read). Columns the
 * code never writes keep their SQL defaults and are typed as `Generated`.
 */
export interface Database {
  users: UsersTable;
  ice_sessions: IceSessionsTable;
  ice_candidates: IceCandidatesTable;
  file_transfers: FileTransfersTable;
  ice_session_history: IceSessionHistoryTable;
  provider_catalogs: ProviderCatalogsTable;
  session_declines: SessionDeclinesTable;
  api_keys: ApiKeysTable;
}

export interface ApiKeysTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  prefix: string;
  secret_sha256: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  client_type: number;
  request_types: string;
  created_at: string;
  disabled_at: string | null;
  username_key: string | null;
}

export interface IceSessionsTable {
  id: Generated<number>;
  session_id: string;
  initiator_user_id: number;
  target_user_id: number | null;
  initiator_client_type: number;
  target_client_type: number;
  status: string;
  request_type: string;
  parameters: string;
  capabilities: string;
  created_at: string;
  updated_at: string;
  claimed_at: string | null;
  claim_attempt: Generated<number>;
  named_user_id: number | null;
  relay_instance: Generated<string | null>;
  relay_url: Generated<string | null>;
}

export interface IceCandidatesTable {
  id: Generated<number>;
  session_id: string;
  user_id: number;
  to_user_id: number;
  signal_type: string;
  signal_data: string;
  candidate: string;
  sdp_mline_index: number;
  sdp_mid: string;
  created_at: string;
  claim_attempt: Generated<number>;
}

export interface FileTransfersTable {
  id: Generated<number>;
  session_id: string;
  file_name: string;
  file_size: number;
  file_type: string | null;
  request_type: string;
  parameters: string | null;
  status: string;
  bytes: Generated<number>;
  sha256: string | null;
  transport: string | null;
  duration_ms: number | null;
  error: string | null;
  verified: number | null;
  relay_bytes: Generated<number>;
  created_at: string;
  updated_at: string | null;
  completed_at: string | null;
  error_code: string | null;
  error_message: string | null;
  failed_side: string | null;
  path: string | null;
}

export interface IceSessionHistoryTable {
  id: Generated<number>;
  session_id: string;
  status: string;
  at: string;
  by_user_id: number | null;
}

export interface ProviderCatalogsTable {
  user_id: number;
  catalog: string;
  updated_at: string;
}

export interface SessionDeclinesTable {
  session_id: string;
  user_id: number;
  code: string;
  message: string;
  at: string;
}
