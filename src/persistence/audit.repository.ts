import type { Kysely } from 'kysely';
import { changeEvent, type ChangeFacts, type EventRecord } from '../events/cloud-events.js';
import type { AttemptOutcome, ChangeAttemptTable, DatabaseSchema } from './schema.js';

export interface NewAttempt {
  changeId: string;
  provider: string;
  accountId: string;
  customerId: string | null;
  callerId: string;
  requestId: string;
  status: string;
  reason: string | null;
  note: string | null;
  idempotencyKey: string | null;
  providerRequest: unknown;
  instanceId: string;
  createdAt: string;
  /** The batch the change came from; null or absent for a single change. */
  batchId?: string | null;
}

export interface AttemptCompletion {
  outcome: Exclude<AttemptOutcome, 'PENDING' | 'UNFINISHED'>;
  errorCode?: string;
  providerHttpStatus?: number;
  providerCode?: string;
  providerMessage?: string;
  providerStatus?: unknown;
  latencyMs?: number;
  completedAt: string;
}

export type AttemptRow = ChangeAttemptTable;

/** A JSON text column: null for absent values. */
const json = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value);

/**
 * The audit trail (`change_attempts`): every change attempt, written before the provider is called and
 * completed after. The writes are the two statements below, run by the engine's writer (change-writes.ts)
 * on the hot path; this class is the read side.
 */
