/**
 * PostgreSQL's group commit (persistence/change-writes.postgres.ts): writes asked in one turn go in one
 * transaction, yet each is answered for itself — one refused statement fails its own change only.
 */
import { randomUUID } from 'node:crypto';
import { newAttempt } from '../src/persistence/attempt.spec-support.js';
import { PostgresChangeWrites } from '../src/persistence/change-writes.postgres.js';
import { openDatabase, type Database } from '../src/persistence/database.js';
import { describeWithPostgres, freshPostgres, type TestDatabase } from './support/databases.js';

const attempt = (changeId: string) =>
  newAttempt({
    changeId,
    accountId: `group-${changeId}`,
    callerId: 'caller',
    requestId: randomUUID(),
    instanceId: randomUUID(),
  });

await describeWithPostgres('PostgreSQL group commit', () => {
  let testDb: TestDatabase;
  let database: Database;
  let writes: PostgresChangeWrites;

  beforeAll(async () => {
    testDb = await freshPostgres();
    database = await openDatabase(testDb.url);
    writes = new PostgresChangeWrites(database.pool!);
  });
  afterAll(async () => {
    await writes.close();
    await database.close();
    await testDb.drop();
  });

  const stored = async (ids: string[]) =>
    (
      await database.pool!.query<{ change_id: string }>(
        'select change_id from change_attempts where change_id = any($1) order by change_id',
        [ids],
      )
    ).rows.map((row) => row.change_id);

  it('should commit the others of a group when one of its statements is refused', async () => {
    const taken = randomUUID();
    await writes.commit([{ kind: 'insertAttempt', attempt: attempt(taken) }]);
    const fresh = [randomUUID(), randomUUID(), randomUUID()].sort();
    // Same turn: one group. The second repeats a change id (primary key): refused, alone.
    const answers = await Promise.allSettled([
      writes.commit([{ kind: 'insertAttempt', attempt: attempt(fresh[0]) }]),
      writes.commit([{ kind: 'insertAttempt', attempt: attempt(taken) }]),
      writes.commit([{ kind: 'insertAttempt', attempt: attempt(fresh[1]) }]),
      writes.commit([{ kind: 'insertAttempt', attempt: attempt(fresh[2]) }]),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    expect(await stored(fresh)).toEqual(fresh);
  });

  it('should answer each claim of a group for itself: of two on one key, one wins', async () => {
    const now = new Date();
    const claim = (key: string) =>
      writes.claimKey({ callerId: 'caller', key, fingerprint: 'f', now, ttlMs: 60_000, lockMs: 60_000 });
    const key = randomUUID();
    expect(await Promise.all([claim(key), claim(key), claim(randomUUID())])).toEqual([true, false, true]);
  });

  it('should answer a write only once it is committed', async () => {
    const id = randomUUID();
    await writes.commit([{ kind: 'insertAttempt', attempt: attempt(id) }]);
    // Another connection (the main pool's) sees it at once.
    expect(await stored([id])).toEqual([id]);
  });
});
