/**
 * The drift watch with two gateways on one PostgreSQL (CONTRACT §8: one watcher at a time), both pointed
 * at one Spidr sandbox started on its own, as replicas share one live provider.
 */
import { DriftWatch } from '../src/services/drift-watch.js';
import { describeWithPostgres } from './support/databases.js';
import { driftedEvents } from './support/drift.js';
import { call, sandboxCalls } from './support/gateway.js';
import { IN_PROCESS, useReplicas } from './support/replicas.js';

await describeWithPostgres('DriftWatch on two replicas sharing PostgreSQL', () => {
  const cluster = useReplicas(IN_PROCESS, { env: () => ({ RECONCILE_INTERVAL_MS: '0' }) });

  const runBoth = () => Promise.all(cluster.replicas.map((r) => r.gateway.app.get(DriftWatch).runOnce()));
  const reads = async () =>
    (await sandboxCalls(cluster.sandbox.url)).filter((c) => c.method === 'GET').length;

  it('should let only one of them read, once per account, and record one event', async () => {
    for (let i = 0; i < 5; i++) {
      const replica = cluster.replicas[i % 2];
      const answer = await call('PUT', `${replica.url}/v1/accounts/spidr/pair-${i}/status`, {
        body: { status: 'SUSPENDED' },
      });
      expect(answer.status).toBe(200);
    }
    await call('PUT', `${cluster.sandbox.url}/__sandbox/accounts/pair-3/status`, {
      body: { status: 'delinquent' },
    });

    const first = await runBoth();
    expect(first.map((r) => r.leader).sort()).toEqual([false, true]);
    expect(await reads()).toBe(5);
    const second = await runBoth();
    expect(second.map((r) => r.leader)).toEqual(first.map((r) => r.leader));
    expect(await reads()).toBe(10);
    expect(await driftedEvents(cluster.replicas[0], 'spidr', 'pair-3')).toEqual([
      expect.objectContaining({ expectedStatus: 'SUSPENDED', observedStatus: 'DELINQUENT' }),
    ]);
    // The live read of either replica knows the expectation, wherever the change was made.
    const live = await call('GET', `${cluster.replicas[0].url}/v1/accounts/spidr/pair-3/status`);
    expect(live.body).toMatchObject({ expectedStatus: 'SUSPENDED', inSync: false });
  });

  it('should let the other take over when the one watching stops', async () => {
    const leader = (await runBoth()).findIndex((r) => r.leader);
    const other = cluster.replicas[1 - leader];
    await cluster.replicas[leader].close();
    // Stopped here, so the set no longer stops it after the suite.
    cluster.replicas.splice(leader, 1);
    const before = await reads();
    const report = await other.gateway.app.get(DriftWatch).runOnce();
    expect(report.leader).toBe(true);
    expect((await reads()) - before).toBe(5);
    expect(await driftedEvents(other, 'spidr', 'pair-3')).toHaveLength(1);
  });
});