export class AuditRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /** Newest first; `before` is the change id of the last item of the previous page. */
  async history(provider: string, accountId: string, limit: number, before?: string): Promise<AttemptRow[]> {
    let query = this.db
      .selectFrom('change_attempts')
      .selectAll()
      .where('provider', '=', provider)
      .where('account_id', '=', accountId);
    if (before) query = query.where('change_id', '<', before);
    return query.orderBy('change_id', 'desc').limit(limit).execute();
  }

  /** The newest change the provider applied or accepted, for providers without a read endpoint. */
  async lastApplied(provider: string, accountId: string): Promise<AttemptRow | undefined> {
    return newestAttempt(this.db, provider, accountId, ['APPLIED', 'ACCEPTED']).executeTakeFirst();
  }

  async find(changeId: string): Promise<AttemptRow | undefined> {
    return this.db
      .selectFrom('change_attempts')
      .selectAll()
      .where('change_id', '=', changeId)
      .executeTakeFirst();
  }

  /**
   * Marks PENDING attempts of processes that died as UNFINISHED, and returns their callers' idempotency
   * keys (so those can be freed at once). SQLite serves one process, so at start every other instance's
   * pending attempt is dead (`allOthers`); on PostgreSQL an attempt is dead when its instance has no
   * heartbeat since `staleBefore`.
   */
  async markUnfinished(
    currentInstance: string,
    scope: { allOthers: true } | { staleBefore: Date },
  ): Promise<Array<{ callerId: string; key: string | null }>> {
    // One transaction: each attempt marked and its change_failed event (CONTRACT §7) commit together. On
    // SQLite this runs only at start, before any request, so no group commit interleaves with it.
    const rows = await this.db.transaction().execute(async (trx) => {
      let query = trx
        .updateTable('change_attempts')
        .set({ outcome: 'UNFINISHED', error_code: 'UNFINISHED' })
        .where('outcome', '=', 'PENDING')
        .where('instance_id', '<>', currentInstance);
      if ('staleBefore' in scope) {
        const staleBefore = scope.staleBefore.toISOString();
        query = query.where('instance_id', 'not in', (eb) =>
          eb.selectFrom('gateway_instances').select('instance_id').where('heartbeat_at', '>=', staleBefore),
        );
      }
      const marked = await query.returningAll().execute();
      const now = new Date().toISOString();
      const events = marked.map((row) =>
        changeEvent(factsOfRow(row), { outcome: 'UNFINISHED', errorCode: 'UNFINISHED', completedAt: now }),
      );
      for (let start = 0; start < events.length; start += 500) {
        await trx
          .insertInto('events')
          .values(events.slice(start, start + 500).map(eventRow))
          .execute();
      }
      return marked;
    });
    return rows.map((r) => ({ callerId: r.caller_id, key: r.idempotency_key }));
  }

  /** The newest attempt under a caller's idempotency key that a dead process left UNFINISHED. */
  async unfinishedUnderKey(
    provider: string,
    accountId: string,
    callerId: string,
    key: string,
  ): Promise<AttemptRow | undefined> {
    return this.db
      .selectFrom('change_attempts')
      .selectAll()
      .where('provider', '=', provider)
      .where('account_id', '=', accountId)
      .where('caller_id', '=', callerId)
      .where('idempotency_key', '=', key)
      .where('outcome', '=', 'UNFINISHED')
      .orderBy('change_id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }
}

/** The table's writes, with `?` placeholders: an attempt recorded (PENDING, or already completed), and completed. */
export const AUDIT_SQL = {
  insertAttempt: `insert into change_attempts (change_id, provider, account_id, customer_id, caller_id, request_id,
       status, reason, note, idempotency_key, provider_request, outcome, error_code, provider_http_status,
       provider_code, provider_message, provider_status, latency_ms, instance_id, created_at, completed_at, batch_id)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  completeAttempt: `update change_attempts set outcome = ?, error_code = ?, provider_http_status = ?,
       provider_code = ?, provider_message = ?, provider_status = ?, latency_ms = ?, completed_at = ?
     where change_id = ?`,
} as const;

/** The parameters of AUDIT_SQL.insertAttempt. */
export function insertAttemptParams(a: NewAttempt, completion: AttemptCompletion | undefined): unknown[] {
  const c = completionColumns(completion);
  return [
    a.changeId,
    a.provider,
    a.accountId,
    a.customerId,
    a.callerId,
    a.requestId,
    a.status,
    a.reason,
    a.note,
    a.idempotencyKey,
    json(a.providerRequest),
    ...outcomeValues(c),
    a.instanceId,
    a.createdAt,
    c.completed_at,
    a.batchId ?? null,
  ];
}

/** The parameters of AUDIT_SQL.completeAttempt. */
export function completeAttemptParams(changeId: string, completion: AttemptCompletion): unknown[] {
  const c = completionColumns(completion);
  return [...outcomeValues(c), c.completed_at, changeId];
}

/** The outcome columns, in the order both statements list them (outcome … latency_ms). */
function outcomeValues(c: CompletionColumns): unknown[] {
  return [
    c.outcome,
    c.error_code,
    c.provider_http_status,
    c.provider_code,
    c.provider_message,
    c.provider_status,
    c.latency_ms,
  ];
}

type CompletionColumns = Pick<
  ChangeAttemptTable,
  | 'outcome'
  | 'error_code'
  | 'provider_http_status'
  | 'provider_code'
  | 'provider_message'
  | 'provider_status'
  | 'latency_ms'
  | 'completed_at'
>;

function completionColumns(completion: AttemptCompletion | undefined): CompletionColumns {
  if (!completion) {
    return {
      outcome: 'PENDING',
      error_code: null,
      provider_http_status: null,
      provider_code: null,
      provider_message: null,
      provider_status: null,
      latency_ms: null,
      completed_at: null,
    };
  }
  return {
    outcome: completion.outcome,
    error_code: completion.errorCode ?? null,
    provider_http_status: completion.providerHttpStatus ?? null,
    provider_code: completion.providerCode ?? null,
    provider_message: completion.providerMessage ?? null,
    provider_status: json(completion.providerStatus),
    latency_ms: completion.latencyMs ?? null,
    completed_at: completion.completedAt,
  };
}

/** A stored attempt's facts, as its event repeats them. */
export function factsOfRow(row: AttemptRow): ChangeFacts {
  return {
    changeId: row.change_id,
    batchId: row.batch_id,
    provider: row.provider,
    accountId: row.account_id,
    status: row.status,
    reason: row.reason,
    callerId: row.caller_id,
    requestId: row.request_id,
  };
}

/** An event as a row of `events` (txid and seq take their defaults). */
export function eventRow(event: EventRecord) {
  return {
    id: event.id,
    type: event.type,
    subject: event.subject,
    time: event.time,
    data: JSON.stringify(event.data),
  };
}

/** The account's newest attempt with one of these outcomes: the status read's and the drift watch's expectation. */
export function newestAttempt(
  db: Kysely<DatabaseSchema>,
  provider: string,
  accountId: string,
  outcomes: AttemptOutcome[],
) {
  return db
    .selectFrom('change_attempts')
    .selectAll()
    .where('provider', '=', provider)
    .where('account_id', '=', accountId)
    .where('outcome', 'in', outcomes)
    .orderBy('change_id', 'desc')
    .limit(1);
}
