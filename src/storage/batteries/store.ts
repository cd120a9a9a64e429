/**
 * The batteries service's database: opened and migrated by the one SQLite opener (sqlite/database.ts),
 * seen by the service only through its repository.
 */
import { openSqlite } from '../sqlite/database.js';
import { BatteryRepository } from './batteries-repository.js';
import { BATTERIES_INIT_VERSION, BATTERIES_MIGRATIONS } from './migrations.js';
import type { BatteriesDatabase } from './schema.js';

/** An open batteries database. */
export interface BatteriesStore {
  readonly batteries: BatteryRepository;
  /** True when this open created the schema (first start): the time to seed. */
  readonly created: boolean;
  /** Absolute path, or `:memory:`. */
  readonly location: string;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) and migrates the batteries database at `path` (`:memory:` for tests).
 * Throws `StorageError` (`ERR_STORAGE`, `ERR_MIGRATION`).
 */
export function openBatteriesStore(path: string): BatteriesStore {
  const { raw, kysely, location, applied } = openSqlite<BatteriesDatabase>(path, BATTERIES_MIGRATIONS);
  return {
    batteries: new BatteryRepository(kysely, raw),
    created: applied.includes(BATTERIES_INIT_VERSION),
    location,
    close: () => kysely.destroy(),
  };
}
