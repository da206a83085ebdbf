/**
 * The drift watch with two gateways on one PostgreSQL (CONTRACT §8: one watcher at a time), both pointed
 * at one Spidr sandbox started on its own, as replicas share one live provider.
 */
import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import { DriftWatch } from '../src/services/drift-watch.js';
import { describeWithPostgres, freshPostgres, type TestDatabase } from './support/databases.js';
import { driftedEvents } from './support/drift.js';
import {
  call,
  sandboxCalls,
  startGateway,
  startSandbox,
  type StandaloneSandbox,
  type TestGateway,
} from './support/gateway.js';

await describeWithPostgres('DriftWatch on two replicas sharing PostgreSQL', () => {
  let testDb: TestDatabase;
  let sandbox: StandaloneSandbox;
  let replicas: TestGateway[];

  beforeAll(async () => {
    testDb = await freshPostgres();
    sandbox = await startSandbox('spidr');
    const env = {
      DATABASE_URL: testDb.url,
      SPIDR_BASE_URL: sandbox.url,
      SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
      AUTH_DISABLED: 'true',
      RECONCILE_INTERVAL_MS: '0',
    };
    replicas = [await startGateway(env), await startGateway(env)];
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas ?? []) await replica.close().catch(() => undefined);
    await sandbox?.close();
    await testDb?.drop();
  });

  const runBoth = () => Promise.all(replicas.map((r) => r.gateway.app.get(DriftWatch).runOnce()));
  const reads = async () => (await sandboxCalls(sandbox.url)).filter((c) => c.method === 'GET').length;

  it('should let only one of them read, once per account, and record one event', async () => {
    for (let i = 0; i < 5; i++) {
      const replica = replicas[i % 2];
      const answer = await call('PUT', `${replica.url}/v1/accounts/spidr/pair-${i}/status`, {
        body: { status: 'SUSPENDED' },
      });
      expect(answer.status).toBe(200);
    }
    await call('PUT', `${sandbox.url}/__sandbox/accounts/pair-3/status`, { body: { status: 'delinquent' } });

    const first = await runBoth();
    expect(first.map((r) => r.leader).sort()).toEqual([false, true]);
    expect(await reads()).toBe(5);
    const second = await runBoth();
    expect(second.map((r) => r.leader)).toEqual(first.map((r) => r.leader));
    expect(await reads()).toBe(10);
    expect(await driftedEvents(replicas[0], 'spidr', 'pair-3')).toEqual([
      expect.objectContaining({ expectedStatus: 'SUSPENDED', observedStatus: 'DELINQUENT' }),
    ]);
    // The live read of either replica knows the expectation, wherever the change was made.
    const live = await call('GET', `${replicas[0].url}/v1/accounts/spidr/pair-3/status`);
    expect(live.body).toMatchObject({ expectedStatus: 'SUSPENDED', inSync: false });
  });

  it('should let the other take over when the one watching stops', async () => {
    const leader = (await runBoth()).findIndex((r) => r.leader);
    const other = replicas[1 - leader];
    await replicas[leader].close();
    replicas = [other];
    const before = await reads();
    const report = await other.gateway.app.get(DriftWatch).runOnce();
    expect(report.leader).toBe(true);
    expect((await reads()) - before).toBe(5);
    expect(await driftedEvents(other, 'spidr', 'pair-3')).toHaveLength(1);
  });
});
