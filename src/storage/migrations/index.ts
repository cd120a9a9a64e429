/**
 * The signaling server's schema, in order. Append only: a released migration never changes.
 */
import type { Migration } from '../sqlite/migrate.js';
import { migration001 } from './001-seed-schema.js';
import { migration002 } from './002-signaling.js';
import { migration003 } from './003-partial-indexes.js';
import { migration004 } from './004-catalog.js';
import { migration005 } from './005-api-keys.js';
import { migration006 } from './006-outcomes.js';
import { migration007 } from './007-user-hardening.js';
import { migration008 } from './008-claim-release.js';
import { migration009 } from './009-relay-owner.js';

/** Every migration of the signaling server's database. */
export const SIGNALING_MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
  migration008,
  migration009,
];
