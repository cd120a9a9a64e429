import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CELL_VOLTAGE,
  CHEMISTRIES,
  FORM_FACTORS,
  checkBatteryPhysics,
  type Chemistry,
} from '../shared/domain.js';
import { productSeedRows } from '../products/seed.js';
import { batterySeedRows } from './seed.js';

describe('batteries seed', () => {
  const batteries = batterySeedRows();
  const products = new Map(productSeedRows().map((p) => [p.id, p]));

  it('is physically consistent: energy = V × Ah, voltage per cell within the chemistry range', () => {
    for (const b of batteries) {
      const problem = checkBatteryPhysics({ ...b, chemistry: b.chemistry as Chemistry });
      assert.equal(problem, undefined, `battery ${b.id}: ${problem ?? ''}`);
      assert.ok(Math.abs(b.energy_wh - b.nominal_voltage_v * b.capacity_ah) < 0.01, `battery ${b.id}`);
      const [lo, hi] = CELL_VOLTAGE[b.chemistry as Chemistry];
      const perCell = b.nominal_voltage_v / b.series_cells;
      assert.ok(perCell >= lo - 1e-9 && perCell <= hi + 1e-9, `battery ${b.id}: ${perCell} V per cell`);
      assert.ok(b.temp_min_c < b.temp_max_c);
      assert.ok((FORM_FACTORS as readonly string[]).includes(b.form_factor));
    }
  });

  it('describes battery products of the products seed, each at most once, with every chemistry', () => {
    const seen = new Set<number>();
    for (const b of batteries) {
      const p = products.get(b.product_id);
      assert.ok(p !== undefined, `battery ${b.id}: product ${b.product_id} is not in the products seed`);
      assert.ok(
        !['charger', 'bms', 'inverter'].includes(p.category),
        `battery ${b.id} describes a ${p.category}`,
      );
      assert.ok(!seen.has(b.product_id), `product ${b.product_id} twice`);
      seen.add(b.product_id);
    }
    assert.deepEqual(new Set(batteries.map((b) => b.chemistry)), new Set(CHEMISTRIES));
    assert.ok(batteries.length >= 30);
    // Some battery products have no battery record yet: the join is not the identity.
    assert.ok([...products.values()].some((p) => p.category === 'ebike-pack' && !seen.has(p.id)));
  });

  it('is deterministic', () => {
    assert.deepEqual(batterySeedRows(), batteries);
  });
});
