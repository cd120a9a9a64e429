/**
 * The `lithium_ion_batteries` table: filtered, sorted pages (the API) and pages in id order (the
 * report), look-ups and writes. One battery per product: a write that would describe a product twice
 * throws `StorageError('ERR_CONFLICT')`.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { ListQuery, ListResult } from '../list.js';
import { isUniqueViolation } from '../sqlite/database.js';
import { StorageError } from '../types.js';
import type { BatteriesDatabase, BatteryRow, NewBatteryRow } from './schema.js';

/** Fields a battery list can be sorted by. */
export type BatterySortField =
  | 'id'
  | 'product_id'
  | 'chemistry'
  | 'nominal_voltage_v'
  | 'capacity_ah'
  | 'energy_wh'
  | 'cycle_life'
  | 'max_discharge_c'
  | 'mass_kg'
  | 'created_at';

/** Battery filters, shared by `GET /batteries` and the report; every one given must hold. */
export interface BatteryFilters {
  chemistry?: readonly string[];
  form_factor?: string;
  product_id?: number;
  min_capacity_ah?: number;
  max_capacity_ah?: number;
  min_energy_wh?: number;
  max_energy_wh?: number;
  min_voltage_v?: number;
  max_voltage_v?: number;
  min_cycle_life?: number;
}

/** A battery's writable columns (everything but the id). */
export type BatteryValues = Omit<NewBatteryRow, 'id'>;

const TABLE = 'lithium_ion_batteries';

/** Batteries, over the batteries service's database. */
export class BatteryRepository {
  readonly #db: Kysely<BatteriesDatabase>;
  readonly #count: BetterSqlite3.Statement;

  constructor(db: Kysely<BatteriesDatabase>, raw: BetterSqlite3.Database) {
    this.#db = db;
    this.#count = raw.prepare(`SELECT count(*) AS n FROM ${TABLE}`);
  }

  /** One page of the batteries matching `filters`, and how many match. */
  async list(filters: BatteryFilters, page: ListQuery<BatterySortField>): Promise<ListResult<BatteryRow>> {
    const [rows, count] = await Promise.all([
      applyFilters(this.#db.selectFrom(TABLE).selectAll(), filters)
        .orderBy(page.sort, page.direction)
        .orderBy('id', page.direction)
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      applyFilters(
        this.#db.selectFrom(TABLE).select((eb) => eb.fn.countAll<number>().as('n')),
        filters,
      ).executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(count.n) };
  }

  /** Up to `limit` batteries matching `filters` with an id above `afterId`, in id order (keyset pages). */
  listAfter(filters: BatteryFilters, afterId: number, limit: number): Promise<BatteryRow[]> {
    return applyFilters(this.#db.selectFrom(TABLE).selectAll(), filters)
      .where('id', '>', afterId)
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
  }

  /**
   * How many batteries there are, synchronously: a dataset's size estimate is synchronous
   * (src/datasets/types.ts), which is why this one read bypasses Kysely.
   */
  count(): number {
    return (this.#count.get() as { n: number }).n;
  }

  get(id: number): Promise<BatteryRow | undefined> {
    return this.#db.selectFrom(TABLE).selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The id of the battery describing this product, if any. */
  async idForProduct(productId: number): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom(TABLE)
      .select('id')
      .where('product_id', '=', productId)
      .executeTakeFirst();
    return row?.id;
  }

  /** Inserts a battery; `ERR_CONFLICT` when its product already has one. */
  async create(values: BatteryValues): Promise<BatteryRow> {
    try {
      return await this.#db.insertInto(TABLE).values(values).returningAll().executeTakeFirstOrThrow();
    } catch (err) {
      throw conflictOr(err, values.product_id);
    }
  }

  /** Replaces a battery's columns (all but `created_at`); undefined when it does not exist. */
  async replace(id: number, values: Omit<BatteryValues, 'created_at'>): Promise<BatteryRow | undefined> {
    try {
      return await this.#db
        .updateTable(TABLE)
        .set(values)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      throw conflictOr(err, values.product_id);
    }
  }

  /** Deletes a battery; false when it did not exist. */
  async delete(id: number): Promise<boolean> {
    const r = await this.#db.deleteFrom(TABLE).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Inserts rows as given, ids included (the seed). */
  async insertMany(rows: readonly NewBatteryRow[]): Promise<void> {
    await this.#db
      .insertInto(TABLE)
      .values([...rows])
      .execute();
  }
}

function conflictOr(err: unknown, productId: number): unknown {
  return isUniqueViolation(err)
    ? new StorageError('ERR_CONFLICT', `product ${productId} already has a battery`, { cause: err })
    : err;
}

function applyFilters<O>(
  q: SelectQueryBuilder<BatteriesDatabase, typeof TABLE, O>,
  f: BatteryFilters,
): SelectQueryBuilder<BatteriesDatabase, typeof TABLE, O> {
  if (f.chemistry !== undefined) q = q.where('chemistry', 'in', [...f.chemistry]);
  if (f.form_factor !== undefined) q = q.where('form_factor', '=', f.form_factor);
  if (f.product_id !== undefined) q = q.where('product_id', '=', f.product_id);
  if (f.min_capacity_ah !== undefined) q = q.where('capacity_ah', '>=', f.min_capacity_ah);
  if (f.max_capacity_ah !== undefined) q = q.where('capacity_ah', '<=', f.max_capacity_ah);
  if (f.min_energy_wh !== undefined) q = q.where('energy_wh', '>=', f.min_energy_wh);
  if (f.max_energy_wh !== undefined) q = q.where('energy_wh', '<=', f.max_energy_wh);
  if (f.min_voltage_v !== undefined) q = q.where('nominal_voltage_v', '>=', f.min_voltage_v);
  if (f.max_voltage_v !== undefined) q = q.where('nominal_voltage_v', '<=', f.max_voltage_v);
  if (f.min_cycle_life !== undefined) q = q.where('cycle_life', '>=', f.min_cycle_life);
  return q;
}
