import type SQLite from 'better-sqlite3';
import { SQL, statementOf } from './change-statements.js';
import type { ChangeWrite, ChangeWrites } from './change-writes.js';
import { claimParams, type BeginRequest } from './idempotency.repository.js';
import type { SqliteWriter, WriteItem } from './sqlite-writer.js';

/**
 * SQLite: the hot path's writes as prepared statements on the writer thread, with its group commit
 * (sqlite-writer.ts): the requests that write while a group is being committed share the next group's one
 * commit, and each is answered only after that COMMIT. Should one request's writes fail, the group is
 * rolled back and each request runs again in its own transaction, so one failing request does not undo
 * the others. The key lookup (hasKey) reads on the main thread's connection: a local read, no wait.
 */
export class SqliteChangeWrites implements ChangeWrites {
  readonly claimWithFirstRecord = true;
  private readonly hasKeyStatement: SQLite.Statement;

  constructor(
    reader: SQLite.Database,
    private readonly writer: SqliteWriter,
  ) {
    this.hasKeyStatement = reader.prepare(SQL.hasKey);
  }

  /** Commits made and write requests served since start (the writer's, shared with the other tables). */
  get stats(): { commits: number; requests: number } {
    return this.writer.stats;
  }

  async claimKey(request: BeginRequest, writes: readonly ChangeWrite[] = []): Promise<boolean> {
    return (await this.writer.write([claimParams(request), opsOf(writes), false])) as boolean;
  }

  hasKey(callerId: string, key: string): Promise<boolean> {
    return Promise.resolve(this.hasKeyStatement.get(callerId, key) !== undefined);
  }

  async commit(writes: readonly ChangeWrite[]): Promise<void> {
    await this.writer.write([null, opsOf(writes), false]);
  }
}

/** Each write as plain data for the writer: a named statement (change-statements.ts) or Kysely's SQL text. */
function opsOf(writes: readonly ChangeWrite[]): WriteItem[1] {
  return writes.map((write) =>
    write.kind === 'sql' ? [write.query.sql, [...write.query.parameters]] : statementOf(write),
  );
}
