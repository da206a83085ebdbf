import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import {
  AuditRepository,
  completionColumns,
  json,
  type AttemptCompletion,
  type NewAttempt,
} from './audit.repository.js';
import { IdempotencyRepository, type BeginRequest } from './idempotency.repository.js';
import type { DatabaseSchema } from './schema.js';

/** One write of a status change; a list of them is committed atomically, in order. */
export type ChangeWrite =
  | { kind: 'insertAttempt'; attempt: NewAttempt; completion?: AttemptCompletion }
  | { kind: 'completeAttempt'; changeId: string; completion: AttemptCompletion }
  | {
      kind: 'completeKey';
      callerId: string;
      key: string;
      status: number;
      body: unknown;
      changeId: string | null;
    }
  | { kind: 'releaseKey'; callerId: string; key: string };

/**
 * The writes on the hot path of a status change: claiming an idempotency key, and committing audit and
 * key changes together. Every promise resolves only after its writes are committed, so a change is
 * recorded before it is answered.
 */
export interface ChangeWrites {
  /**
   * INSERT … ON CONFLICT DO NOTHING of an IN_PROGRESS key; true when this request now holds it. Only then
   * are `writes` applied, in the same transaction: a change's key and its first record in one commit.
   */
  claimKey(request: BeginRequest, writes?: readonly ChangeWrite[]): Promise<boolean>;
  /** Whether the key has a row (a read: claimKey stays the arbiter between racing requests). */
  hasKey(callerId: string, key: string): Promise<boolean>;
  /**
   * Whether a new key is best claimed together with the change's first record (one commit fewer on
   * SQLite, where the read before it is a local lookup) or alone first (PostgreSQL, where the read and a
   * multi-statement transaction would cost more round trips than the commit they save).
   */
  readonly claimWithFirstRecord: boolean;
  commit(writes: readonly ChangeWrite[]): Promise<void>;
  /** Commits made and writes requests served since start (for the benchmark's explanation). */
  readonly stats: { commits: number; requests: number };
}

/** Any engine, through the repositories (Kysely): one transaction per commit. Used for PostgreSQL. */
export class KyselyChangeWrites implements ChangeWrites {
  readonly stats = { commits: 0, requests: 0 };
  readonly claimWithFirstRecord = false;
  private readonly keys: IdempotencyRepository;

  constructor(private readonly db: Kysely<DatabaseSchema>) {
    this.keys = new IdempotencyRepository(db);
  }

  async claimKey(request: BeginRequest, writes: readonly ChangeWrite[] = []): Promise<boolean> {
    this.stats.commits += 1;
    this.stats.requests += 1;
    if (writes.length === 0) return this.keys.claim(request);
    return this.db.transaction().execute(async (trx) => {
      const keys = new IdempotencyRepository(trx);
      if (!(await keys.claim(request))) return false;
      const audit = new AuditRepository(trx);
      for (const write of writes) await applyWith(audit, keys, write);
      return true;
    });
  }

  async hasKey(callerId: string, key: string): Promise<boolean> {
    return (await this.keys.find(callerId, key)) !== undefined;
  }

  async commit(writes: readonly ChangeWrite[]): Promise<void> {
    this.stats.commits += 1;
    this.stats.requests += 1;
    if (writes.length === 1) return applyWith(new AuditRepository(this.db), this.keys, writes[0]);
    await this.db.transaction().execute(async (trx) => {
      const audit = new AuditRepository(trx);
      const keys = new IdempotencyRepository(trx);
      for (const write of writes) await applyWith(audit, keys, write);
    });
  }
}

function applyWith(audit: AuditRepository, keys: IdempotencyRepository, write: ChangeWrite): Promise<void> {
  switch (write.kind) {
    case 'insertAttempt':
      return audit.insert(write.attempt, write.completion);
    case 'completeAttempt':
      return audit.complete(write.changeId, write.completion);
    case 'completeKey':
      return keys.complete(write.callerId, write.key, write.status, write.body, write.changeId);
    case 'releaseKey':
      return keys.release(write.callerId, write.key);
  }
}

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * SQLite (better-sqlite3, synchronous): the same writes as prepared statements, with group commit.
 * Requests that write in the same turn of the event loop share one transaction and so one commit.
 * Should one request's writes fail, the batch is rolled back and each request runs again in its own
 * transaction, so one failing request does not undo the others (cheaper in the common case than a
 * savepoint per request, which cost two more statements each). Nothing is answered before its COMMIT
 * returns. At low load a batch holds one request and costs one commit; under load commits are shared.
 *
 * Safe beside Kysely on the same connection because every batch runs synchronously, start to COMMIT:
 * no other statement can interleave (the gateway runs no multi-statement Kysely transaction on SQLite).
 */
export class SqliteChangeWrites implements ChangeWrites {
  readonly stats = { commits: 0, requests: 0 };
  readonly claimWithFirstRecord = true;
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly runBatch: (batch: Pending[], results: Array<{ ok: boolean; value: unknown }>) => void;

