import { sql } from 'kysely';
import type { Database } from './database.js';
import type { BatchItemOutcome, BatchItemTable, BatchTable } from './batches.schema.js';

export type { BatchItemOutcome, BatchItemTable, BatchTable } from './batches.schema.js';

export interface ItemCompletion {
  outcome: Exclude<BatchItemOutcome, 'PENDING' | 'RUNNING' | 'CANCELLED'>;
  providerStatus?: unknown;
  error?: unknown;
  completedAt: string;
}

export interface OutcomeCount {
  outcome: BatchItemOutcome;
  count: number;
  lastCompletedAt: string | null;
}

/** An item claimed by a process that died, with what its change record says (null: never recorded). */
export interface OrphanItem {
  item: BatchItemTable;
  attempt: {
    outcome: string;
    error_code: string | null;
    provider_http_status: number | null;
    provider_code: string | null;
    provider_message: string | null;
    provider_status: string | null;
    completed_at: string | null;
  } | null;
}

const ITEM_COLUMNS = [
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

/** PostgreSQL caps a statement at 65,535 parameters: 17 columns × 500 rows stays well below. */
const PG_ROWS_PER_INSERT = 500;

/**
 * Batches and their items on either engine. The batch and all its items are written in one transaction
 * (synchronously on SQLite, so the group-committing change writer can never interleave with it). Items
 * are claimed by one atomic UPDATE … RETURNING (with FOR UPDATE SKIP LOCKED on PostgreSQL), so of
 * several replicas each item goes to exactly one.
 */
export class BatchesRepository {
  constructor(private readonly database: Database) {}

  /** Inserts the batch and its items atomically; `duplicate` when the caller's key is already taken. */
  async create(batch: BatchTable, items: BatchItemTable[]): Promise<'created' | 'duplicate'> {
    try {
      if (this.database.sqlite) this.createSqlite(batch, items);
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

  /** Atomically claims up to `limit` pending items of a lane, oldest batch first, in request order. */
  async claim(lane: string, instanceId: string, limit: number, now: string): Promise<BatchItemTable[]> {
    // PostgreSQL: the rows are picked once in a CTE (an IN (subquery … LIMIT) may be re-run by the
    // planner and claim more than `limit`), locked, skipping rows another replica is claiming.
    const query =
      this.database.engine === 'postgres'
        ? sql<BatchItemTable>`
      with picked as (
        select batch_id, item_index from batch_items where lane = ${lane} and outcome = 'PENDING'
        order by batch_id, item_index limit ${limit} for update skip locked)
      update batch_items i set outcome = 'RUNNING', claimed_by = ${instanceId}, claimed_at = ${now}
      from picked where i.batch_id = picked.batch_id and i.item_index = picked.item_index
      returning i.*`
        : sql<BatchItemTable>`
      update batch_items set outcome = 'RUNNING', claimed_by = ${instanceId}, claimed_at = ${now}
      where rowid in (
        select rowid from batch_items where lane = ${lane} and outcome = 'PENDING'
        order by batch_id, item_index limit ${limit})
      returning *`;
    const result = await query.execute(this.database.db);
    return result.rows
      .map((row) => ({ ...row, item_index: Number(row.item_index) }))
      .sort((a, b) =>
        a.batch_id === b.batch_id ? a.item_index - b.item_index : a.batch_id < b.batch_id ? -1 : 1,
      );
  }

  /** Records an item's end; only a claimed item (RUNNING) can end, and only once. */
  async complete(batchId: string, index: number, completion: ItemCompletion): Promise<void> {
    await this.database.db
      .updateTable('batch_items')
      .set({
        outcome: completion.outcome,
        provider_status: json(completion.providerStatus),
        error: json(completion.error),
        completed_at: completion.completedAt,
      })
      .where('batch_id', '=', batchId)
      .where('item_index', '=', index)
      .where('outcome', 'in', ['RUNNING', 'PENDING'])
      .execute();
  }

  /**
   * Items left RUNNING by processes that died: on SQLite (one process) every other instance's, on
   * PostgreSQL those whose instance has sent no heartbeat since `staleBefore`. With their change records.
   */
  async orphans(
    instanceId: string,
    scope: { allOthers: true } | { staleBefore: Date },
  ): Promise<OrphanItem[]> {
    let query = this.database.db
      .selectFrom('batch_items as i')
      .leftJoin('change_attempts as a', 'a.change_id', 'i.change_id')
      .selectAll('i')
      .select([
        'a.outcome as a_outcome',
        'a.error_code as a_error_code',
        'a.provider_http_status as a_provider_http_status',
        'a.provider_code as a_provider_code',
        'a.provider_message as a_provider_message',
        'a.provider_status as a_provider_status',
        'a.completed_at as a_completed_at',
      ])
      .where('i.outcome', '=', 'RUNNING')
      .where('i.claimed_by', '<>', instanceId);
    if ('staleBefore' in scope) {
      const staleBefore = scope.staleBefore.toISOString();
      query = query.where('i.claimed_by', 'not in', (eb) =>
        eb.selectFrom('gateway_instances').select('instance_id').where('heartbeat_at', '>=', staleBefore),
      );
    }
    const rows = await query.limit(1000).execute();
    return rows.map((row) => {
      const item = Object.fromEntries(ITEM_COLUMNS.map((c) => [c, row[c]])) as unknown as BatchItemTable;
      item.item_index = Number(item.item_index);
      return {
        item,
        attempt:
          row.a_outcome === null || row.a_outcome === undefined
            ? null
            : {
                outcome: row.a_outcome,
                error_code: row.a_error_code,
                provider_http_status: row.a_provider_http_status,
                provider_code: row.a_provider_code,
                provider_message: row.a_provider_message,
                provider_status: row.a_provider_status,
                completed_at: row.a_completed_at,
              },
      };
    });
  }

  /** An orphan never recorded (so never sent) goes back to PENDING, unless it was taken meanwhile. */
  async release(item: BatchItemTable): Promise<void> {
    await this.database.db
      .updateTable('batch_items')
      .set({ outcome: 'PENDING', claimed_by: null, claimed_at: null })
      .where('batch_id', '=', item.batch_id)
      .where('item_index', '=', item.item_index)
      .where('outcome', '=', 'RUNNING')
      .where('claimed_by', '=', item.claimed_by)
      .execute();
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

  private createSqlite(batch: BatchTable, items: BatchItemTable[]): void {
    const sqlite = this.database.sqlite!;
    const insertBatch = sqlite.prepare(
      `insert into batches (${BATCH_COLUMNS.join(', ')}) values (${BATCH_COLUMNS.map(() => '?').join(', ')})`,
    );
    const insertItem = sqlite.prepare(
      `insert into batch_items (${ITEM_COLUMNS.join(', ')}) values (${ITEM_COLUMNS.map(() => '?').join(', ')})`,
    );
    sqlite
      .transaction(() => {
        insertBatch.run(...BATCH_COLUMNS.map((c) => batch[c]));
        for (const item of items) insertItem.run(...ITEM_COLUMNS.map((c) => item[c]));
      })
      .immediate();
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

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
