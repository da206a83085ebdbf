import pg from 'pg';
import pino from 'pino';
import { driftEvent } from '../src/events/cloud-events.js';
import { FEED_START, type FeedPosition } from '../src/persistence/events.repository.js';
import { Store } from '../src/persistence/store.js';
import { describeWithPostgres, freshPostgres, type TestDatabase } from './support/databases.js';

const event = (accountId: string) =>
  driftEvent({
    provider: 'pismo',
    accountId,
    expectedStatus: 'ACTIVE',
    observedStatus: 'SUSPENDED',
    observedProviderStatus: 'BLOCKED',
    lastChangeId: 'c',
  });

/**
 * The feed's cursor on PostgreSQL when commit order and numbering differ: two connections (as two replicas
 * would) interleave their transactions, and a consumer polling with its last cursor must still see every event.
 */
await describeWithPostgres('The event feed with interleaved commits on PostgreSQL', () => {
  let testDb: TestDatabase;
  let store: Store;
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    testDb = await freshPostgres();
    store = await Store.open(testDb.url, pino({ level: 'silent' }));
    a = new pg.Client({ connectionString: testDb.url });
    b = new pg.Client({ connectionString: testDb.url });
    await a.connect();
    await b.connect();
  });
  afterAll(async () => {
    await a?.end();
    await b?.end();
    await store?.close();
    await testDb?.drop();
  });

  const insert = (client: pg.Client, accountId: string) => {
    const e = event(accountId);
    return client.query('insert into events (id, type, subject, time, data) values ($1, $2, $3, $4, $5)', [
      e.id,
      e.type,
      e.subject,
      e.time,
      JSON.stringify(e.data),
    ]);
  };
  let cursor: FeedPosition = FEED_START;

  const poll = async () => {
    const events = await store.events.feed(cursor, 100);
    if (events.length > 0) cursor = events[events.length - 1].position;
    return events.map((e) => (e.data as { accountId: string }).accountId);
  };

  it('should hold back a later-numbered event until the earlier-numbered one commits, then give both', async () => {
    await a.query('begin');
    await insert(a, 'first-numbered'); // lower seq, lower txid; commits last
    await b.query('begin');
    await insert(b, 'second-numbered');
    await b.query('commit');
    // A reader ordering by number alone would now serve second-numbered and move past first-numbered.
    expect(await poll()).toEqual([]);
    await a.query('commit');
    expect(await poll()).toEqual(['first-numbered', 'second-numbered']);
    expect(await poll()).toEqual([]);
  });

  it('should not skip an event numbered later whose transaction began earlier and commits last', async () => {
    await a.query('begin');
    await a.query('select pg_current_xact_id()'); // A's transaction id is taken first …
    await b.query('begin');
    await insert(b, 'b-numbered-first');
    await b.query('commit');
    await insert(a, 'a-numbered-second'); // … but its event is numbered after B's
    expect(await poll()).toEqual([]);
    await a.query('commit');
    expect(await poll()).toEqual(['a-numbered-second', 'b-numbered-first']);
  });

  it('should see every event once under many interleaved commits on two connections', async () => {
    const written: string[] = [];
    const seen: string[] = [];
    let done = false;
    const writer = async (client: pg.Client, name: string) => {
      for (let i = 0; i < 150; i++) {
        await client.query('begin');
        await insert(client, `${name}-${i}`);
        if (i % 3 === 0) await new Promise((r) => setTimeout(r, Math.random() * 5));
        await insert(client, `${name}-${i}-b`);
        await client.query('commit');
        written.push(`${name}-${i}`, `${name}-${i}-b`);
      }
    };
    const reader = (async () => {
      while (!done) {
        seen.push(...(await poll()));
        await new Promise((r) => setTimeout(r, 1));
      }
      seen.push(...(await poll()));
    })();
    await Promise.all([writer(a, 'a'), writer(b, 'b')]);
    done = true;
    await reader;
    const dupes = seen.filter((id, i) => seen.indexOf(id) !== i);
    expect(dupes).toEqual([]);
    expect(seen.length).toBe(written.length);
    expect(new Set(seen)).toEqual(new Set(written));
    // Within one transaction, and for one writer, order is kept.
    for (const name of ['a', 'b']) {
      const mine = seen.filter((id) => id.startsWith(`${name}-`));
      const expected = written.filter((id) => id.startsWith(`${name}-`));
      expect(mine).toEqual(expected);
    }
  }, 60_000);
});
