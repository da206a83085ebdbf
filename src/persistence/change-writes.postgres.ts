import type pg from 'pg';
import { pgQueries, pgQuery, runAll, type PgWrite } from './change-statements.js';
import type { ChangeWrite, ChangeWrites } from './change-writes.js';
import { claimParams, type BeginRequest } from './idempotency.repository.js';
import { TurnQueue } from './turn-queue.js';

/** Connections of the group commit: groups in flight at once (more wait and go together). */
const GROUP_CONNECTIONS = 2;
/** The most changes' statements in one group's transaction. */
const GROUP_MOST = 256;

interface Member {
  queries: PgWrite[];
  done(rowCounts: number[]): void;
  failed(error: unknown): void;
}

/**
 * PostgreSQL: the same statements, named so the server parses and plans each once per connection, sent
 * without a query builder. Group commit: the hot path's statements (a claim, a first record, a
 * completion — each one statement) of the changes that arrive while the group connections are busy go
 * together as one transaction, sent at once on a pipelined connection (begin, the statements, commit:
 * one round trip and one WAL flush for the group), and each is answered once that commit is. Should a
 * statement fail, the group is rolled back and each member is run again alone, so one change's failure
 * is its own. Hand-written: pg pipelines statements but has no group commit (measured in
 * docs/performance.md). Writes whose event depends on the row count of a statement before them (the
 * drift watch's) run alone, in a transaction of their own on the pool.
 */
export class PostgresChangeWrites implements ChangeWrites {
  readonly claimWithFirstRecord = false;
  private writers: pg.Pool | undefined;
  private readonly waiting = new TurnQueue<Member>(() => this.flush());
  private inFlight = 0;

  constructor(private readonly pool: pg.Pool) {}

  async claimKey(request: BeginRequest, writes: readonly ChangeWrite[] = []): Promise<boolean> {
    if (writes.length === 0) {
      const [claimed] = await this.grouped([{ query: pgQuery('claim', claimParams(request)), event: false }]);
      return claimed === 1;
    }
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
    if (queries.some((q) => q.event || q.query.name === undefined))
      await this.transaction((client) => runAll(client, queries));
    else await this.grouped(queries);
  }

  async close(): Promise<void> {
    const writers = this.writers;
    this.writers = undefined;
    await writers?.end().catch(() => undefined);
  }

  /** Resolves with each statement's row count once the group holding them has committed. */
  private grouped(queries: PgWrite[]): Promise<number[]> {
    return new Promise((done, failed) => this.waiting.push({ queries, done, failed }));
  }

  private flush(): void {
    while (this.waiting.items.length > 0 && this.inFlight < GROUP_CONNECTIONS) {
      const group = this.waiting.items.splice(0, GROUP_MOST);
      this.inFlight++;
      void this.send(group).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }

  private async send(group: Member[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.writerPool().connect();
    } catch (error) {
      for (const member of group) member.failed(error);
      return;
    }
    const statements = group.flatMap((member) => member.queries.map((q) => q.query));
    const alone = statements.length === 1;
    const sent = [
      ...(alone ? [] : [client.query('begin')]),
      ...statements.map((statement) => client.query(statement)),
      ...(alone ? [] : [client.query('commit')]),
    ];
    const results = await Promise.allSettled(sent);
    const failure = results.find((r) => r.status === 'rejected');
    // A server's refusal (it has a SQLSTATE) rolled the group back on a connection still fit for use.
    const refused = failure !== undefined && typeof (failure.reason as { code?: unknown }).code === 'string';
    client.release(failure !== undefined && !refused ? (failure.reason as Error) : undefined);
    if (failure === undefined) {
      const counts = results
        .slice(alone ? 0 : 1)
        .map((r) => (r as PromiseFulfilledResult<pg.QueryResult>).value.rowCount ?? 0);
      let at = 0;
      for (const member of group) {
        member.done(counts.slice(at, at + member.queries.length));
        at += member.queries.length;
      }
      return;
    }
    // Lost connection: the commit may or may not have happened, so nothing is run again.
    if (!refused || group.length === 1) {
      for (const member of group) member.failed(failure.reason);
      return;
    }
    await Promise.all(group.map((member) => this.alone(member)));
  }

  /** One member of a failed group, in a transaction of its own on the pool. */
  private async alone(member: Member): Promise<void> {
    try {
      member.done(
        await this.transaction(async (client) => {
          const counts: number[] = [];
          for (const { query } of member.queries) counts.push((await client.query(query)).rowCount ?? 0);
          return counts;
        }),
      );
    } catch (error) {
      member.failed(error);
    }
  }

  /** The group commit's own connections, pipelined: a group's statements go out without waiting. */
  private writerPool(): pg.Pool {
    if (!this.writers) {
      const Pool = this.pool.constructor as typeof pg.Pool;
      const writers = new Pool({
        ...this.pool.options,
        max: GROUP_CONNECTIONS,
        pipeline: true,
      });
      // As the main pool (database.ts): a dropped connection fails its group's statements, never the process.
      writers.on('error', () => undefined);
      writers.on('connect', (client) => client.on('error', () => undefined));
      this.writers = writers;
    }
    return this.writers;
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
