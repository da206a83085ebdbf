import type SQLite from 'better-sqlite3';
import type { CompiledQuery } from 'kysely';
import type pg from 'pg';
import type { EventRecord } from '../events/cloud-events.js';
import type { AttemptCompletion, NewAttempt } from './audit.repository.js';
import {
  pgQueries,
  pgQuery,
  prepareStatements,
  runAll,
  statementOf,
  type StatementName,
} from './change-statements.js';
import { claimParams, type BeginRequest } from './idempotency.repository.js';

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
  | { kind: 'releaseKey'; callerId: string; key: string }
  /** An event of the outbox (CONTRACT §7), committed with the record it describes (the write before it). */
  | { kind: 'insertEvent'; event: EventRecord }
  /**
   * Any other statement, compiled by the store's own Kysely (`store.database.db…compile()`), so modules
   * off the hot path (the drift watch) commit their rows and their events together: see Store.commitWithEvents.
   */
  | { kind: 'sql'; query: CompiledQuery };

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
}

/**
 * PostgreSQL: the same statements, named so the server parses and plans each once per connection, sent
 * through the pool without a query builder. A commit of one write is one round trip (autocommit); of
 * several, one transaction on one connection. Replicas share the database, so no group commit here.
 */
export class PostgresChangeWrites implements ChangeWrites {
  readonly claimWithFirstRecord = false;

  constructor(private readonly pool: pg.Pool) {}

  async claimKey(request: BeginRequest, writes: readonly ChangeWrite[] = []): Promise<boolean> {
    if (writes.length === 0)
      return (await this.pool.query(pgQuery('claim', claimParams(request)))).rowCount === 1;
    return this.transaction(async (client) => {
      if ((await client.query(pgQuery('claim', claimParams(request)))).rowCount !== 1) return false;
      await runAll(client, pgQueries(writes));
      return true;
    });
  }

  async hasKey(callerId: string, key: string): Promise<boolean> {
    return ((await this.pool.query(pgQuery('hasKey', [callerId, key]))).rowCount ?? 0) > 0;
  }

  async commit(writes: readonly ChangeWrite[]): Promise<void> {
    const queries = pgQueries(writes);
    if (queries.length === 1) {
      await this.pool.query(queries[0].query);
      return;
    }
    await this.transaction((client) => runAll(client, queries));
  }

  /** Rolls back when `work` throws or answers false (a lost claim writes nothing). */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query(result === false ? 'rollback' : 'commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
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
  /** Commits made and write requests served since start: shows how much the group commit shares. */
  readonly stats = { commits: 0, requests: 0 };
  readonly claimWithFirstRecord = true;
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly statements: Record<StatementName, SQLite.Statement>;
  private readonly runBatch: (batch: Pending[], results: Array<{ ok: boolean; value: unknown }>) => void;

  constructor(private readonly sqlite: SQLite.Database) {
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
      if (this.statements.claim.run(...claimParams(request)).changes !== 1) return false;
      this.applyAll(writes);
      return true;
    });
  }

  hasKey(callerId: string, key: string): Promise<boolean> {
    return Promise.resolve(this.statements.hasKey.get(callerId, key) !== undefined);
  }

  commit(writes: readonly ChangeWrite[]): Promise<void> {
    return this.enqueue(() => this.applyAll(writes));
  }

  /** As on PostgreSQL, an event right after an attempt's write is written only when that write hit its row. */
  private applyAll(writes: readonly ChangeWrite[]): void {
    let changed = 1;
    for (const write of writes) {
      if (write.kind === 'insertEvent' && changed === 0) continue;
      changed = this.apply(write);
    }
  }

  private apply(write: ChangeWrite): number {
    if (write.kind === 'sql') {
      return this.prepared(write.query.sql).run(...(write.query.parameters as unknown[])).changes;
    }
    const [name, params] = statementOf(write);
    return this.statements[name].run(...params).changes;
  }

  private readonly adHoc = new Map<string, SQLite.Statement>();

  /** Statements of `sql` writes, prepared once each (their texts repeat; values are bound). */
  private prepared(text: string): SQLite.Statement {
    let statement = this.adHoc.get(text);
    if (!statement) {
      if (this.adHoc.size >= 200) this.adHoc.clear();
      statement = this.sqlite.prepare(text);
      this.adHoc.set(text, statement);
    }
    return statement;
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
