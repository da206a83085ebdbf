/**
 * What one keyed status change costs on PostgreSQL, counted at the driver: statements sent (each one round
 * trip) and pool checkouts, from request to answer; and no statement sent on a client still busy with
 * another (pg's deprecation "Calling client.query() when the client is already executing a query").
 */
import pg from 'pg';
import { describeWithPostgres, freshPostgres, type TestDatabase } from './support/databases.js';
import { call, startGateway, type TestGateway } from './support/gateway.js';

/** A statement of a change's hot path (named statusgate_…) or of a transaction around some. */
function hotPath(query: unknown): boolean {
  const name = (query as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string') return name.startsWith('statusgate_');
  return typeof query === 'string' && /^(begin|commit|rollback)$/i.test(query.trim());
}

await describeWithPostgres('A keyed change on PostgreSQL', () => {
  let db: TestDatabase;
  let gw: TestGateway;
  const counts = { queries: 0, checkouts: 0 };
  const busy: string[] = [];
  const query = pg.Client.prototype.query;
  const connect = pg.Pool.prototype.connect;

  beforeAll(async () => {
    db = await freshPostgres();
    gw = await startGateway({ DATABASE_URL: db.url });
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      if (hotPath(args[0])) counts.queries++;
      // pg's own test before its deprecation warning, and one more: a statement already running. A
      // pipelined client (pg's `pipeline` mode, the group commit's) is made to take several at once.
      const state = this as unknown as {
        _activeQuery?: unknown;
        _queryQueue?: unknown[];
        pipeline?: boolean;
      };
      if (!state.pipeline && (state._activeQuery || (state._queryQueue?.length ?? 0) > 0))
        busy.push(JSON.stringify(args[0]).slice(0, 80));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    pg.Pool.prototype.connect = function (this: pg.Pool, ...args: unknown[]) {
      // Only the change's own: the pool also serves the batch lanes' polls, which run meanwhile.
      if (new Error().stack?.includes('change-writes')) counts.checkouts++;
      return (connect as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof connect;
  });
  afterAll(async () => {
    pg.Client.prototype.query = query;
    pg.Pool.prototype.connect = connect;
    await gw.close();
    await db.drop();
  });

  const put = (account: string, key: string) =>
    call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
      headers: { 'idempotency-key': key },
    });

  it('should send 5 statements (8 before), none of them a begin or commit, 3 through the pool', async () => {
    expect((await put('rt-warm', 'rt-warm')).status).toBe(200); // statements prepared, connections open
    await new Promise((r) => setTimeout(r, 50)); // the warm-up's lock release has gone out
    counts.queries = 0;
    counts.checkouts = 0;
    expect((await put('rt-one', 'rt-one')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    // claim, first record, completion (attempt, event and key in one statement) — and one statement of
    // the account-lock session, the release going out with the next lock (or alone when none follows).
    expect(counts).toEqual({ queries: 5, checkouts: 3 });
  });

  it('should never send a statement on a client busy with another', async () => {
    busy.length = 0;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => put(`rt-many-${i}`, `rt-many-${i}`)),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    await new Promise((r) => setTimeout(r, 100));
    expect(busy).toEqual([]);
  });
});
