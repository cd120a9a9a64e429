/**
 * Batteries routes: `GET /batteries` (filters, sorting, pagination), `GET /batteries/{id}`, and the writes
 * `POST /batteries`, `PUT /batteries/{id}`, `DELETE /batteries/{id}` behind the service's bearer token.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { BatteryFilters, BatteryRepository } from '../../storage/batteries/batteries-repository.js';
import type { BatteryRow } from '../../storage/batteries/schema.js';
import { StorageError } from '../../storage/types.js';
import { CHEMISTRIES, FORM_FACTORS, checkBatteryPhysics, type Chemistry } from '../shared/domain.js';
import { ServiceError } from '../shared/errors.js';
import { paginationProperties, parseSort, type Page } from '../shared/pagination.js';
import { Id, IdParams, OneOf } from '../shared/schemas.js';
import { nowIso } from '../shared/time.js';

/** A battery as the API shows it: the row as stored. */
export type Battery = BatteryRow;

/** Fields `sort` accepts on `GET /batteries`. */
export const BATTERY_SORT_FIELDS = [
  'id',
  'product_id',
  'chemistry',
  'nominal_voltage_v',
  'capacity_ah',
  'energy_wh',
  'cycle_life',
  'max_discharge_c',
  'mass_kg',
  'created_at',
] as const;

const Positive = (maximum: number) => Type.Number({ exclusiveMinimum: 0, maximum });

/** Body of `POST /batteries` and `PUT /batteries/{id}` (PUT replaces the whole battery). */
export const BatteryBody = Type.Object(
  {
    product_id: Id,
    chemistry: OneOf(CHEMISTRIES),
    form_factor: OneOf(FORM_FACTORS),
    cell_format: Type.Optional(
      Type.Union([Type.String({ pattern: '^[0-9]{4,5}$' }), Type.Null()], {
        errorMessage: 'must be a cylindrical cell size code like 18650, 21700, 4680, or null',
      }),
    ),
    series_cells: Type.Integer({ minimum: 1, maximum: 10_000 }),
    parallel_cells: Type.Integer({ minimum: 1, maximum: 10_000 }),
    nominal_voltage_v: Positive(2000),
    capacity_ah: Positive(100_000),
    energy_wh: Positive(100_000_000),
    cycle_life: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    max_charge_c: Positive(100),
    max_discharge_c: Positive(1000),
    mass_kg: Positive(1_000_000),
    length_mm: Positive(100_000),
    width_mm: Positive(100_000),
    height_mm: Positive(100_000),
    temp_min_c: Type.Number({ minimum: -100, maximum: 200 }),
    temp_max_c: Type.Number({ minimum: -100, maximum: 200 }),
  },
  { additionalProperties: false },
);
export type BatteryBody = Static<typeof BatteryBody>;

const chemistryList = `(${CHEMISTRIES.join('|')})`;

/** Query of `GET /batteries`. */
export const BatteryListQuery = Type.Object(
  {
    chemistry: Type.Optional(
      Type.String({
        pattern: `^${chemistryList}(,${chemistryList}){0,5}$`,
        errorMessage: `must be one or more of ${CHEMISTRIES.join(', ')}, comma-separated`,
      }),
    ),
    form_factor: Type.Optional(OneOf(FORM_FACTORS)),
    product_id: Type.Optional(Id),
    min_capacity_ah: Type.Optional(Type.Number({ minimum: 0 })),
    max_capacity_ah: Type.Optional(Type.Number({ minimum: 0 })),
    min_energy_wh: Type.Optional(Type.Number({ minimum: 0 })),
    max_energy_wh: Type.Optional(Type.Number({ minimum: 0 })),
    min_voltage_v: Type.Optional(Type.Number({ minimum: 0 })),
    max_voltage_v: Type.Optional(Type.Number({ minimum: 0 })),
    min_cycle_life: Type.Optional(Type.Integer({ minimum: 0 })),
    ...paginationProperties(BATTERY_SORT_FIELDS, 'id'),
  },
  { additionalProperties: false },
);
type BatteryListQuery = Static<typeof BatteryListQuery> & { limit: number; offset: number; sort: string };

function checkRanges(f: BatteryListQuery): void {
  const pairs = [
    ['min_capacity_ah', 'max_capacity_ah'],
    ['min_energy_wh', 'max_energy_wh'],
    ['min_voltage_v', 'max_voltage_v'],
  ] as const;
  for (const [lo, hi] of pairs) {
    const a = f[lo];
    const b = f[hi];
    if (a !== undefined && b !== undefined && a > b) {
      throw new ServiceError('ERR_VALIDATION', `query: ${lo} ${a} is greater than ${hi} ${b}`);
    }
  }
}

