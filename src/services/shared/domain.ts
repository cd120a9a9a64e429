/**
 * Vocabulary both services share: product categories and lithium-ion chemistries with their physics.
 */

/** Product categories, the values `category` may take. */
export const PRODUCT_CATEGORIES = [
  'cell',
  'ev-module',
  'ebike-pack',
  'power-tool-pack',
  'stationary-storage',
  'portable-power',
  'drone-pack',
  'laptop-pack',
  'charger',
  'bms',
  'inverter',
] as const;
export type ProductCategory = (typeof PRODUCT_CATEGORIES)[number];

/** Lithium-ion cathode (or, for LTO, anode) chemistries. */
export const CHEMISTRIES = ['NMC', 'LFP', 'NCA', 'LCO', 'LMO', 'LTO'] as const;
export type Chemistry = (typeof CHEMISTRIES)[number];

/**
 * Nominal cell voltage range per chemistry, volts. A battery's `nominal_voltage_v / series_cells` must lie
 * in it (± `CELL_VOLTAGE_SLACK`).
 */
export const CELL_VOLTAGE: Readonly<Record<Chemistry, readonly [number, number]>> = {
  NMC: [3.6, 3.7],
  NCA: [3.6, 3.65],
  LFP: [3.2, 3.3],
  LCO: [3.7, 3.85],
  LMO: [3.7, 3.8],
  LTO: [2.3, 2.4],
};
export const CELL_VOLTAGE_SLACK = 0.02;

/** `energy_wh` may differ from `nominal_voltage_v × capacity_ah` by this fraction at most. */
export const ENERGY_TOLERANCE = 0.02;

/** Battery form factors. */
export const FORM_FACTORS = ['cylindrical', 'prismatic', 'pouch', 'module', 'pack'] as const;
export type FormFactor = (typeof FORM_FACTORS)[number];

/**
 * Checks a battery's numbers against physics; returns a sentence naming the first inconsistency, or
 * undefined when they agree.
 */
export function checkBatteryPhysics(b: {
  chemistry: Chemistry;
  series_cells: number;
  nominal_voltage_v: number;
  capacity_ah: number;
  energy_wh: number;
  temp_min_c: number;
  temp_max_c: number;
}): string | undefined {
  const cellV = b.nominal_voltage_v / b.series_cells;
  const [lo, hi] = CELL_VOLTAGE[b.chemistry];
  if (cellV < lo - CELL_VOLTAGE_SLACK || cellV > hi + CELL_VOLTAGE_SLACK) {
    return `nominal_voltage_v ${b.nominal_voltage_v} over ${b.series_cells} series cells is ${cellV.toFixed(3)} V per cell; ${b.chemistry} cells are ${lo}-${hi} V`;
  }
  const expected = b.nominal_voltage_v * b.capacity_ah;
  if (Math.abs(b.energy_wh - expected) > ENERGY_TOLERANCE * expected) {
    return `energy_wh ${b.energy_wh} does not match nominal_voltage_v × capacity_ah = ${expected.toFixed(2)} (±${ENERGY_TOLERANCE * 100}%)`;
  }
  if (b.temp_min_c >= b.temp_max_c) {
    return `temp_min_c ${b.temp_min_c} must be below temp_max_c ${b.temp_max_c}`;
  }
  return undefined;
}
