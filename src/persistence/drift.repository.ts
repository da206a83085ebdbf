import type SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './database.js';
import type { DatabaseSchema, DriftCheckTable } from './schema.js';

/** A watched account due for a read: its expectation (latest APPLIED change) and when it was last read. */
export interface DueAccount {
  accountId: string;
  changeId: string;
  expectedStatus: string;
  checkedAt: string | null;
}

/** What one read of a watched account showed. */
export interface DriftObservation {
  provider: string;
  accountId: string;
  /** The expectation the read is compared with (as `due` returned it). */
  changeId: string;
  expectedStatus: string;
  observedStatus: string | null;
  observedProviderStatus: unknown;
  checkedAt: string;
}

/** The data of an `account.status.drifted` event (CONTRACT §7). */
export interface DriftedData {
  provider: string;
  accountId: string;
  expectedStatus: string;
  observedStatus: string | null;
  observedProviderStatus: unknown;
  lastChangeId: string;
}

/**
 * How a drift's event is written inside the transaction that records the check (so the event exists
 * exactly when the check that found it does). One function per engine, given that engine's connection.
 */
export interface DriftEventWriter {
  sqlite(connection: SQLite.Database, data: DriftedData, at: string): void;
  postgres(client: pg.PoolClient, data: DriftedData, at: string): Promise<void>;
}

/**
 * `stale`: the expectation moved while the provider was read (a change through the gateway applied or is
 * in flight), so the read proves nothing and is not recorded. Otherwise whether the value read is a drift
 * not seen before (and so recorded as an event).
 */
export type DriftRecord = { kind: 'stale' } | { kind: 'recorded'; drifted: boolean; newDrift: boolean };

/**
 * The drift watch's queries (CONTRACT §8): which accounts are due, and each read's record. The record and
 * its event are one transaction; on SQLite it runs synchronously on the gateway's own connection, like
 * the hot-path writes (change-writes.ts), since an async Kysely transaction there could interleave with them.
 */
export class DriftRepository {
  private readonly db: Kysely<DatabaseSchema>;

  constructor(
    private readonly database: Database,
    private readonly events: DriftEventWriter,
  ) {
    this.db = database.db;
  }

  /**
   * Accounts of `provider` with a change APPLIED since `appliedSince` and none in flight, oldest check
   * first (never checked before any), then oldest expectation first.
   */
  async due(provider: string, appliedSince: string, limit: number): Promise<DueAccount[]> {
    const { rows } = await sql<{
      account_id: string;
      change_id: string;
      status: string;
      checked_at: string | null;
    }>`${dueQuery(provider, appliedSince, sql`a.account_id, a.change_id, a.status, d.checked_at`)}
      order by case when d.checked_at is null then 0 else 1 end, d.checked_at, a.change_id
      limit ${limit}`.execute(this.db);
    return rows.map((r) => ({
      accountId: r.account_id,
      changeId: r.change_id,
      expectedStatus: r.status,
      checkedAt: r.checked_at,
    }));
  }

