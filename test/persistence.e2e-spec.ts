import { sql } from 'kysely';
import pino from 'pino';
import { newAttempt } from '../src/persistence/attempt.spec-support.js';
import type { AttemptCompletion, NewAttempt } from '../src/persistence/audit.repository.js';
import { openDatabase, type Database } from '../src/persistence/database.js';
import { Store } from '../src/persistence/store.js';
import { describeEachEngine, engines, type TestDatabase } from './support/databases.js';

const silent = pino({ level: 'silent' });
const cases = await engines();

function attempt(overrides: Partial<NewAttempt> = {}): NewAttempt {
  return newAttempt({
    reason: 'FRAUD',
    note: 'n',
    providerRequest: { method: 'PATCH', url: 'http://x/v1/account/acc-1', body: { status: 'suspended' } },
    instanceId: 'instance-a',
    ...overrides,
  });
}

const applied = (providerStatus: unknown = 'suspended'): AttemptCompletion => ({
  outcome: 'APPLIED',
  providerHttpStatus: 200,
  providerStatus,
  latencyMs: 3.5,
  completedAt: new Date().toISOString(),
});

describeEachEngine(cases, 'Store on $engine', ({ fresh }) => {
  let testDb: TestDatabase;
  let store: Store;
  // Every write goes through the engine's hot-path writer, as in production.
  const record = (a: NewAttempt, completion?: AttemptCompletion) =>
    store.writes.commit([{ kind: 'insertAttempt', attempt: a, completion }]);
  const complete = (changeId: string, completion: AttemptCompletion) =>
    store.writes.commit([{ kind: 'completeAttempt', changeId, completion }]);
  const completeKey = (
    callerId: string,
    key: string,
    status: number,
    body: unknown,
    changeId: string | null,
  ) => store.writes.commit([{ kind: 'completeKey', callerId, key, status, body, changeId }]);
  const releaseKey = (callerId: string, key: string) =>
    store.writes.commit([{ kind: 'releaseKey', callerId, key }]);

  beforeAll(async () => {
    testDb = await fresh();
    store = await Store.open(testDb.url, silent);
  });
  afterAll(async () => {
    await store.close();
    await testDb.drop();
  });

  describe('migrations', () => {
    it('should migrate once when several processes open a new database at once', async () => {
      const empty = await fresh();
      try {
        const opened: Database[] = await Promise.all([1, 2, 3].map(() => openDatabase(empty.url)));
        for (const database of opened) await database.ping();
        const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(
          opened[0].db,
        );
        expect(migrations.rows.map((r) => r.name)).toEqual([
          '0001_audit_and_idempotency',
          '0002_batches',
          '0003_events',
          '0004_drift',
          '0005_key_holder',
          '0006_drift_due_index',
        ]);
        await Promise.all(opened.map((d) => d.close()));
      } finally {
        await empty.drop();
      }
    });
  });

  describe('audit trail (AuditRepository and its writes)', () => {
    it('should record an attempt as PENDING before completion and keep only status fields after', async () => {
      const a = attempt({ accountId: 'audit-1' });
      await record(a);
      expect((await store.audit.find(a.changeId))?.outcome).toBe('PENDING');
      await complete(a.changeId, applied({ status: 'SUSPENDED', substatus: 'FRAUD' }));
      const row = await store.audit.find(a.changeId);
      expect(row).toMatchObject({
        outcome: 'APPLIED',
        provider_http_status: 200,
        latency_ms: 3.5,
        caller_id: 'svc',
        note: 'n',
      });
      expect(JSON.parse(row!.provider_status!)).toEqual({ status: 'SUSPENDED', substatus: 'FRAUD' });
      expect(JSON.parse(row!.provider_request!)).toEqual(a.providerRequest);
    });

    it('should page history newest first with a cursor', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const a = attempt({ accountId: 'audit-hist', status: `S${i}` });
        ids.push(a.changeId);
        await record(a, applied());
        await new Promise((r) => setTimeout(r, 2));
      }
      await record(attempt({ accountId: 'other-account' }), applied());
      const first = await store.audit.history('spidr', 'audit-hist', 2);
      expect(first.map((r) => r.status)).toEqual(['S4', 'S3']);
      const second = await store.audit.history('spidr', 'audit-hist', 2, first[1].change_id);
      expect(second.map((r) => r.status)).toEqual(['S2', 'S1']);
      const last = await store.audit.history('spidr', 'audit-hist', 2, second[1].change_id);
      expect(last.map((r) => r.status)).toEqual(['S0']);
    });

    it('should take the last applied or accepted change, never a failed or pending one', async () => {
      await record(attempt({ accountId: 'last-1', status: 'DISPUTED' }), {
        ...applied(5),
        outcome: 'ACCEPTED',
      });
      await record(attempt({ accountId: 'last-1', status: 'CLOSED' }), {
        outcome: 'FAILED',
        errorCode: 'ACCOUNT_NOT_FOUND',
        completedAt: new Date().toISOString(),
      });
      await record(attempt({ accountId: 'last-1', status: 'DO_NOT_CONTACT' }));
      expect((await store.audit.lastApplied('spidr', 'last-1'))?.status).toBe('DISPUTED');
      expect(await store.audit.lastApplied('spidr', 'never-changed')).toBeUndefined();
    });

    it('should mark pending attempts of dead processes UNFINISHED and leave live ones alone', async () => {
      const dead = attempt({ accountId: 'sweep-1', instanceId: 'dead-instance' });
      const alive = attempt({ accountId: 'sweep-1', instanceId: 'alive-instance' });
      const mine = attempt({ accountId: 'sweep-1', instanceId: store.instanceId });
      for (const a of [dead, alive, mine]) await record(a);
      const now = new Date();
      await store.instances.register('alive-instance', now);
      await store.instances.register('dead-instance', new Date(now.getTime() - 120_000));
      const marked = await store.audit.markUnfinished(store.instanceId, {
        staleBefore: new Date(now.getTime() - 30_000),
      });
      expect(marked.length).toBeGreaterThanOrEqual(1);
      expect((await store.audit.find(dead.changeId))?.outcome).toBe('UNFINISHED');
      expect((await store.audit.find(alive.changeId))?.outcome).toBe('PENDING');
      expect((await store.audit.find(mine.changeId))?.outcome).toBe('PENDING');
      await store.audit.markUnfinished(store.instanceId, { allOthers: true });
      expect((await store.audit.find(alive.changeId))?.outcome).toBe('UNFINISHED');
      expect((await store.audit.find(mine.changeId))?.outcome).toBe('PENDING');
    });
  });

  describe('idempotency keys (IdempotencyRepository and its writes)', () => {
    const begin = (key: string, fingerprint = 'fp-1', now = new Date(), callerId = 'svc') =>
      store.idempotency.begin({ callerId, key, fingerprint, now, ttlMs: 60_000, lockMs: 10_000 });

    it('should start, then report in-progress, reuse, and replay after completion', async () => {
      expect(await begin('k1')).toEqual({ kind: 'started' });
      expect(await begin('k1')).toEqual({ kind: 'in-progress' });
      expect(await begin('k1', 'fp-other')).toEqual({ kind: 'reused' });
      await completeKey('svc', 'k1', 202, { outcome: 'ACCEPTED' }, 'change-1');
      expect(await begin('k1')).toEqual({ kind: 'replay', status: 202, body: { outcome: 'ACCEPTED' } });
    });

    it('should scope keys per caller', async () => {
      expect(await begin('shared', 'fp', new Date(), 'caller-a')).toEqual({ kind: 'started' });
      expect(await begin('shared', 'fp', new Date(), 'caller-b')).toEqual({ kind: 'started' });
    });

    it('should let a released key start again', async () => {
      expect(await begin('k2')).toEqual({ kind: 'started' });
      await releaseKey('svc', 'k2');
      expect(await begin('k2')).toEqual({ kind: 'started' });
    });

    it('should treat an expired key as new and purge expired keys', async () => {
      const past = new Date(Date.now() - 120_000);
      expect(await begin('k3', 'fp-old', past)).toEqual({ kind: 'started' });
      await completeKey('svc', 'k3', 200, {}, null);
      expect(await begin('k3', 'fp-new')).toEqual({ kind: 'started' });
      await begin('k4', 'fp', past);
      expect(await store.idempotency.purgeExpired(new Date())).toBeGreaterThanOrEqual(1);
      expect(await store.idempotency.find('svc', 'k4')).toBeUndefined();
    });

    it('should let exactly one request take over a key whose holder stopped renewing its lock', async () => {
      const past = new Date(Date.now() - 20_000);
      expect(await begin('k5', 'fp', past)).toEqual({ kind: 'started' });
      const results = await Promise.all([1, 2, 3, 4].map(() => begin('k5', 'fp')));
      expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
      expect(results.filter((r) => r.kind === 'in-progress')).toHaveLength(3);
    });

    // Issue 13: on PostgreSQL a key is claimed before the change's first record; a process killed in between
    // left no attempt for the sweep, and its key answered IDEMPOTENCY_IN_PROGRESS until the lock lapsed.
    it('should take over at once a locked key whose holding process is known gone, and only then', async () => {
      const now = new Date();
      const held = (key: string, holder: string) => store.idempotency.begin({ ...claimOf(key), now, holder });
      const claimOf = (key: string) => ({
        callerId: 'svc',
        key,
        fingerprint: 'fp',
        ttlMs: 60_000,
        lockMs: 300_000,
      });
      await store.instances.register('killed-holder', new Date(now.getTime() - 120_000));
      await store.instances.register('live-holder', now);
      for (const holder of ['killed-holder', 'live-holder', 'stopped-holder'])
        expect(await held(`held-by-${holder}`, holder)).toEqual({ kind: 'started' });

      const mine = (key: string) => held(key, store.instanceId);
      expect(await mine('held-by-killed-holder')).toEqual({ kind: 'started', takenOver: true });
      // Not registered (it stopped and removed itself, or was reaped): gone too.
      expect(await mine('held-by-stopped-holder')).toEqual({ kind: 'started', takenOver: true });
      expect(await mine('held-by-live-holder')).toEqual({ kind: 'in-progress' });
      // Taken over once: the new holder is this live process, so the next request waits.
      expect(await held('held-by-killed-holder', 'live-holder')).toEqual({ kind: 'in-progress' });
      expect((await store.idempotency.find('svc', 'held-by-killed-holder'))?.holder_instance).toBe(
        store.instanceId,
      );
    });

    it('should let exactly one of many concurrent requests claim a new key', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => begin('race-key')));
      expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
    });
  });

  describe('hot-path writes (prepared statements of the engine)', () => {
    const claim = (key: string) => ({
      callerId: 'hot',
      key,
      fingerprint: 'fp',
      now: new Date(),
      ttlMs: 60_000,
      lockMs: 10_000,
    });

    it('should claim a key with its first record in one transaction, or write neither', async () => {
      const first = attempt({ accountId: 'hot-1' });
      const second = attempt({ accountId: 'hot-1' });
      expect(await store.idempotency.find('hot', 'h-1')).toBeUndefined();
      const results = await Promise.all([
        store.writes.claimKey(claim('h-1'), [{ kind: 'insertAttempt', attempt: first }]),
        store.writes.claimKey(claim('h-1'), [{ kind: 'insertAttempt', attempt: second }]),
      ]);
      expect([...results].sort()).toEqual([false, true]);
      const recorded = results[0] ? first : second; // either may win on PostgreSQL
      expect(await store.idempotency.find('hot', 'h-1')).toBeDefined();
      expect(await store.audit.history('spidr', 'hot-1', 10)).toHaveLength(1);
      // A record that fails (its change id exists) undoes the claim made with it.
      await expect(
        store.writes.claimKey(claim('h-2'), [{ kind: 'insertAttempt', attempt: recorded }]),
      ).rejects.toBeDefined();
      expect(await store.idempotency.find('hot', 'h-2')).toBeUndefined();
    });

    it('should open a new key for claiming with the first record on SQLite and claim it at once on PostgreSQL', async () => {
      const opened = await store.openKey(claim('h-5'));
      if (store.database.engine === 'sqlite') {
        expect(opened).toEqual({ kind: 'new' });
        expect(await store.idempotency.find('hot', 'h-5')).toBeUndefined();
        expect(await store.writes.claimKey(claim('h-5'))).toBe(true);
      } else {
        expect(opened).toEqual({ kind: 'started' });
      }
      expect(await store.openKey(claim('h-5'))).toEqual({ kind: 'in-progress' });
      await completeKey('hot', 'h-5', 200, { ok: 5 }, null);
      expect(await store.openKey(claim('h-5'))).toEqual({ kind: 'replay', status: 200, body: { ok: 5 } });
      expect(await store.openKey({ ...claim('h-5'), fingerprint: 'other' })).toEqual({ kind: 'reused' });
    });

    it('should complete an attempt and its key together, and release only a key in progress', async () => {
      const a = attempt({ accountId: 'hot-2' });
      expect(await store.writes.claimKey(claim('h-3'))).toBe(true);
      await store.writes.commit([{ kind: 'insertAttempt', attempt: a }]);
      expect((await store.audit.find(a.changeId))?.outcome).toBe('PENDING');
      await store.writes.commit([
        { kind: 'completeAttempt', changeId: a.changeId, completion: applied() },
        {
          kind: 'completeKey',
          callerId: 'hot',
          key: 'h-3',
          status: 200,
          body: { ok: 1 },
          changeId: a.changeId,
        },
      ]);
      expect(await store.audit.find(a.changeId)).toMatchObject({ outcome: 'APPLIED', latency_ms: 3.5 });
      await store.writes.commit([{ kind: 'releaseKey', callerId: 'hot', key: 'h-3' }]);
      expect(await store.idempotency.begin(claim('h-3'))).toEqual({
        kind: 'replay',
        status: 200,
        body: { ok: 1 },
      });
      expect(await store.writes.claimKey(claim('h-4'))).toBe(true);
      await store.writes.commit([{ kind: 'releaseKey', callerId: 'hot', key: 'h-4' }]);
      expect(await store.idempotency.find('hot', 'h-4')).toBeUndefined();
    });
  });
});
