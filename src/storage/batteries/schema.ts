/**
 * The batteries service's table as Kysely sees it (migrations.ts): `lithium_ion_batteries` (the seed's
 * `LithiumIonBatteries`).
 * `product_id` is the id of a product in the products service — a reference across services, not a
 * foreign key (the two databases are separate).
 */
import type { Generated, Insertable, Selectable } from 'kysely';

/** Row of `lithium_ion_batteries`. */
export interface BatteriesTable {
  id: Generated<number>;
  product_id: number;
  chemistry: string;
  form_factor: string;
  /** Cell size code such as `18650`, `21700`; null for prismatic/pouch designs without one. */
  cell_format: string | null;
  series_cells: number;
  parallel_cells: number;
  nominal_voltage_v: number;
  capacity_ah: number;
  energy_wh: number;
  /** Full cycles to 80 % of the rated capacity. */
  cycle_life: number;
  /** Largest continuous charge current, in C (multiples of the capacity per hour). */
  max_charge_c: number;
  /** Largest continuous discharge current, in C. */
  max_discharge_c: number;
  mass_kg: number;
  length_mm: number;
  width_mm: number;
  height_mm: number;
  temp_min_c: number;
  temp_max_c: number;
  created_at: string;
  updated_at: string;
}

/** The batteries database schema, for Kysely. */
export interface BatteriesDatabase {
  lithium_ion_batteries: BatteriesTable;
}

export type BatteryRow = Selectable<BatteriesTable>;
export type NewBatteryRow = Insertable<BatteriesTable>;
