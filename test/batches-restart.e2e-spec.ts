/**
 * Batches across a crash and across replicas (CONTRACT §6): a real gateway process killed with SIGKILL
 * mid-batch and started again sends no item twice and accounts for every item; two gateways sharing one
 * PostgreSQL drain one batch with each item sent exactly once. Spidr runs as a "live" sandbox outside the
 * gateways, so its call log survives them.
 */
import { uuidv7 } from '../src/common/ids.js';
import type { BatchItemTable } from '../src/persistence/batches.repository.js';
import { openDatabase } from '../src/persistence/database.js';
import { BatchWorker } from '../src/services/batch-worker.js';
import { addLatency, patchesPerAccount, spidrItems, until } from './batches-support.js';
import { describeEachEngine, engines, freshPostgres } from './support/databases.js';
import {
  call,
  spidrGatewayEnv,
  startGateway,
  startSandbox,
  type StandaloneSandbox,
} from './support/gateway.js';
import { describeWithPrivatePostgres, usePrivatePostgresGateway } from './support/private-postgres.js';
import { spawnGateway } from './support/process.js';

const cases = await engines();

describeEachEngine(
  cases,
  'A batch whose gateway process is killed mid-batch on $engine',
  ({ engine, fresh }) => {
    let spidr: StandaloneSandbox;

    beforeAll(async () => {
      spidr = await startSandbox('spidr');
    });
    afterAll(async () => {
      await spidr.close();
    });

    it('should, after a restart, run the items not started, mark those possibly in flight UNFINISHED, and send none twice', async () => {
      const db = await fresh();
      const env = spidrGatewayEnv(db.url, spidr.url);
      await addLatency(spidr.url, 2000);
      const total = 200;
      const items = spidrItems('crash', total);
      const first = await spawnGateway(env);
      const created = await call('POST', `${first.url}/v1/batches`, { body: { items } });
      expect(created.status).toBe(202);
      const id = created.body.batchId;
      // Some calls have reached the provider (and hang there): kill the gateway now.
      await until(
        () => patchesPerAccount(spidr.url),
        (m) => m.size >= 10,
        10_000,
      );
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      await fetch(`${spidr.url}/__sandbox/faults`, { method: 'DELETE' });
      const sentBeforeCrash = await patchesPerAccount(spidr.url);
      expect(sentBeforeCrash.size).toBeGreaterThan(0);
      expect(sentBeforeCrash.size).toBeLessThan(total);

      const second = await spawnGateway(env);
      try {
        // PostgreSQL: the dead process's claims are taken over once its heartbeat is stale (30 s).
        const done = await until(
          () => call('GET', `${second.url}/v1/batches/${id}`),
          (r) => r.body?.state === 'DONE',
          engine === 'postgres' ? 90_000 : 30_000,
        );
        expect(done.body.state).toBe('DONE');
        const { counts } = done.body;
        expect(counts.PENDING).toBe(0);
        expect(counts.APPLIED + counts.UNFINISHED).toBe(total);
        expect(counts.UNFINISHED).toBeGreaterThanOrEqual(sentBeforeCrash.size);
        // The items not started before the crash ran after the restart.
        expect(counts.APPLIED).toBeGreaterThan(0);

        const patches = await patchesPerAccount(spidr.url);
        for (const [account, n] of patches) expect([account, n]).toEqual([account, 1]);
        const page = await call('GET', `${second.url}/v1/batches/${id}/items?limit=1000`);
        expect(page.body.items).toHaveLength(total);
        for (const item of page.body.items) {
          if (sentBeforeCrash.has(item.accountId)) {
            // Its call may have been applied: never sent again, reported UNFINISHED with its change id.
            expect(item).toMatchObject({
              outcome: 'UNFINISHED',
              changeId: expect.any(String),
              error: { code: 'UNFINISHED' },
            });
          } else if (item.outcome === 'APPLIED') {
            expect(patches.get(item.accountId)).toBe(1);
          } else {
            // Recorded before the crash but not yet sent: UNFINISHED, and indeed never sent.
            expect(item.outcome).toBe('UNFINISHED');
            expect(patches.has(item.accountId)).toBe(false);
          }
        }
        // On PostgreSQL the dead process's change records are marked by its own sweep, on a timer of its own.
        const history = await until(
          () => call('GET', `${second.url}/v1/accounts/spidr/${page.body.items[0].accountId}/history`),
          (r) => r.body?.items?.[0]?.outcome === 'UNFINISHED',
        );
        expect(history.body.items[0]).toMatchObject({ batchId: id, outcome: 'UNFINISHED' });
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
        await db.drop();
      }
    }, 150_000);
  },
);

