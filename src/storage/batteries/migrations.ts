/**
 * The batteries service's schema (`lithium_ion_batteries`), run by the one runner (sqlite/migrate.ts).
 * Append only: a released migration never changes. Names are those Kysely's Migrator recorded before,
 * so existing databases are adopted, not migrated twice.
 */
import type { Migration } from '../sqlite/migrate.js';

/** Version of the migration that creates the table; the service seeds when this one is applied. */
export const BATTERIES_INIT_VERSION = 1;

/** Every migration of the batteries database. */
export const BATTERIES_MIGRATIONS: readonly Migration[] = [
  {
    version: BATTERIES_INIT_VERSION,
    name: '001-lithium-ion-batteries',
    statements: [
      `CREATE TABLE lithium_ion_batteries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id INTEGER NOT NULL UNIQUE CHECK (product_id >= 1),
        chemistry TEXT NOT NULL CHECK (chemistry IN ('NMC', 'LFP', 'NCA', 'LCO', 'LMO', 'LTO')),
        form_factor TEXT NOT NULL CHECK (form_factor IN ('cylindrical', 'prismatic', 'pouch', 'module', 'pack')),
        cell_format TEXT,
        series_cells INTEGER NOT NULL CHECK (series_cells >= 1),
        parallel_cells INTEGER NOT NULL CHECK (parallel_cells >= 1),
        nominal_voltage_v REAL NOT NULL CHECK (nominal_voltage_v > 0),
        capacity_ah REAL NOT NULL CHECK (capacity_ah > 0),
        energy_wh REAL NOT NULL CHECK (energy_wh > 0),
        cycle_life INTEGER NOT NULL CHECK (cycle_life >= 1),
        max_charge_c REAL NOT NULL CHECK (max_charge_c > 0),
        max_discharge_c REAL NOT NULL CHECK (max_discharge_c > 0),
        mass_kg REAL NOT NULL CHECK (mass_kg > 0),
        length_mm REAL NOT NULL CHECK (length_mm > 0),
        width_mm REAL NOT NULL CHECK (width_mm > 0),
        height_mm REAL NOT NULL CHECK (height_mm > 0),
        temp_min_c REAL NOT NULL,
        temp_max_c REAL NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK (temp_min_c < temp_max_c)
      )`,
      'CREATE INDEX batteries_chemistry ON lithium_ion_batteries (chemistry)',
      'CREATE INDEX batteries_capacity ON lithium_ion_batteries (capacity_ah)',
    ],
  },
];
