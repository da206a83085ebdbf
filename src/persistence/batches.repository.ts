import { sql } from 'kysely';
import type { Database } from './database.js';
import type { BatchItemOutcome, BatchItemTable, BatchTable } from './batches.schema.js';

export type { BatchItemOutcome, BatchItemTable, BatchTable } from './batches.schema.js';

export interface OutcomeCount {
  outcome: BatchItemOutcome;
  count: number;
  lastCompletedAt: string | null;
}

export const ITEM_COLUMNS = [
  'batch_id',
  'item_index',
  'provider',
  'lane',
  'account_id',
  'customer_id',
  'status',
  'reason',
  'note',
  'provider_options',
  'outcome',
  'change_id',
  'provider_status',
  'error',
  'claimed_by',
  'claimed_at',
  'completed_at',
] as const satisfies ReadonlyArray<keyof BatchItemTable>;

const BATCH_COLUMNS = [
  'batch_id',
  'caller_id',
  'idempotency_key',
  'fingerprint',
  'request_id',
  'total',
  'created_at',
  'cancelled_at',
] as const satisfies ReadonlyArray<keyof BatchTable>;

const INSERT_BATCH = `insert into batches (${BATCH_COLUMNS.join(', ')}) values (${BATCH_COLUMNS.map(() => '?').join(', ')})`;
const INSERT_ITEM = `insert into batch_items (${ITEM_COLUMNS.join(', ')}) values (${ITEM_COLUMNS.map(() => '?').join(', ')})`;

/** PostgreSQL caps a statement at 65,535 parameters: 17 columns × 500 rows stays well below. */
const PG_ROWS_PER_INSERT = 500;

/**
 * Batches and their items on either engine, as the API sees them. The batch and all its items are written
 * in one transaction (on SQLite one item of the writer thread's group commit). The worker's side (claiming, ending, recovering items) is in batches-claims.repository.ts.
 */
export class BatchesRepository {
  constructor(private readonly database: Database) {}

  /** Inserts the batch and its items atomically; `duplicate` when the caller's key is already taken. */
  async create(batch: BatchTable, items: BatchItemTable[]): Promise<'created' | 'duplicate'> {
    try {
      if (this.database.writer) await this.createSqlite(batch, items);
      else await this.createPostgres(batch, items);
      return 'created';
    } catch (error) {
      if (batch.idempotency_key !== null && isUniqueViolation(error)) return 'duplicate';
      throw error;
    }
  }

  find(batchId: string): Promise<BatchTable | undefined> {
    return this.database.db
      .selectFrom('batches')
      .selectAll()
      .where('batch_id', '=', batchId)
      .executeTakeFirst();
  }

  findByKey(callerId: string, key: string): Promise<BatchTable | undefined> {
    return this.database.db
      .selectFrom('batches')
      .selectAll()
      .where('caller_id', '=', callerId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /** Frees a key whose 24 hours are over, so it may name a new batch. */
  async forgetKey(batchId: string): Promise<void> {
    await this.database.db
      .updateTable('batches')
      .set({ idempotency_key: null })
      .where('batch_id', '=', batchId)
      .execute();
  }

  async counts(batchId: string): Promise<OutcomeCount[]> {
    const rows = await this.database.db
      .selectFrom('batch_items')
      .select(['outcome', (eb) => eb.fn.countAll<number | string>().as('n')])
      .select((eb) => eb.fn.max('completed_at').as('last'))
      .where('batch_id', '=', batchId)
      .groupBy('outcome')
      .execute();
    return rows.map((r) => ({ outcome: r.outcome, count: Number(r.n), lastCompletedAt: r.last ?? null }));
  }

  /** Items in request order after `afterIndex`, optionally only those with one of `outcomes`. */
  items(
    batchId: string,
    afterIndex: number,
    limit: number,
    outcomes?: BatchItemOutcome[],
  ): Promise<BatchItemTable[]> {
    let query = this.database.db
      .selectFrom('batch_items')
      .selectAll()
      .where('batch_id', '=', batchId)
      .where('item_index', '>', afterIndex);
    if (outcomes) query = query.where('outcome', 'in', outcomes);
    return query.orderBy('item_index').limit(limit).execute();
  }

  /** Cancels the items not started yet; returns how many. */
  async cancel(batchId: string, now: string): Promise<number> {
    await this.database.db
      .updateTable('batches')
      .set({ cancelled_at: now })
      .where('batch_id', '=', batchId)
      .where('cancelled_at', 'is', null)
      .execute();
    const result = await this.database.db
      .updateTable('batch_items')
      .set({ outcome: 'CANCELLED', completed_at: now })
      .where('batch_id', '=', batchId)
      .where('outcome', '=', 'PENDING')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async waiting(): Promise<number> {
    const row = await this.database.db
      .selectFrom('batch_items')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('outcome', '=', 'PENDING')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async running(): Promise<number> {
    const row = await this.database.db
      .selectFrom('batch_items')
      .select(sql<number | string>`count(distinct batch_id)`.as('n'))
      .where('outcome', 'in', ['PENDING', 'RUNNING'])
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** One item of the writer thread's group commit: the batch and its items in one transaction. */
  private async createSqlite(batch: BatchTable, items: BatchItemTable[]): Promise<void> {
    await this.database.writer!.write([
      null,
      [
        [INSERT_BATCH, BATCH_COLUMNS.map((c) => batch[c])],
        ...items.map((item): [string, unknown[]] => [INSERT_ITEM, ITEM_COLUMNS.map((c) => item[c])]),
      ],
      false,
    ]);
  }

  private async createPostgres(batch: BatchTable, items: BatchItemTable[]): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      await trx.insertInto('batches').values(batch).execute();
      for (let start = 0; start < items.length; start += PG_ROWS_PER_INSERT) {
        await trx
          .insertInto('batch_items')
          .values(items.slice(start, start + PG_ROWS_PER_INSERT))
          .execute();
      }
    });
  }
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
