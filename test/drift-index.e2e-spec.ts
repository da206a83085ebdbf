import { sql } from 'kysely';
import pino from 'pino';
import { dueQuery } from '../src/persistence/drift.repository.js';
import { Store } from '../src/persistence/store.js';
import { describeEachEngine, engines, type TestDatabase } from './support/databases.js';

const cases = await engines();
const ROWS = 20_000;
const DAY_MS = 86_400_000;

/**
 * The drift watch's due-accounts query runs every RECONCILE_INTERVAL_MS per provider: on an audit table of
 * many accounts and a year of changes it must be served by an index (migration 0006), not a table scan.
 * Shown with each engine's own planner over a populated, analysed table.
 */
describeEachEngine(cases, 'Drift watch due-accounts query on $engine', ({ engine, fresh }) => {
  let testDb: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    testDb = await fresh();
    store = await Store.open(testDb.url, pino({ level: 'silent' }));
    // A year of changes at four providers, a quarter FAILED, one account each (so every APPLIED one is due
    // when inside the window): about 2 % of the table is one provider's window.
    const series =
      engine === 'postgres'
        ? sql`select g as n from generate_series(1, ${ROWS}) g`
        : sql`with recursive s(n) as (select 1 union all select n + 1 from s where n < ${ROWS}) select n from s`;
    const now = Math.floor(Date.now() / 1000);
    const time =
      engine === 'postgres'
        ? sql`to_char(to_timestamp(${now}::bigint - (n % 365) * 86400), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
        : sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${now} - (n % 365) * 86400, 'unixepoch')`;
    await sql`insert into change_attempts (change_id, provider, account_id, caller_id, request_id, status,
        outcome, instance_id, created_at, completed_at)
      select lpad_id, provider, 'acc-' || n, 'svc', 'req-' || n, 'SUSPENDED', outcome, 'i', t, t
      from (select n, ${sql.raw(engine === 'postgres' ? "lpad(n::text, 10, '0')" : "printf('%010d', n)")} as lpad_id,
          case n % 4 when 0 then 'spidr' when 1 then 'canopy' when 2 then 'pismo' else 'cleargrid' end as provider,
          case when n % 7 = 0 then 'FAILED' else 'APPLIED' end as outcome, ${time} as t
        from (${series}) s) rows`.execute(store.database.db);
    await sql`analyze`.execute(store.database.db);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await testDb?.drop();
  });

  const since = () => new Date(Date.now() - 30 * DAY_MS).toISOString();

  it.each([
    ['due', sql`a.account_id, a.change_id, a.status, d.checked_at`],
    ['countDue', sql`count(*) as n`],
  ])('should serve %s from the change_attempts_applied_window index', async (_name, columns) => {
    const query = dueQuery('spidr', since(), columns);
    const plan =
      engine === 'postgres'
        ? (await sql<{ 'QUERY PLAN': string }>`explain ${query}`.execute(store.database.db)).rows
            .map((r) => r['QUERY PLAN'])
            .join('\n')
        : (await sql<{ detail: string }>`explain query plan ${query}`.execute(store.database.db)).rows
            .map((r) => r.detail)
            .join('\n');
    expect(plan).toMatch(/change_attempts_applied_window/);
    // The outer scan of the audit table is not a full one.
    expect(plan).not.toMatch(engine === 'postgres' ? /Seq Scan on change_attempts a\b/ : /^SCAN a$/m);
  });

  it('should count what it lists: the window of one provider, latest APPLIED per account', async () => {
    const due = await store.drift.due('spidr', since(), ROWS);
    const count = await store.drift.countDue('spidr', since());
    expect(due.length).toBe(count);
    // n % 4 = 0 (spidr), not n % 7 = 0 (FAILED), within 30 days of a 365-day cycle: about 2 % of the rows.
    expect(count).toBeGreaterThan(ROWS * 0.01);
    expect(count).toBeLessThan(ROWS * 0.03);
  });
});
