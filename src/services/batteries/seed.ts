/**
 * Sample batteries seeded on first start (deterministic). Each describes a product of the products
 * service's seed by its id. Numbers are physically consistent: `energy_wh = nominal_voltage_v ×
 * capacity_ah`, and the voltage per series cell lies in its chemistry's range (shared/domain.ts) — a unit
 * test checks both. Illustrative values modelled on well-known parts, not vendor datasheets.
 */
import type { BatteryRepository } from '../../storage/batteries/batteries-repository.js';
import type { NewBatteryRow } from '../../storage/batteries/schema.js';
import type { Chemistry, FormFactor } from '../shared/domain.js';

type SeedBattery = [
  productId: number,
  chemistry: Chemistry,
  formFactor: FormFactor,
  cellFormat: string | null,
  series: number,
  parallel: number,
  voltage: number,
  capacityAh: number,
  cycleLife: number,
  chargeC: number,
  dischargeC: number,
  massKg: number,
  dims: [number, number, number],
  temps: [number, number],
];

// product, chem, form, cell, S, P, V, Ah, cycles, chg C, dis C, kg, L×W×H mm, °C min..max
const SEED: readonly SeedBattery[] = [
  [1, 'NCA', 'cylindrical', '18650', 1, 1, 3.6, 3.35, 500, 0.5, 2.4, 0.05, [65.25, 18.55, 18.55], [-10, 60]],
  [2, 'NMC', 'cylindrical', '21700', 1, 1, 3.63, 4.86, 800, 0.7, 1.5, 0.068, [70.15, 21.1, 21.1], [-30, 60]],
  [3, 'NCA', 'cylindrical', '18650', 1, 1, 3.6, 3.2, 500, 0.5, 2, 0.0485, [65.3, 18.5, 18.5], [-20, 60]],
  [4, 'NMC', 'cylindrical', '21700', 1, 1, 3.6, 4.2, 500, 1.4, 10.7, 0.07, [70.15, 21.7, 21.7], [-40, 60]],
  [5, 'NMC', 'cylindrical', '18650', 1, 1, 3.6, 3, 400, 1.7, 10, 0.0466, [65, 18.4, 18.4], [-20, 60]],
  [6, 'LFP', 'prismatic', null, 1, 1, 3.2, 280, 6000, 0.5, 1, 5.49, [173.7, 71.7, 207.2], [-20, 55]],
  [7, 'LFP', 'cylindrical', '26650', 1, 1, 3.3, 2.5, 2000, 4, 20, 0.076, [65, 26, 26], [-30, 55]],
  [8, 'LTO', 'prismatic', null, 1, 1, 2.3, 20, 20000, 4, 8, 0.515, [116, 22, 106], [-30, 55]],
  [9, 'NMC', 'cylindrical', '18650', 1, 1, 3.635, 3.5, 400, 1, 2.9, 0.049, [65, 18.6, 18.6], [-20, 60]],
  [10, 'LCO', 'cylindrical', '18650', 1, 1, 3.7, 2.6, 300, 1, 2, 0.045, [65, 18.4, 18.4], [-10, 60]],
  [11, 'LFP', 'prismatic', null, 1, 1, 3.2, 138, 3000, 1, 3, 3.92, [960, 90, 13.5], [-30, 55]],
  [12, 'LMO', 'cylindrical', '18650', 1, 1, 3.7, 2.5, 300, 1, 8, 0.045, [65, 18.4, 18.4], [-20, 60]],
  [13, 'LMO', 'module', null, 2, 2, 7.5, 66.2, 1500, 0.5, 2.5, 3.8, [303, 223, 35], [-25, 55]],
  [14, 'NMC', 'module', null, 12, 1, 44.16, 94, 3000, 1, 3, 26.9, [410, 350, 150], [-25, 55]],
  [15, 'NCA', 'module', '18650', 6, 74, 21.6, 229.4, 1500, 0.5, 2, 25.1, [685, 280, 79], [-20, 55]],
  [16, 'LFP', 'module', null, 16, 1, 51.2, 280, 6000, 0.5, 1, 95, [790, 230, 250], [-20, 55]],
  [17, 'LTO', 'module', null, 12, 1, 27.6, 23, 20000, 4, 8, 14, [550, 190, 120], [-30, 55]],
  [18, 'NMC', 'module', null, 10, 3, 36.5, 166.5, 2000, 1, 3, 38, [600, 350, 110], [-30, 55]],
  [19, 'NMC', 'pack', '18650', 10, 4, 36, 13.8, 1000, 0.3, 1.5, 2.8, [416, 84, 65], [-10, 40]],
  [20, 'NMC', 'pack', '18650', 10, 5, 36, 17.5, 1000, 0.3, 1.3, 3.5, [420, 90, 75], [-10, 40]],
  [21, 'NMC', 'pack', '18650', 10, 4, 36, 13.6, 1000, 0.3, 1.5, 2.9, [380, 90, 70], [-10, 40]],
  [22, 'NMC', 'pack', '18650', 13, 5, 48.1, 17.5, 800, 0.3, 1.7, 4.2, [380, 100, 90], [-10, 45]],
  [24, 'NMC', 'pack', '18650', 5, 2, 18, 5, 800, 1.8, 8, 0.62, [115, 77, 65], [-10, 50]],
  [25, 'NMC', 'pack', '18650', 5, 2, 18, 5, 800, 1.6, 6, 0.61, [113, 76, 66], [-10, 50]],
  [26, 'NMC', 'pack', '21700', 5, 2, 18, 8, 700, 1.5, 6, 1.22, [133, 78, 92], [-18, 50]],
  [27, 'NMC', 'pack', '21700', 5, 2, 18, 8, 700, 1.5, 6, 1, [125, 80, 90], [-20, 50]],
  [28, 'NMC', 'pack', '18650', 5, 2, 18, 4, 500, 1, 5, 0.6, [120, 75, 70], [-10, 50]],
  [29, 'NMC', 'pack', '18650', 10, 2, 36, 4, 800, 1.5, 8, 1.3, [135, 80, 92], [-10, 50]],
  [30, 'LFP', 'pack', null, 128, 1, 409.6, 25, 6000, 0.5, 1, 152, [585, 298, 1178], [-10, 50]],
  [31, 'LFP', 'pack', null, 15, 1, 48, 100, 6000, 0.5, 1, 39.7, [442, 420, 161], [0, 50]],
  [32, 'NMC', 'pack', null, 96, 1, 350.4, 27.4, 4000, 0.5, 0.5, 97, [744, 907, 206], [-10, 45]],
  [33, 'LFP', 'pack', null, 4, 1, 12.8, 200, 2500, 0.5, 1, 22, [522, 240, 218], [-20, 50]],
  [34, 'LFP', 'pack', null, 4, 1, 12.8, 100, 3000, 0.5, 1, 14.1, [330, 173, 220], [-20, 55]],
  [35, 'LFP', 'pack', null, 16, 1, 51.2, 20, 3000, 1.2, 1.8, 12, [400, 211, 281], [-10, 45]],
  [36, 'LCO', 'pouch', null, 4, 1, 15.4, 5, 300, 2, 8, 0.335, [139, 80, 50], [-10, 40]],
  [37, 'LCO', 'pouch', null, 4, 1, 15.2, 3.5, 500, 0.7, 2, 0.23, [300, 80, 8], [0, 45]],
];

