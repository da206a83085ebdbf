import type pg from 'pg';

/** How long a change waits for another replica's change to the same account before giving up. */
export const ACCOUNT_LOCK_WAIT_MS = 30_000;

interface LockAsk {
  name: string;
  answer(ok: boolean): void;
  fail(error: unknown): void;
}

/**
 * Changes to one account across replicas sharing PostgreSQL: a session-level advisory lock per account,
 * taken with pg_try_advisory_lock on one dedicated session of this process (polled while another replica
 * holds it) and released when the change has been recorded. One session serves every account: within a
 * process AccountLocks (services/) already lets only one change per account ask at a time. The session
 * runs one statement at a time: the locks asked and released meanwhile go together in the next one (a
 * round trip per batch, not per change; measured in docs/performance.md). Advisory locks are re-entrant
 * per session, so a release and a new lock of one account in one batch leave it held once, whichever
 * runs first. Should the session drop (server restart), its locks go with it; the next change opens a
 * new session.
 */
export class PostgresAccountLocks {
  private session: Promise<pg.Client> | undefined;
  private asks: LockAsk[] = [];
  private releases: string[] = [];
  private busy = false;

  constructor(private readonly url: string) {}

  async acquire(name: string): Promise<() => void> {
    const deadline = Date.now() + ACCOUNT_LOCK_WAIT_MS;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      const ok = await new Promise<boolean>((answer, fail) => {
        this.asks.push({ name, answer, fail });
        void this.pump();
      });
      if (ok) {
        // Sent before any later lock of this process, so it needs no waiting for.
        return () => {
          this.releases.push(name);
          void this.pump();
        };
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

  /** Sends what was asked and released since the last statement, once that one has been answered. */
  private async pump(): Promise<void> {
    if (this.busy || (this.asks.length === 0 && this.releases.length === 0)) return;
    this.busy = true;
    const asks = this.asks;
    const releases = this.releases;
    this.asks = [];
    this.releases = [];
    try {
      const client = await this.client();
      const { rows } = await client
        .query<{ locked: boolean[] }>({
          name: 'statusgate_locks',
          text: LOCKS,
          values: [releases, asks.map((ask) => ask.name)],
        })
        .catch((error: unknown) => this.reset(client, error));
      asks.forEach((ask, i) => ask.answer(rows[0].locked[i] === true));
    } catch (error) {
      // Releases are lost with the session that held their locks; the asks fail (their change is refused).
      for (const ask of asks) ask.fail(error);
    } finally {
      this.busy = false;
      void this.pump();
    }
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

  /** A failed statement ends its session, so no lock it may hold outlives it. */
  private reset(client: pg.Client, error: unknown): never {
    this.session = undefined;
    void client.end().catch(() => undefined);
    throw error;
  }
}

/** Releases ($1) and tries ($2, answered in order) in one statement. */
const LOCKS = `select
  array(select pg_advisory_unlock(hashtextextended(u, 0)) from unnest($1::text[]) u) as released,
  array(select pg_try_advisory_lock(hashtextextended(n, 0))
        from unnest($2::text[]) with ordinality t(n, i) order by i) as locked`;
