import type pg from 'pg';

/** How long a change waits for another replica's change to the same account before giving up. */
export const ACCOUNT_LOCK_WAIT_MS = 30_000;

/**
 * Changes to one account across replicas sharing PostgreSQL: a session-level advisory lock per account,
 * taken with pg_try_advisory_lock on one dedicated session of this process (polled while another replica
 * holds it) and released when the change has been recorded. One session serves every account: within a
 * process AccountLocks (services/) already lets only one change per account ask at a time, so the
 * session never holds one account's lock twice. Should the session drop (server restart), its locks go
 * with it; the next change opens a new session.
 */
export class PostgresAccountLocks {
  private session: Promise<pg.Client> | undefined;

  constructor(private readonly url: string) {}

  async acquire(name: string): Promise<() => void> {
    const deadline = Date.now() + ACCOUNT_LOCK_WAIT_MS;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      const client = await this.client();
      const { rows } = await client
        .query<{ ok: boolean }>({ name: 'statusgate_lock', text: LOCK, values: [name] })
        .catch((error: unknown) => this.reset(error));
      if (rows[0]?.ok) {
        // Queued on the same session before any later lock request, so it needs no waiting for.
        return () =>
          void client
            .query({ name: 'statusgate_unlock', text: UNLOCK, values: [name] })
            .catch(() => undefined);
      }
      if (Date.now() > deadline)
        throw new Error(`account ${name} stayed locked by another replica for ${ACCOUNT_LOCK_WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await (await session.catch(() => undefined))?.end().catch(() => undefined);
  }

  private client(): Promise<pg.Client> {
    this.session ??= (async () => {
      // Loaded on first use: a gateway on SQLite never loads the PostgreSQL driver.
      const { default: driver } = await import('pg');
      const client = new driver.Client({ connectionString: this.url });
      client.on('error', () => {
        this.session = undefined; // its locks are gone with it; the next change connects again
      });
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      this.session = undefined;
      throw error;
    });
    return this.session;
  }

  private reset(error: unknown): never {
    this.session = undefined;
    throw error;
  }
}

const LOCK = 'select pg_try_advisory_lock(hashtextextended($1, 0)) as ok';
const UNLOCK = 'select pg_advisory_unlock(hashtextextended($1, 0))';