const DAY_MS = 86_400_000;
const FIRST = Date.UTC(2024, 2, 4, 9, 0, 0);

/** Watt-hours from volts and amp-hours, rounded to 0.01 Wh. */
export function energyWh(voltage: number, capacityAh: number): number {
  return Math.round(voltage * capacityAh * 100) / 100;
}

/** The seed rows (ids 1..n in order), for the seeder and for tests. */
export function batterySeedRows(): Array<NewBatteryRow & { id: number }> {
  return SEED.map(
    ([productId, chem, form, cell, s, p, v, ah, cycles, chg, dis, kg, [l, w, h], [tmin, tmax]], i) => {
      const at = new Date(FIRST + i * DAY_MS).toISOString();
      return {
        id: i + 1,
        product_id: productId,
        chemistry: chem,
        form_factor: form,
        cell_format: cell,
        series_cells: s,
        parallel_cells: p,
        nominal_voltage_v: v,
        capacity_ah: ah,
        energy_wh: energyWh(v, ah),
        cycle_life: cycles,
        max_charge_c: chg,
        max_discharge_c: dis,
        mass_kg: kg,
        length_mm: l,
        width_mm: w,
        height_mm: h,
        temp_min_c: tmin,
        temp_max_c: tmax,
        created_at: at,
        updated_at: at,
      };
    },
  );
}

/** Inserts the seed rows (called once, right after the table is created). */
export async function seedBatteries(batteries: BatteryRepository): Promise<number> {
  const rows = batterySeedRows();
  await batteries.insertMany(rows);
  return rows.length;
}