  /** How many accounts `due` would list without a limit. */
  async countDue(provider: string, appliedSince: string): Promise<number> {
    const { rows } = await sql<{ n: number | string }>`${dueQuery(
      provider,
      appliedSince,
      sql`count(*) as n`,
    )}`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  /** The last status applied through the gateway (any time), for `GET …/status`; undefined when none. */
  async expectation(
    provider: string,
    accountId: string,
  ): Promise<{ changeId: string; status: string } | undefined> {
    const row = await this.db
      .selectFrom('change_attempts')
      .select(['change_id', 'status'])
      .where('provider', '=', provider)
      .where('account_id', '=', accountId)
      .where('outcome', '=', 'APPLIED')
      .orderBy('change_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { changeId: row.change_id, status: row.status };
  }

  async find(provider: string, accountId: string): Promise<DriftCheckTable | undefined> {
    return this.db
      .selectFrom('drift_checks')
      .selectAll()
      .where('provider', '=', provider)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
  }

  /**
   * Records one read: the check row, and an `account.status.drifted` event when the read shows a value other
   * than expected that was not already reported against the same expectation. The expectation is checked
   * again inside the transaction, so a change applied during the read never counts as drift.
   */
  record(observation: DriftObservation): Promise<DriftRecord> {
    const sqlite = this.database.sqlite;
    if (sqlite)
      return Promise.resolve(sqlite.transaction(() => this.recordSqlite(sqlite, observation)).immediate());
    return this.recordPostgres(this.database.pool!, observation);
  }

  /**
   * A read that failed still moves the account to the back of the queue, so an account the provider
   * cannot answer for does not take the budget of every run; nothing else of its last check changes.
   */
  async touch(provider: string, accountId: string, due: DueAccount, checkedAt: string): Promise<void> {
    await this.db
      .insertInto('drift_checks')
      .values({
        provider,
        account_id: accountId,
        checked_at: checkedAt,
        change_id: due.changeId,
        expected_status: due.expectedStatus,
        observed_status: null,
        observed_provider_status: null,
        drifted_at: null,
      })
      .onConflict((oc) => oc.columns(['provider', 'account_id']).doUpdateSet({ checked_at: checkedAt }))
      .execute();
  }

  private recordSqlite(connection: SQLite.Database, o: DriftObservation): DriftRecord {
    const current = connection.prepare(SQL.current).get(o.provider, o.accountId) as CurrentRow | undefined;
    const previous = connection.prepare(SQL.previous).get(o.provider, o.accountId) as PreviousRow | undefined;
    const decision = decide(o, current, previous);
    if (decision.kind === 'stale') return decision;
    connection.prepare(SQL.upsert).run(...upsertParams(o, decision.driftedAt));
    if (decision.newDrift) this.events.sqlite(connection, driftedData(o), o.checkedAt);
    return decision;
  }

  private async recordPostgres(pool: pg.Pool, o: DriftObservation): Promise<DriftRecord> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const current = (await client.query<CurrentRow>(PG_SQL.current, [o.provider, o.accountId])).rows[0];
      // Locks the account's check row (when there is one) against a second watcher that lost the lease mid-run.
      const previous = (
        await client.query<PreviousRow>(`${PG_SQL.previous} for update`, [o.provider, o.accountId])
      ).rows[0];
      const decision = decide(o, current, previous);
      if (decision.kind === 'stale') {
        await client.query('rollback');
        return decision;
      }
      await client.query(PG_SQL.upsert, upsertParams(o, decision.driftedAt));
      if (decision.newDrift) await this.events.postgres(client, driftedData(o), o.checkedAt);
      await client.query('commit');
      return decision;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

interface CurrentRow {
  change_id: string | null;
  pending: number | string;
}

type PreviousRow = Pick<DriftCheckTable, 'change_id' | 'observed_provider_status' | 'drifted_at'>;

/** Drift is a canonical status other than expected, or a provider value with no canonical name. */
export function isDrift(expectedStatus: string, observedStatus: string | null): boolean {
  return observedStatus === null || observedStatus !== expectedStatus;
}

function decide(
  o: DriftObservation,
  current: CurrentRow | undefined,
  previous: PreviousRow | undefined,
): { kind: 'stale' } | { kind: 'recorded'; drifted: boolean; newDrift: boolean; driftedAt: string | null } {
  if (!current || current.change_id !== o.changeId || Number(current.pending) > 0) return { kind: 'stale' };
  const drifted = isDrift(o.expectedStatus, o.observedStatus);
  if (!drifted) return { kind: 'recorded', drifted, newDrift: false, driftedAt: null };
  // Reported already: the same value, against the same expectation, without a read in sync in between.
  const seen =
    previous !== undefined &&
    previous.drifted_at !== null &&
    previous.change_id === o.changeId &&
    previous.observed_provider_status === json(o.observedProviderStatus);
  return { kind: 'recorded', drifted, newDrift: !seen, driftedAt: seen ? previous.drifted_at : o.checkedAt };
}

function driftedData(o: DriftObservation): DriftedData {
  return {
    provider: o.provider,
    accountId: o.accountId,
    expectedStatus: o.expectedStatus,
    observedStatus: o.observedStatus,
    observedProviderStatus: o.observedProviderStatus ?? null,
    lastChangeId: o.changeId,
  };
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function upsertParams(o: DriftObservation, driftedAt: string | null): unknown[] {
  return [
    o.provider,
    o.accountId,
    o.checkedAt,
    o.changeId,
    o.expectedStatus,
    o.observedStatus,
    json(o.observedProviderStatus),
    driftedAt,
  ];
}

/** Watched accounts of one provider: the latest APPLIED change is within the window, and none is in flight. */
function dueQuery(provider: string, appliedSince: string, columns: ReturnType<typeof sql>) {
  return sql`select ${columns}
    from change_attempts a
    left join drift_checks d on d.provider = a.provider and d.account_id = a.account_id
    where a.provider = ${provider} and a.outcome = 'APPLIED' and a.completed_at >= ${appliedSince}
      and a.change_id = (select max(b.change_id) from change_attempts b
        where b.provider = a.provider and b.account_id = a.account_id and b.outcome = 'APPLIED')
      and not exists (select 1 from change_attempts p
        where p.provider = a.provider and p.account_id = a.account_id and p.outcome = 'PENDING')`;
}

const SQL = {
  current: `select (select max(change_id) from change_attempts
       where provider = ?1 and account_id = ?2 and outcome = 'APPLIED') as change_id,
     (select count(*) from change_attempts
       where provider = ?1 and account_id = ?2 and outcome = 'PENDING') as pending`,
  previous: `select change_id, observed_provider_status, drifted_at from drift_checks
     where provider = ? and account_id = ?`,
  upsert: `insert into drift_checks (provider, account_id, checked_at, change_id, expected_status,
       observed_status, observed_provider_status, drifted_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (provider, account_id) do update set checked_at = excluded.checked_at,
       change_id = excluded.change_id, expected_status = excluded.expected_status,
       observed_status = excluded.observed_status,
       observed_provider_status = excluded.observed_provider_status, drifted_at = excluded.drifted_at`,
} as const;

const PG_SQL = Object.fromEntries(
  Object.entries(SQL).map(([name, text]) => {
    let n = 0;
    return [name, text.replace(/\?(\d)?/g, (_m, index?: string) => `$${index ?? ++n}`)];
  }),
) as Record<keyof typeof SQL, string>;
