/**
 * Sample products seeded on first start (deterministic: same rows, ids and timestamps every time).
 * Illustrative catalogue entries modelled on well-known parts, not vendor datasheets. Products 1–37 are
 * batteries (the batteries service describes most of them by these ids); 38–42 are accessories.
 */
import type { Kysely } from 'kysely';
import type { ProductCategory } from '../shared/domain.js';
import type { NewProductRow, ProductsDatabase } from './db.js';

type SeedProduct = [sku: string, name: string, manufacturer: string, category: ProductCategory, price: number, description: string];

const SEED: readonly SeedProduct[] = [
  ['SAM-INR18650-35E', 'INR18650-35E 3500 mAh cylindrical cell', 'Samsung SDI', 'cell', 4.95, 'High-energy 18650 cell for e-bike and power-bank packs.'],
  ['LGES-INR21700-M50LT', 'INR21700 M50LT 5000 mAh cylindrical cell', 'LG Energy Solution', 'cell', 5.8, 'Long-life 21700 cell rated for low-temperature operation.'],
  ['PAN-NCR18650B', 'NCR18650B 3400 mAh cylindrical cell', 'Panasonic', 'cell', 6.25, 'Widely used high-capacity 18650 cell.'],
  ['MOL-INR21700-P42A', 'INR21700-P42A 4200 mAh high-drain cell', 'Molicel', 'cell', 7.4, 'High-power 21700 cell for tools and performance packs.'],
  ['MUR-US18650VTC6', 'US18650VTC6 3000 mAh high-drain cell', 'Murata', 'cell', 6.9, 'High-drain 18650 cell.'],
  ['EVE-LF280K', 'LF280K 280 Ah prismatic LFP cell', 'EVE Energy', 'cell', 89.0, 'Large-format prismatic cell for storage systems.'],
  ['A123-ANR26650M1B', 'ANR26650M1-B 2500 mAh LFP power cell', 'A123 Systems', 'cell', 12.5, 'Nanophosphate power cell with very high discharge rates.'],
  ['TOS-SCIB-20AH', 'SCiB 20 Ah LTO cell', 'Toshiba', 'cell', 79.0, 'Lithium-titanate cell: fast charge, tens of thousands of cycles.'],
  ['LGES-INR18650-MJ1', 'INR18650 MJ1 3500 mAh cylindrical cell', 'LG Energy Solution', 'cell', 5.2, 'High-capacity 18650 cell.'],
  ['SAM-ICR18650-26J', 'ICR18650-26J 2600 mAh cylindrical cell', 'Samsung SDI', 'cell', 3.9, 'Cobalt-oxide 18650 cell for consumer packs.'],
  ['BYD-BLADE-138', 'Blade 138 Ah prismatic LFP cell', 'BYD', 'cell', 74.0, 'Long blade-format cell for cell-to-pack designs.'],
  ['EFE-IMR18650-2500', 'IMR18650 2500 mAh LMO cell', 'Efest', 'cell', 4.5, 'Manganese-spinel 18650 cell.'],
  ['AESC-LEAF-24-MOD', 'Leaf 24 kWh battery module (2S2P)', 'AESC', 'ev-module', 420.0, 'Laminated LMO module from first-generation EV packs.'],
  ['SAM-94AH-MOD12', '94 Ah EV module, 12S1P', 'Samsung SDI', 'ev-module', 2350.0, 'Prismatic-cell EV module.'],
  ['TSL-MS85-MOD', 'Model S 85 kWh pack module, 6S74P', 'Tesla', 'ev-module', 1450.0, '444 cylindrical 18650 cells per module.'],
  ['CATL-LFP280-16S', 'LFP 280 Ah module, 16S1P', 'CATL', 'ev-module', 1890.0, 'Bus and commercial-vehicle module.'],
  ['TOS-SCIB-24V-23AH', 'SCiB 24 V 23 Ah module (12S)', 'Toshiba', 'ev-module', 1290.0, 'LTO module for hybrid and industrial vehicles.'],
  ['LGES-BOLT-10S3P', 'Bolt EV 10S3P pouch module', 'LG Energy Solution', 'ev-module', 1650.0, 'Pouch-cell module from a 60 kWh pack.'],
  ['BOS-PT500', 'PowerTube 500 frame battery 36 V', 'Bosch', 'ebike-pack', 799.0, 'Integrated down-tube battery.'],
  ['SHI-BT-E8036', 'BT-E8036 630 Wh down-tube battery', 'Shimano', 'ebike-pack', 849.0, 'Integrated battery for e-MTB drive units.'],
  ['YAM-PW-500', 'PW-series 500 Wh frame battery', 'Yamaha', 'ebike-pack', 779.0, 'Frame-mounted e-bike battery.'],
  ['BAF-48V-17AH', '48 V 17.5 Ah down-tube pack', 'Bafang', 'ebike-pack', 529.0, 'Aftermarket pack for mid-drive kits.'],
  ['BOS-PT750', 'PowerTube 750 frame battery 36 V', 'Bosch', 'ebike-pack', 949.0, 'Integrated down-tube battery, 750 Wh class.'],
  ['MAK-BL1850B', 'LXT BL1850B 18 V 5.0 Ah', 'Makita', 'power-tool-pack', 99.0, 'Slide-style tool battery with charge gauge.'],
  ['DEW-DCB205', '20V MAX XR DCB205 5.0 Ah', 'DeWalt', 'power-tool-pack', 109.0, 'Tool battery (18 V nominal).'],
  ['MIL-48-11-1880', 'M18 REDLITHIUM HIGH OUTPUT XC8.0', 'Milwaukee', 'power-tool-pack', 229.0, '21700-cell high-output tool battery.'],
  ['BOS-GBA18V80', 'ProCORE18V 8.0 Ah', 'Bosch', 'power-tool-pack', 199.0, '21700-cell professional tool battery.'],
  ['RYO-PBP005', 'ONE+ 18V 4.0 Ah', 'Ryobi', 'power-tool-pack', 89.0, 'Tool battery for the ONE+ system.'],
  ['MAK-BL4040', 'XGT BL4040 40 V max 4.0 Ah', 'Makita', 'power-tool-pack', 189.0, 'Tool battery (36 V nominal).'],
  ['BYD-HVS-10.2', 'Battery-Box Premium HVS 10.2', 'BYD', 'stationary-storage', 6290.0, 'High-voltage stacked home storage, four modules.'],
  ['PYL-US5000', 'US5000 48 V 100 Ah rack module', 'Pylontech', 'stationary-storage', 1590.0, '19-inch rack battery for off-grid and hybrid inverters.'],
  ['LGES-RESU10H', 'RESU10H Prime', 'LG Energy Solution', 'stationary-storage', 5450.0, 'High-voltage wall-mounted home battery.'],
  ['VIC-LFP-12.8-200', 'LiFePO4 Smart 12.8 V 200 Ah', 'Victron Energy', 'stationary-storage', 1899.0, 'Marine and off-grid battery with Bluetooth.'],
  ['BB-BB10012', 'BB10012 12 V 100 Ah deep-cycle battery', 'Battle Born', 'stationary-storage', 925.0, 'Drop-in lead-acid replacement.'],
  ['ECO-DELTA2', 'DELTA 2 portable power station', 'EcoFlow', 'portable-power', 649.0, '1 kWh portable station with AC outlets.'],
  ['DJI-MAVIC3-IFB', 'Mavic 3 Intelligent Flight Battery', 'DJI', 'drone-pack', 209.0, 'Smart drone battery with self-heating.'],
  ['DEL-7FMXV', '4-cell 54 Wh laptop battery', 'Dell', 'laptop-pack', 89.0, 'Internal polymer battery for 14-inch laptops.'],
  ['MAK-DC18RC', 'DC18RC 7.2-18 V rapid charger', 'Makita', 'charger', 59.0, 'Fan-cooled charger for LXT batteries.'],
  ['VIC-BSC-IP65-12-15', 'Blue Smart IP65 charger 12 V 15 A', 'Victron Energy', 'charger', 119.0, 'Charger with LiFePO4 algorithm.'],
  ['ORI-BMS2-72', 'Orion BMS 2, 72 cells', 'Ewert Energy Systems', 'bms', 1095.0, 'Battery management system for up to 72 series cells.'],
  ['VIC-MP2-48-3000', 'MultiPlus-II 48/3000/35-32 inverter/charger', 'Victron Energy', 'inverter', 1245.0, 'Bidirectional inverter for 48 V storage.'],
  ['SKY-MC3000', 'MC3000 cell charger and analyzer', 'SkyRC', 'charger', 139.0, 'Four-bay charger for cylindrical cells.'],
];

const DAY_MS = 86_400_000;
const FIRST = Date.UTC(2024, 0, 8, 9, 0, 0);

/** The seed rows (ids 1..n in order), for the seeder and for tests. */
export function productSeedRows(): Array<NewProductRow & { id: number }> {
  return SEED.map(([sku, name, manufacturer, category, price, description], i) => {
    const at = new Date(FIRST + i * DAY_MS).toISOString();
    return {
      id: i + 1,
      sku,
      name,
      manufacturer,
      category,
      description,
      price_cents: Math.round(price * 100),
      created_at: at,
      updated_at: at,
    };
  });
}

/** Inserts the seed rows (called once, right after the table is created). */
export async function seedProducts(db: Kysely<ProductsDatabase>): Promise<number> {
  const rows = productSeedRows();
  await db.insertInto('products').values(rows).execute();
  return rows.length;
}
