import type pg from 'pg';

/**
 * "Only one replica runs this at a time" on a shared PostgreSQL: a session-level advisory lock, taken with
 * pg_try_advisory_lock on a session of its own and kept while the session lives, so the replica that got
 * it keeps running the task and the others only try again. When that replica dies or its session drops,
 * the server releases the lock and the next try of another replica takes over. The key includes the
 * current schema, so gateways on different schemas of one database (the tests) do not exclude each other.
 */
export class PostgresLease {
  private session: Promise<pg.Client> | undefined;
  private held = false;

  constructor(
    private readonly url: string,
    private readonly name: string,
  ) {}

  /** True while this process holds the lease (taking it when free). */
  async tryHold(): Promise<boolean> {
    if (this.held && this.session) return true;
    try {
      const client = await this.client();
      const { rows } = await client.query<{ ok: boolean }>(LOCK, [this.name]);
      this.held = rows[0]?.ok === true;
    } catch {
      this.drop();
      this.held = false;
    }
    return this.held;
  }

  async close(): Promise<void> {
    const session = this.session;
    this.drop();
    if (session) await (await session.catch(() => undefined))?.end().catch(() => undefined);
  }

  private drop(): void {
    this.session = undefined;
    this.held = false;
  }

  private client(): Promise<pg.Client> {
    this.session ??= (async () => {
      // Loaded here, not at the top: a gateway on SQLite never loads the PostgreSQL driver (test/footprint).
      const { default: driver } = await import('pg');
      const client = new driver.Client({ connectionString: this.url });
      // The lock went with the session: the next try connects again and competes afresh.
      client.on('error', () => this.drop());
      client.on('end', () => this.drop());
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      this.drop();
      throw error;
    });
    return this.session;
  }
}

/** The lease held by a process alone on its database (SQLite: one process per file). */
export class LocalLease {
  tryHold(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const LOCK = `select pg_try_advisory_lock(hashtextextended($1 || ':' || current_schema(), 0)) as ok`;