function checkBody(b: BatteryBody): void {
  const problem = checkBatteryPhysics(b as BatteryBody & { chemistry: Chemistry });
  if (problem !== undefined) throw new ServiceError('ERR_VALIDATION', `body: ${problem}`);
}

function rowValues(b: BatteryBody) {
  return {
    product_id: b.product_id,
    chemistry: b.chemistry,
    form_factor: b.form_factor,
    cell_format: b.cell_format ?? null,
    series_cells: b.series_cells,
    parallel_cells: b.parallel_cells,
    nominal_voltage_v: b.nominal_voltage_v,
    capacity_ah: b.capacity_ah,
    energy_wh: b.energy_wh,
    cycle_life: b.cycle_life,
    max_charge_c: b.max_charge_c,
    max_discharge_c: b.max_discharge_c,
    mass_kg: b.mass_kg,
    length_mm: b.length_mm,
    width_mm: b.width_mm,
    height_mm: b.height_mm,
    temp_min_c: b.temp_min_c,
    temp_max_c: b.temp_max_c,
  };
}

/** Options of the batteries routes. */
export interface BatteryRoutesOptions {
  batteries: BatteryRepository;
  /** `onRequest` hook guarding writes. */
  auth: onRequestHookHandler;
}

/** Registers the batteries routes. */
export function registerBatteryRoutes(app: FastifyInstance, { batteries, auth }: BatteryRoutesOptions): void {
  async function getRow(id: number): Promise<BatteryRow> {
    const row = await batteries.get(id);
    if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `battery ${id} not found`);
    return row;
  }

  async function checkProductFree(productId: number, exceptId?: number): Promise<void> {
    const other = await batteries.idForProduct(productId);
    if (other !== undefined && other !== exceptId) {
      throw new ServiceError('ERR_CONFLICT', `product ${productId} is already described by battery ${other}`);
    }
  }

  /** A write that lost a race for its product (between the check and the write). */
  function conflictOr(err: unknown, productId: number): unknown {
    return err instanceof StorageError && err.code === 'ERR_CONFLICT'
      ? new ServiceError('ERR_CONFLICT', `product ${productId} is already described by another battery`, {
          cause: err,
        })
      : err;
  }

  app.get(
    '/batteries',
    { schema: { querystring: BatteryListQuery } },
    async (request): Promise<Page<Battery>> => {
      const f = request.query as BatteryListQuery;
      checkRanges(f);
      const { chemistry, limit, offset, sort, ...rest } = f;
      const filters: BatteryFilters =
        chemistry === undefined ? rest : { ...rest, chemistry: chemistry.split(',') };
      const { field, direction } = parseSort<(typeof BATTERY_SORT_FIELDS)[number]>(sort);
      const { rows, total } = await batteries.list(filters, { sort: field, direction, limit, offset });
      return { items: rows, total, limit, offset };
    },
  );

  app.get('/batteries/:id', { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as { id: number };
    return getRow(id);
  });

  app.post('/batteries', { onRequest: auth, schema: { body: BatteryBody } }, async (request, reply) => {
    const b = request.body as BatteryBody;
    checkBody(b);
    await checkProductFree(b.product_id);
    const at = nowIso();
    let row: BatteryRow;
    try {
      row = await batteries.create({ ...rowValues(b), created_at: at, updated_at: at });
    } catch (err) {
      throw conflictOr(err, b.product_id);
    }
    return reply.status(201).header('location', `/batteries/${row.id}`).send(row);
  });

  app.put(
    '/batteries/:id',
    { onRequest: auth, schema: { params: IdParams, body: BatteryBody } },
    async (request) => {
      const { id } = request.params as { id: number };
      const b = request.body as BatteryBody;
      checkBody(b);
      await getRow(id);
      await checkProductFree(b.product_id, id);
      let row: BatteryRow | undefined;
      try {
        row = await batteries.replace(id, { ...rowValues(b), updated_at: nowIso() });
      } catch (err) {
        throw conflictOr(err, b.product_id);
      }
      if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `battery ${id} not found`);
      return row;
    },
  );

  app.delete('/batteries/:id', { onRequest: auth, schema: { params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: number };
    if (!(await batteries.delete(id))) throw new ServiceError('ERR_NOT_FOUND', `battery ${id} not found`);
    return reply.status(204).send();
  });
}
