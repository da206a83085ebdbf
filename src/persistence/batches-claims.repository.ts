import { sql } from 'kysely';
import type { Database } from './database.js';
import { ITEM_COLUMNS } from './batches.repository.js';
import type { BatchItemOutcome, BatchItemTable } from './batches.schema.js';

export interface ItemCompletion {
  outcome: Exclude<BatchItemOutcome, 'PENDING' | 'RUNNING' | 'CANCELLED'>;
  providerStatus?: unknown;
  error?: unknown;
  completedAt: string;
}

/** One item's end, as the worker records it. */
export interface ItemEnd {
  batchId: string;
  index: number;
  completion: ItemCompletion;
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

export type OrphanScope = { allOthers: true } | { staleBefore: Date } | { mine: readonly BatchItemTable[] };

/** Six parameters a row: 500 rows stay far below PostgreSQL's 65,535 parameters a statement. */
const ENDS_PER_STATEMENT = 500;

/**
 * The worker's side of the batch tables. Items are claimed by one atomic UPDATE … RETURNING (with FOR
 * UPDATE SKIP LOCKED on PostgreSQL), so of several replicas each item goes to exactly one; their ends are
 * written many in one statement, so a ClearGrid group of 100 costs one round trip, not 100.
 */
export class BatchClaimsRepository {
  constructor(private readonly database: Database) {}

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

  /** Records items' ends in one statement per 500; only a claimed item (RUNNING) can end, and only once. */
  async complete(ends: readonly ItemEnd[]): Promise<void> {
    for (let start = 0; start < ends.length; start += ENDS_PER_STATEMENT) {
      const rows = ends
        .slice(start, start + ENDS_PER_STATEMENT)
        .map(
          ({ batchId, index, completion: c }) =>
            sql`(${batchId}, cast(${index} as integer), ${c.outcome}, ${json(c.providerStatus)}, ${json(c.error)}, ${c.completedAt})`,
        );
      await sql`
        with v (batch_id, item_index, outcome, provider_status, error, completed_at) as (values ${sql.join(rows)})
        update batch_items set outcome = v.outcome, provider_status = v.provider_status, error = v.error,
          completed_at = v.completed_at
        from v where batch_items.batch_id = v.batch_id and batch_items.item_index = v.item_index
          and batch_items.outcome in ('RUNNING', 'PENDING')`.execute(this.database.db);
    }
  }

  /**
   * Items left RUNNING by processes that died: on SQLite (one process) every other instance's, on
   * PostgreSQL those whose instance has sent no heartbeat since `staleBefore`; or `mine`, items this
   * process left RUNNING when the database failed under them. With their change records.
   */
  async orphans(instanceId: string, scope: OrphanScope): Promise<OrphanItem[]> {
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
      .where('i.outcome', '=', 'RUNNING');
    if ('mine' in scope) {
      query = query
        .where('i.claimed_by', '=', instanceId)
        .where('i.change_id', 'in', scope.mine.length > 0 ? scope.mine.map((i) => i.change_id) : ['']);
    } else query = query.where('i.claimed_by', '<>', instanceId);
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
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
