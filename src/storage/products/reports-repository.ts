/**
 * The `reports` table: metadata of the battery reports the products service received (the files
 * themselves live in its reports folder).
 */
import type { Kysely } from 'kysely';
import type { ListQuery, ListResult } from '../list.js';
import type { NewReportRow, ProductsDatabase, ReportRow } from './schema.js';

/** Fields a report list can be sorted by. */
export type ReportSortField = 'id' | 'received_at' | 'size';

/** Received reports, over the products service's database. */
export class ReportRepository {
  readonly #db: Kysely<ProductsDatabase>;

  constructor(db: Kysely<ProductsDatabase>) {
    this.#db = db;
  }

  /** One page of reports, and how many there are. */
  async list(page: ListQuery<ReportSortField>): Promise<ListResult<ReportRow>> {
    const [rows, count] = await Promise.all([
      this.#db
        .selectFrom('reports')
        .selectAll()
        .orderBy(page.sort, page.direction)
        .orderBy('id', page.direction)
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      this.#db
        .selectFrom('reports')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(count.n) };
  }

  get(id: number): Promise<ReportRow | undefined> {
    return this.#db.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Deletes a report's row; returns it (its `path` names the file to remove), or undefined if absent. */
  delete(id: number): Promise<ReportRow | undefined> {
    return this.#db.deleteFrom('reports').where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Records a received report. */
  create(values: Omit<NewReportRow, 'id'>): Promise<ReportRow> {
    return this.#db.insertInto('reports').values(values).returningAll().executeTakeFirstOrThrow();
  }
}