  constructor(sqlite: SQLite.Database) {
    this.statements = prepareStatements(sqlite);
    // The common case: every request's writes succeed, so the batch runs without savepoints.
    const together = sqlite.transaction((items: Pending[]) => items.map((item) => item.run()));
    // When one failed, the whole batch was rolled back; it runs again with each request on its own.
    const alone = sqlite.transaction((run: () => unknown) => run());
    this.runBatch = (items, results) => {
      let values: unknown[];
      try {
        values = together.immediate(items);
      } catch {
        for (const item of items) {
          try {
            results.push({ ok: true, value: alone.immediate(item.run) });
          } catch (error) {
            results.push({ ok: false, value: error });
          }
        }
        this.stats.commits += items.length - 1;
        return;
      }
      for (const value of values) results.push({ ok: true, value });
    };
  }

  claimKey(request: BeginRequest, writes: readonly ChangeWrite[] = []): Promise<boolean> {
    return this.enqueue(() => {
      const now = request.now.getTime();
      const result = this.statements.claim.run(
        request.callerId,
        request.key,
        request.fingerprint,
        request.now.toISOString(),
        new Date(now + request.ttlMs).toISOString(),
        new Date(now + request.lockMs).toISOString(),
      );
      if (result.changes !== 1) return false;
      for (const write of writes) this.apply(write);
      return true;
    });
  }

  hasKey(callerId: string, key: string): Promise<boolean> {
    return Promise.resolve(this.statements.hasKey.get(callerId, key) !== undefined);
  }

  commit(writes: readonly ChangeWrite[]): Promise<void> {
    return this.enqueue(() => {
      for (const write of writes) this.apply(write);
    });
  }

  private apply(write: ChangeWrite): void {
    const s = this.statements;
    switch (write.kind) {
      case 'insertAttempt': {
        const a = write.attempt;
        const c = completionColumns(write.completion);
        s.insertAttempt.run(
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
          c.outcome,
          c.error_code,
          c.provider_http_status,
          c.provider_code,
          c.provider_message,
          c.provider_status,
          c.latency_ms,
          a.instanceId,
          a.createdAt,
          c.completed_at,
        );
        return;
      }
      case 'completeAttempt': {
        const c = completionColumns(write.completion);
        s.completeAttempt.run(
          c.outcome,
          c.error_code,
          c.provider_http_status,
          c.provider_code,
          c.provider_message,
          c.provider_status,
          c.latency_ms,
          c.completed_at,
          write.changeId,
        );
        return;
      }
      case 'completeKey':
        s.completeKey.run(
          write.status,
          JSON.stringify(write.body),
          write.changeId,
          write.callerId,
          write.key,
        );
        return;
      case 'releaseKey':
        s.releaseKey.run(write.callerId, write.key);
        return;
    }
  }

  private enqueue<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const items = this.queue;
    this.queue = [];
    this.scheduled = false;
    const results: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.runBatch(items, results);
    } catch (error) {
      // BEGIN or COMMIT failed: nothing of the batch is durable.
      for (const item of items) item.reject(error);
      return;
    }
    this.stats.commits += 1;
    this.stats.requests += items.length;
    items.forEach((item, i) => {
      const result = results[i];
      if (result.ok) item.resolve(result.value);
      else item.reject(result.value);
    });
  }
}

function prepareStatements(sqlite: SQLite.Database) {
  return {
    claim: sqlite.prepare(
      `insert into idempotency_keys (caller_id, idempotency_key, fingerprint, state, response_status,
         response_body, change_id, created_at, expires_at, locked_until)
       values (?, ?, ?, 'IN_PROGRESS', null, null, null, ?, ?, ?)
       on conflict (caller_id, idempotency_key) do nothing`,
    ),
    hasKey: sqlite.prepare(`select 1 from idempotency_keys where caller_id = ? and idempotency_key = ?`),
    insertAttempt: sqlite.prepare(
      `insert into change_attempts (change_id, provider, account_id, customer_id, caller_id, request_id,
         status, reason, note, idempotency_key, provider_request, outcome, error_code, provider_http_status,
         provider_code, provider_message, provider_status, latency_ms, instance_id, created_at, completed_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    completeAttempt: sqlite.prepare(
      `update change_attempts set outcome = ?, error_code = ?, provider_http_status = ?, provider_code = ?,
         provider_message = ?, provider_status = ?, latency_ms = ?, completed_at = ?
       where change_id = ?`,
    ),
    completeKey: sqlite.prepare(
      `update idempotency_keys set state = 'COMPLETED', response_status = ?, response_body = ?, change_id = ?
       where caller_id = ? and idempotency_key = ?`,
    ),
    releaseKey: sqlite.prepare(
      `delete from idempotency_keys where caller_id = ? and idempotency_key = ? and state = 'IN_PROGRESS'`,
    ),
  };
}
