import pino from 'pino';
import { changeEvent, driftEvent } from '../src/events/cloud-events.js';
import { newAttempt } from '../src/persistence/attempt.spec-support.js';
import type { AttemptCompletion, NewAttempt } from '../src/persistence/audit.repository.js';
import { Store } from '../src/persistence/store.js';
import { describeEachEngine, engines, type TestDatabase } from './support/databases.js';

const cases = await engines();

const attempt = (changeId: string, accountId = 'acc-1') =>
  newAttempt({ changeId, accountId, requestId: `req-${changeId}`, reason: 'FRAUD' });

describeEachEngine(cases, 'The outbox on $engine', (engine) => {
  let testDb: TestDatabase;
  let store: Store;
  const events = () => store.database.db.selectFrom('events').selectAll().orderBy('seq').execute();
  /** Completes the attempt (completed now) and writes its event, in one commit. */
  const completeWithEvent = (a: NewAttempt, outcome: Omit<AttemptCompletion, 'completedAt'>) => {
    const completion: AttemptCompletion = { ...outcome, completedAt: new Date().toISOString() };
    return store.writes.commit([
      { kind: 'completeAttempt', changeId: a.changeId, completion },
      { kind: 'insertEvent', event: changeEvent(a, completion) },
    ]);
  };

  beforeAll(async () => {
    testDb = await engine.fresh();
    store = await Store.open(testDb.url, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await store?.close();
    await testDb?.drop();
  });
  beforeEach(async () => {
    await store.database.db.deleteFrom('events').execute();
  });

  it("should commit an attempt's completion and its event together", async () => {
    const a = attempt('c-1');
    await store.writes.commit([{ kind: 'insertAttempt', attempt: a }]);
    await completeWithEvent(a, { outcome: 'APPLIED', providerStatus: 'suspended' });
    const rows = await events();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'account.status.changed', subject: 'spidr/acc-1' });
    expect(JSON.parse(rows[0].data)).toMatchObject({
      changeId: 'c-1',
      outcome: 'APPLIED',
      providerStatus: 'suspended',
    });
  });

  it('should write no event for a change that was not recorded', async () => {
    await completeWithEvent(attempt('never-recorded'), { outcome: 'FAILED', errorCode: 'INTERNAL' });
    expect(await events()).toHaveLength(0);
  });

  it('should commit rows and events off the hot path together, or neither (commitWithEvents)', async () => {
    const db = store.database.db;
    const drift = driftEvent({
      provider: 'spidr',
      accountId: 'acc-2',
      expectedStatus: 'ACTIVE',
      observedStatus: 'SUSPENDED',
      observedProviderStatus: 'suspended',
      lastChangeId: 'c-2',
    });
    const row = { ...attempt('c-2', 'acc-2') };
    const insert = db
      .insertInto('gateway_instances')
      .values({ instance_id: 'drift-probe', started_at: row.createdAt, heartbeat_at: row.createdAt })
      .onConflict((oc) => oc.column('instance_id').doNothing())
      .compile();
    await store.commitWithEvents([insert], [drift]);
    expect((await events()).map((e) => e.type)).toEqual(['account.status.drifted']);
    // The same row again changes nothing: its event is not written a second time.
    await store.commitWithEvents([insert], [driftEvent({ ...drift.data, accountId: 'acc-2' } as never)]);
    expect(await events()).toHaveLength(1);
    // A failing statement: nothing of the transaction is written.
    // The same row without on conflict: a unique violation on both engines.
    const bad = db
      .insertInto('gateway_instances')
      .values({ instance_id: 'drift-probe', started_at: row.createdAt, heartbeat_at: row.createdAt })
      .compile();
    // (Compared as a value: the driver's error may come from another realm than jest's Error.)
    const outcome = await store.commitWithEvents([bad], [drift]).then(
      () => 'committed',
      () => 'refused',
    );
    expect(outcome).toBe('refused');
    expect(await events()).toHaveLength(1);
  });

  it('should write a change_failed event for each attempt a dead process left unfinished', async () => {
    await store.writes.commit([
      { kind: 'insertAttempt', attempt: { ...attempt('c-dead'), instanceId: 'dead' } },
    ]);
    await store.audit.markUnfinished(store.instanceId, { allOthers: true });
    const rows = await events();
    expect(rows.map((r) => r.type)).toEqual(['account.status.change_failed']);
    expect(JSON.parse(rows[0].data)).toMatchObject({
      changeId: 'c-dead',
      outcome: 'UNFINISHED',
      errorCode: 'UNFINISHED',
    });
  });
});
