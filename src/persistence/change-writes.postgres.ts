import type pg from 'pg';
import { pgQueries, pgQuery, runAll } from './change-statements.js';
import type { ChangeWrite, ChangeWrites } from './change-writes.js';
import { claimParams, type BeginRequest } from './idempotency.repository.js';

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
