import { describeWithPostgres } from './support/databases.js';
import { call } from './support/gateway.js';
import { SPAWNED, useReplicas } from './support/replicas.js';

/** As account-order.e2e-spec, with the two changes sent to two replicas sharing one PostgreSQL. */
await describeWithPostgres('Concurrent changes to one account through two replicas', () => {
  const cluster = useReplicas(SPAWNED);

  it('should apply them in one order, the order the history shows (100 rounds)', async () => {
    const disagreements: string[] = [];
    for (let round = 0; round < 100; round++) {
      const account = `race-replicas-${Date.now()}-${round}`;
      await call('POST', `${cluster.sandbox.url}/__sandbox/faults`, {
        body: { match: { accountId: account, method: 'PATCH' }, fault: 'latency', delayMs: 30, times: 1 },
      });
      const path = `/v1/accounts/spidr/${account}/status`;
      const answers = await Promise.all([
        call('PUT', `${cluster.replicas[0].url}${path}`, { body: { status: 'SUSPENDED', reason: 'FRAUD' } }),
        call('PUT', `${cluster.replicas[1].url}${path}`, { body: { status: 'ACTIVE' } }),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      const live = await call('GET', `${cluster.replicas[0].url}${path}`);
      const history = await call('GET', `${cluster.replicas[1].url}/v1/accounts/spidr/${account}/history`);
      const newest = (history.body.items as Array<{ outcome: string; status: string }>).find(
        (i) => i.outcome === 'APPLIED',
      );
      if (live.body.status !== newest?.status)
        disagreements.push(`${account}: provider ${live.body.status}, history ${newest?.status}`);
    }
    expect(disagreements).toEqual([]);
  }, 120_000);
});
