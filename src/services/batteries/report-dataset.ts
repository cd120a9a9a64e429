/**
 * The `battery-report` dataset (src/datasets/types.ts): the batteries service joins its batteries with the
 * product data it reads from the products service over HTTP, and writes a JSON Lines report
 * (shared/report-format.ts; docs/services.md "The report file").
 *
 * Join: `lithium_ion_batteries.product_id = products.id`, inner — a battery whose product the products
 * service does not know is left out and listed in the summary's `missing_product_ids`. The `manufacturer`
 * and `category` parameters filter on the product side (manufacturer ignoring ASCII case, as the products
 * service does); the others on the battery side. Records are in battery id order.
 *
 * Deterministic: the same data and parameters give the same bytes (no clock is read; `generated_at` comes
 * from the parameters).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { BatteryFilters, BatteryRepository } from '../../storage/batteries/batteries-repository.js';
import type { BatteryRow } from '../../storage/batteries/schema.js';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  DatasetError,
  type Dataset,
  type GenerateOptions,
  type GenerateResult,
} from '../../datasets/types.js';
import { CHEMISTRIES } from '../shared/domain.js';
import { getJson } from '../shared/http-client.js';
import {
  BATTERY_REPORT_FORMAT,
  BATTERY_REPORT_TYPE,
  BATTERY_REPORT_VERSION,
} from '../shared/report-format.js';
import { parseReportParams, type BatteryReportParams } from '../shared/report-params.js';

/** Batteries read (and products asked for) per round. */
const PAGE = 100;
/** Upper bound of one record line, bytes (product strings are length-limited by the products schema). */
const MAX_RECORD_BYTES = 4096;
const MAX_HEADER_BYTES = 16_384;

/** The product fields a report needs, as `GET /products` answers them. */
const ProductSchema = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  sku: Type.String(),
  name: Type.String(),
  manufacturer: Type.String(),
  category: Type.String(),
  price: Type.Number({ minimum: 0 }),
  updated_at: Type.String(),
});
const ProductPage = Type.Object({ items: Type.Array(ProductSchema) });
const checkProductPage = TypeCompiler.Compile(ProductPage);
type ProductInfo = (typeof ProductSchema)['static'];

/** One field of the report's schema (in the header). */
export interface ReportField {
  name: string;
  type: 'integer' | 'number' | 'string' | 'string|null';
  unit?: string;
  source: string;
  description?: string;
}

/** The fields of a `battery` record, in the order they are written. */
export const REPORT_FIELDS: readonly ReportField[] = [
  { name: 'battery_id', type: 'integer', source: 'lithium_ion_batteries.id' },
  { name: 'product_id', type: 'integer', source: 'lithium_ion_batteries.product_id = products.id' },
  { name: 'sku', type: 'string', source: 'products.sku' },
  { name: 'name', type: 'string', source: 'products.name' },
  { name: 'manufacturer', type: 'string', source: 'products.manufacturer' },
  { name: 'category', type: 'string', source: 'products.category' },
  { name: 'price', type: 'number', unit: 'USD', source: 'products.price' },
  {
    name: 'chemistry',
    type: 'string',
    source: 'lithium_ion_batteries.chemistry',
    description: CHEMISTRIES.join('|'),
  },
  { name: 'form_factor', type: 'string', source: 'lithium_ion_batteries.form_factor' },
  { name: 'cell_format', type: 'string|null', source: 'lithium_ion_batteries.cell_format' },
  { name: 'series_cells', type: 'integer', source: 'lithium_ion_batteries.series_cells' },
  { name: 'parallel_cells', type: 'integer', source: 'lithium_ion_batteries.parallel_cells' },
  { name: 'nominal_voltage_v', type: 'number', unit: 'V', source: 'lithium_ion_batteries.nominal_voltage_v' },
  { name: 'capacity_ah', type: 'number', unit: 'Ah', source: 'lithium_ion_batteries.capacity_ah' },
  { name: 'energy_wh', type: 'number', unit: 'Wh', source: 'lithium_ion_batteries.energy_wh' },
  { name: 'cycle_life', type: 'integer', unit: 'cycles to 80 %', source: 'lithium_ion_batteries.cycle_life' },
  { name: 'max_charge_c', type: 'number', unit: 'C', source: 'lithium_ion_batteries.max_charge_c' },
  { name: 'max_discharge_c', type: 'number', unit: 'C', source: 'lithium_ion_batteries.max_discharge_c' },
  { name: 'mass_kg', type: 'number', unit: 'kg', source: 'lithium_ion_batteries.mass_kg' },
  { name: 'length_mm', type: 'number', unit: 'mm', source: 'lithium_ion_batteries.length_mm' },
  { name: 'width_mm', type: 'number', unit: 'mm', source: 'lithium_ion_batteries.width_mm' },
  { name: 'height_mm', type: 'number', unit: 'mm', source: 'lithium_ion_batteries.height_mm' },
  { name: 'temp_min_c', type: 'number', unit: '°C', source: 'lithium_ion_batteries.temp_min_c' },
  { name: 'temp_max_c', type: 'number', unit: '°C', source: 'lithium_ion_batteries.temp_max_c' },
  {
    name: 'battery_updated_at',
    type: 'string',
    unit: 'ISO-8601 UTC',
    source: 'lithium_ion_batteries.updated_at',
  },
  { name: 'product_updated_at', type: 'string', unit: 'ISO-8601 UTC', source: 'products.updated_at' },
];