const postgresReason = cases.find((c) => c.engine === 'postgres')?.skipped;
const onPostgres = postgresReason === undefined ? describe : describe.skip;

onPostgres('Two gateways sharing one PostgreSQL', () => {
  it('should drain one batch together, each item claimed and sent exactly once', async () => {
    const spidr = await startSandbox('spidr');
    const db = await freshPostgres();
    const env = spidrGatewayEnv(db.url, spidr.url);
    const a = await startGateway(env);
    const b = await startGateway(env);
    try {
      await addLatency(spidr.url, 100);
      const total = 400;
      const items = spidrItems('rep', total);
      const created = await call('POST', `${a.url}/v1/batches`, { body: { items } });
      expect(created.status).toBe(202);
      const done = await until(
        () => call('GET', `${b.url}/v1/batches/${created.body.batchId}`),
        (r) => r.body?.state === 'DONE',
      );
      expect(done.body.counts).toMatchObject({ APPLIED: total, PENDING: 0, FAILED: 0 });
      const patches = await patchesPerAccount(spidr.url);
      expect(patches.size).toBe(total);
      for (const [account, n] of patches) expect([account, n]).toEqual([account, 1]);
      const database = await openDatabase(db.url);
      try {
        const byInstance = await database.db
          .selectFrom('batch_items')
          .select(['claimed_by', (eb) => eb.fn.countAll().as('n')])
          .groupBy('claimed_by')
          .execute();
        // Both replicas took part.
        expect(byInstance).toHaveLength(2);
        const records = await database.db.selectFrom('change_attempts').select('change_id').execute();
        expect(records).toHaveLength(total);
      } finally {
        await database.close();
      }
    } finally {
      await a.close();
      await b.close();
      await spidr.close();
      await db.drop();
    }
  }, 90_000);
});

