import type SQLite from 'better-sqlite3';
import { prepareStatements, statementOf, type StatementName } from './change-statements.js';
import type { ChangeWrite, ChangeWrites } from './change-writes.js';
import { claimParams, type BeginRequest } from './idempotency.repository.js';

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