/** Options of `createBatteryReportDataset`. */
export interface BatteryReportOptions {
  /** The batteries service's batteries. */
  batteries: BatteryRepository;
  /** Base URL of the products service, e.g. `http://127.0.0.1:8081`. */
  productsUrl: string;
  /** Extra trusted CA for an HTTPS products service (its self-signed certificate). */
  productsCa?: string | Buffer;
  /** Per-request timeout toward the products service (default 10 s). */
  timeoutMs?: number;
}

/** A `battery` record, keys in `REPORT_FIELDS` order. */
export function reportRecord(b: BatteryRow, p: ProductInfo): Record<string, unknown> {
  return {
    record: 'battery',
    battery_id: b.id,
    product_id: b.product_id,
    sku: p.sku,
    name: p.name,
    manufacturer: p.manufacturer,
    category: p.category,
    price: p.price,
    chemistry: b.chemistry,
    form_factor: b.form_factor,
    cell_format: b.cell_format,
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
    battery_updated_at: b.updated_at,
    product_updated_at: p.updated_at,
  };
}

/** Parameters with keys sorted (flat objects and arrays only), as written in the header and hashed. */
function sortedParams(p: BatteryReportParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(p).sort()) out[k] = (p as Record<string, unknown>)[k];
  return out;
}