onPostgres('A replica that died mid-batch on PostgreSQL', () => {
  it('should have its claimed items settled by a live replica: unrecorded ones run, recorded ones are never sent again', async () => {
    const spidr = await startSandbox('spidr');
    const db = await freshPostgres();
    const gw = await startGateway(spidrGatewayEnv(db.url, spidr.url));
    try {
      const worker = gw.gateway.app.get(BatchWorker);
      const store = gw.gateway.store;
      const now = new Date().toISOString();
      const batchId = uuidv7();
      const item = (index: number): BatchItemTable => ({
        batch_id: batchId,
        item_index: index,
        provider: 'spidr',
        lane: 'spidr',
        account_id: `dead-${index}`,
        customer_id: null,
        status: 'SUSPENDED',
        reason: null,
        note: null,
        provider_options: null,
        outcome: 'RUNNING',
        change_id: uuidv7(),
        provider_status: null,
        error: null,
        claimed_by: 'dead-replica',
        claimed_at: now,
        completed_at: null,
      });
      const items = [item(0), item(1), item(2)];
      await worker.repository.create(
        {
          batch_id: batchId,
          caller_id: 'anonymous',
          idempotency_key: null,
          fingerprint: null,
          request_id: 'r-dead',
          total: 3,
          created_at: now,
          cancelled_at: null,
        },
        items,
      );
      const attempt = (i: number) => ({
        changeId: items[i].change_id,
        provider: 'spidr',
        accountId: items[i].account_id,
        customerId: null,
        callerId: 'anonymous',
        requestId: 'r-dead',
        status: 'SUSPENDED',
        reason: null,
        note: null,
        idempotencyKey: null,
        providerRequest: null,
        instanceId: 'dead-replica',
        createdAt: now,
        batchId,
      });
      // Item 1 was recorded (its call may have been in flight); item 2 had completed; item 0 never started.
      await store.writes.commit([
        { kind: 'insertAttempt', attempt: attempt(1) },
        {
          kind: 'insertAttempt',
          attempt: attempt(2),
          completion: {
            outcome: 'APPLIED',
            providerStatus: 'suspended',
            providerHttpStatus: 200,
            completedAt: now,
          },
        },
      ]);
      // The dead replica has no heartbeat row at all: it is stale for any cut-off.
      expect(await worker.recover({ staleBefore: new Date() })).toBe(3);
      const done = await until(
        () => call('GET', `${gw.url}/v1/batches/${batchId}`),
        (r) => r.body?.state === 'DONE',
      );
      expect(done.body.counts).toMatchObject({ APPLIED: 2, UNFINISHED: 1, PENDING: 0 });
      const page = await call('GET', `${gw.url}/v1/batches/${batchId}/items`);
      expect(page.body.items.map((i: { outcome: string }) => i.outcome)).toEqual([
        'APPLIED',
        'UNFINISHED',
        'APPLIED',
      ]);
      const patches = await patchesPerAccount(spidr.url);
      expect([...patches]).toEqual([['dead-0', 1]]);
    } finally {
      await gw.close();
      await spidr.close();
      await db.drop();
    }
  }, 60_000);
});

describeWithPrivatePostgres('A batch while its PostgreSQL is down', () => {
  const setup = usePrivatePostgresGateway();

  it('should neither crash nor lose an item, send none twice, and log the failed claims once', async () => {
    await addLatency(setup.sandbox.url, 300);
    const total = 300;
    const created = await call('POST', `${setup.gateway.url}/v1/batches`, {
      body: { items: spidrItems('down', total) },
    });
    expect(created.status).toBe(202);
    await until(
      () => patchesPerAccount(setup.sandbox.url),
      (m) => m.size >= 10,
      10_000,
    );
    setup.postgres.stop();
    await new Promise((r) => setTimeout(r, 3000));
    setup.postgres.start();
    const done = await until(
      () => call('GET', `${setup.gateway.url}/v1/batches/${created.body.batchId}`),
      (r) => r.body?.state === 'DONE',
      60_000,
    );
    expect(setup.gateway.child.exitCode).toBeNull();
    const { counts } = done.body;
    expect(counts.PENDING).toBe(0);
    expect(counts.APPLIED + counts.UNFINISHED + counts.FAILED).toBe(total);
    const patches = await patchesPerAccount(setup.sandbox.url);
    for (const [account, n] of patches) expect([account, n]).toEqual([account, 1]);
    const page = await call(
      'GET',
      `${setup.gateway.url}/v1/batches/${created.body.batchId}/items?limit=1000`,
    );
    expect(page.body.items).toHaveLength(total);
    for (const item of page.body.items) {
      // An item applied was sent once; one never sent is never reported applied.
      if (item.outcome === 'APPLIED') expect(patches.get(item.accountId)).toBe(1);
      if (!patches.has(item.accountId)) expect(item.outcome).not.toBe('APPLIED');
    }
    // Items that were not sent when the database went down ran once it was back.
    expect(counts.APPLIED).toBeGreaterThan(total / 2);
    const claimFailures = setup.gateway.output().split('could not claim batch items').length - 1;
    expect(claimFailures).toBe(1);
    expect(setup.gateway.output()).toContain('claims batch items again');
  }, 120_000);
});
