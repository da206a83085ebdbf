import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { driftEvent, type DriftEventData, type EventRecord } from '../events/cloud-events.js';
import { newestAttempt } from './audit.repository.js';
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

/**
 * `stale`: the expectation moved while the provider was read (a change through the gateway applied or is
 * in flight), so the read proves nothing and is not recorded. Otherwise whether the value read is a drift
 * not seen before (and so recorded with its event).
 */
export type DriftRecord = { kind: 'stale' } | { kind: 'recorded'; drifted: boolean; newDrift: boolean };

/** Store.commitWithEvents: statements and the events after them, in one transaction. */
export type CommitWithEvents = (
  statements: readonly CompiledQuery[],
  events: readonly EventRecord[],
) => Promise<void>;

/**
 * The drift watch's queries (CONTRACT §8): which accounts are due, and each read's record, committed with
 * its `account.status.drifted` event in one transaction through the outbox (Store.commitWithEvents).
 */
export class DriftRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly commit: CommitWithEvents,
  ) {}

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
    const row = await newestAttempt(this.db, provider, accountId, ['APPLIED']).executeTakeFirst();
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

  /**
   * Records one read: the check row, and an `account.status.drifted` event when the read shows a value other
   * than expected that was not already reported against the same expectation. The row is written only while
   * the expectation is still the one read against and no change is in flight (checked by the statement
   * itself, inside the transaction), and only over the check this decision was made from; the event only
   * with its row (the outbox writes an event only when the statement before it changed a row).
   */
  async record(o: DriftObservation): Promise<DriftRecord> {
    const previous = await this.find(o.provider, o.accountId);
    const decision = decide(o, previous);
    const statement = guardedUpsert(o, decision.driftedAt, previous?.checked_at ?? null).compile(this.db);
    const events = decision.newDrift ? [driftEvent(driftedData(o), o.checkedAt)] : [];
    await this.commit([statement], events);
    const now = await this.find(o.provider, o.accountId);
    if (now?.checked_at !== o.checkedAt || now.change_id !== o.changeId) return { kind: 'stale' };
    return { kind: 'recorded', drifted: decision.drifted, newDrift: decision.newDrift };
  }
}

type PreviousRow = Pick<DriftCheckTable, 'change_id' | 'observed_provider_status' | 'drifted_at'>;

/** Drift is a canonical status other than expected, or a provider value with no canonical name. */
export function isDrift(expectedStatus: string, observedStatus: string | null): boolean {
  return observedStatus === null || observedStatus !== expectedStatus;
}

function decide(
  o: DriftObservation,
  previous: PreviousRow | undefined,
): { drifted: boolean; newDrift: boolean; driftedAt: string | null } {
  const drifted = isDrift(o.expectedStatus, o.observedStatus);
  if (!drifted) return { drifted, newDrift: false, driftedAt: null };
  // Reported already: the same value, against the same expectation, without a read in sync in between.
  const seen =
    previous !== undefined &&
    previous.drifted_at !== null &&
    previous.change_id === o.changeId &&
    previous.observed_provider_status === json(o.observedProviderStatus);
  return { drifted, newDrift: !seen, driftedAt: seen ? previous.drifted_at : o.checkedAt };
}

function driftedData(o: DriftObservation): DriftEventData {
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

/**
 * The check row, written only while `o.changeId` is still the account's latest APPLIED change and no change
 * is in flight, and (when a row exists) only over the check last read (`previousCheckedAt`): a read made
 * across a change, or a check recorded meanwhile by another watcher, writes nothing.
 */
function guardedUpsert(o: DriftObservation, driftedAt: string | null, previousCheckedAt: string | null) {
  return sql`insert into drift_checks (provider, account_id, checked_at, change_id, expected_status,
      observed_status, observed_provider_status, drifted_at)
    select ${o.provider}, ${o.accountId}, ${o.checkedAt}, ${o.changeId}, ${o.expectedStatus},
      ${o.observedStatus}, ${json(o.observedProviderStatus)}, ${driftedAt}
    where (select max(change_id) from change_attempts
        where provider = ${o.provider} and account_id = ${o.accountId} and outcome = 'APPLIED') = ${o.changeId}
      and not exists (select 1 from change_attempts
        where provider = ${o.provider} and account_id = ${o.accountId} and outcome = 'PENDING')
    on conflict (provider, account_id) do update set checked_at = excluded.checked_at,
      change_id = excluded.change_id, expected_status = excluded.expected_status,
      observed_status = excluded.observed_status,
      observed_provider_status = excluded.observed_provider_status, drifted_at = excluded.drifted_at
    where drift_checks.checked_at = ${previousCheckedAt}`;
}

/**
 * Watched accounts of one provider: the latest APPLIED change is within the window, and none is in flight.
 * Served by the index change_attempts_applied_window (migration 0006) and change_attempts_account.
 */
export function dueQuery(provider: string, appliedSince: string, columns: ReturnType<typeof sql>) {
  return sql`select ${columns}
    from change_attempts a
    left join drift_checks d on d.provider = a.provider and d.account_id = a.account_id
    where a.provider = ${provider} and a.outcome = 'APPLIED' and a.completed_at >= ${appliedSince}
      and a.change_id = (select max(b.change_id) from change_attempts b
        where b.provider = a.provider and b.account_id = a.account_id and b.outcome = 'APPLIED')
      and not exists (select 1 from change_attempts p
        where p.provider = a.provider and p.account_id = a.account_id and p.outcome = 'PENDING')`;
}