/** ASCII-only case folding, like SQLite's NOCASE (what the products service's filter uses). */
const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Builds the `battery-report` dataset over the batteries database and the products service. */
export function createBatteryReportDataset(opts: BatteryReportOptions): Dataset<BatteryReportParams> {
  const base = new URL(opts.productsUrl);

  async function fetchProducts(ids: number[], signal?: AbortSignal): Promise<Map<number, ProductInfo>> {
    const url = new URL('products', base.href.endsWith('/') ? base : new URL(`${base.href}/`));
    url.searchParams.set('ids', ids.join(','));
    url.searchParams.set('limit', String(PAGE));
    let res: { status: number; body: unknown };
    try {
      res = await getJson(url, {
        timeoutMs: opts.timeoutMs ?? 10_000,
        ...(opts.productsCa !== undefined ? { ca: opts.productsCa } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted === true)
        throw new DatasetError('ERR_ABORTED', 'report generation aborted', { cause: err });
      throw new DatasetError('ERR_SOURCE', `products service unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.status !== 200) {
      const e = (res.body as { error?: { code?: string; message?: string } } | null)?.error;
      throw new DatasetError(
        'ERR_SOURCE',
        `products service answered HTTP ${res.status}${e?.code !== undefined ? ` ${e.code}: ${String(e.message)}` : ''} to GET ${url.pathname}${url.search}`,
      );
    }
    if (!checkProductPage.Check(res.body)) {
      const first = checkProductPage.Errors(res.body).First();
      throw new DatasetError(
        'ERR_SOURCE',
        `products service sent an unexpected answer (${first?.path ?? ''}: ${first?.message ?? 'invalid'})`,
      );
    }
    const map = new Map<number, ProductInfo>();
    for (const p of res.body.items) map.set(p.id, p);
    return map;
  }

  return {
    type: BATTERY_REPORT_TYPE,
    description: 'lithium-ion batteries joined with their product data (JSON Lines with a schema header)',

    validate(params: unknown): BatteryReportParams {
      return parseReportParams(params, (m) => new DatasetError('ERR_PARAMS', m));
    },

    fileName(params: BatteryReportParams): string {
      const hash = createHash('sha256')
        .update(JSON.stringify(sortedParams(params)))
        .digest('hex')
        .slice(0, 16);
      return `battery-report-${hash}.jsonl`;
    },

    estimateBytes(): number {
      const n = opts.batteries.count();
      return MAX_HEADER_BYTES + (n + 1) * MAX_RECORD_BYTES;
    },

    async generate(
      params: BatteryReportParams,
      path: string,
      options: GenerateOptions = {},
    ): Promise<GenerateResult> {
      const { signal, onProgress } = options;
      const filters: BatteryFilters = {};
      for (const k of [
        'min_capacity_ah',
        'max_capacity_ah',
        'min_energy_wh',
        'max_energy_wh',
        'min_cycle_life',
      ] as const) {
        const v = params[k];
        if (v !== undefined) filters[k] = v;
      }
      if (params.chemistry !== undefined) filters.chemistry = params.chemistry;
      const manufacturer = params.manufacturer === undefined ? undefined : fold(params.manufacturer);

      const fh = await open(path, 'w');
      let bytes = 0;
      const write = async (lines: string[]) => {
        if (lines.length === 0) return;
        const buf = Buffer.from(lines.join(''), 'utf8');
        await fh.write(buf);
        bytes += buf.length;
        onProgress?.(bytes);
      };
      try {
        await write([
          `${JSON.stringify({
            record: 'header',
            format: BATTERY_REPORT_FORMAT,
            version: BATTERY_REPORT_VERSION,
            generated_at: params.generated_at ?? null,
            params: sortedParams(params),
            join: 'lithium_ion_batteries.product_id = products.id (inner; batteries without a known product are listed in the summary)',
            order: 'battery_id ascending',
            records: {
              battery: 'one per battery, fields as listed in `fields`',
              summary: 'last line: count, total_energy_wh, by_chemistry, data_as_of, missing_product_ids',
            },
            fields: REPORT_FIELDS,
          })}\n`,
        ]);

        let lastId = 0;
        let count = 0;
        let totalEnergy = 0;
        let dataAsOf: string | null = null;
        const byChemistry = new Map<string, { count: number; energy_wh: number }>();
        const missing: number[] = [];
        for (;;) {
          if (signal?.aborted === true) throw new DatasetError('ERR_ABORTED', 'report generation aborted');
          const rows = await opts.batteries.listAfter(filters, lastId, PAGE);
          if (rows.length === 0) break;
          lastId = rows[rows.length - 1]?.id ?? lastId;
          const products = await fetchProducts([...new Set(rows.map((r) => r.product_id))], signal);
          const lines: string[] = [];
          for (const b of rows) {
            const p = products.get(b.product_id);
            if (p === undefined) {
              missing.push(b.product_id);
              continue;
            }
            if (manufacturer !== undefined && fold(p.manufacturer) !== manufacturer) continue;
            if (params.category !== undefined && p.category !== params.category) continue;
            lines.push(`${JSON.stringify(reportRecord(b, p))}\n`);
            count++;
            totalEnergy += b.energy_wh;
            const c = byChemistry.get(b.chemistry) ?? { count: 0, energy_wh: 0 };
            c.count++;
            c.energy_wh += b.energy_wh;
            byChemistry.set(b.chemistry, c);
            for (const t of [b.updated_at, p.updated_at]) if (dataAsOf === null || t > dataAsOf) dataAsOf = t;
          }
          await write(lines);
          if (rows.length < PAGE) break;
        }
        const chem: Record<string, { count: number; energy_wh: number }> = {};
        for (const k of [...byChemistry.keys()].sort()) {
          const c = byChemistry.get(k) as { count: number; energy_wh: number };
          chem[k] = { count: c.count, energy_wh: round2(c.energy_wh) };
        }
        await write([
          `${JSON.stringify({
            record: 'summary',
            count,
            total_energy_wh: round2(totalEnergy),
            by_chemistry: chem,
            data_as_of: dataAsOf,
            missing_product_ids: missing,
          })}\n`,
        ]);
        return { bytes };
      } finally {
        await fh.close();
      }
    },
  };
}
