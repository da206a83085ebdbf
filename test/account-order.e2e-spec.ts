import { call, useGateway } from './support/gateway.js';

/**
 * Two callers change one account at once, the first write 30 ms slower at the provider (a sandbox latency
 * fault on the first PATCH/PUT only). The provider's final status must be the newest APPLIED history item.
 */
describe('Concurrent changes to one account', () => {
  const gw = useGateway({ AUTH_DISABLED: 'true' });

  it.each([
    ['spidr', 'PATCH'],
    ['canopy', 'PUT'],
  ])(
    'should apply them in one order on %s, the order the history shows (100 rounds)',
    async (provider, method) => {
      const disagreements: string[] = [];
      for (let round = 0; round < 100; round++) {
        const account = `race-${provider}-${Date.now()}-${round}`;
        await call('POST', `${gw.providerUrl(provider as 'spidr')}/__sandbox/faults`, {
          body: { match: { accountId: account, method }, fault: 'latency', delayMs: 30, times: 1 },
        });
        const url = `${gw.url}/v1/accounts/${provider}/${account}/status`;
        const answers = await Promise.all([
          call('PUT', url, { body: { status: 'SUSPENDED', reason: 'FRAUD' } }),
          call('PUT', url, { body: { status: 'ACTIVE' } }),
        ]);
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        const live = await call('GET', url);
        const history = await call('GET', `${gw.url}/v1/accounts/${provider}/${account}/history`);
        const newest = (history.body.items as Array<{ outcome: string; status: string }>).find(
          (i) => i.outcome === 'APPLIED',
        );
        if (live.body.status !== newest?.status)
          disagreements.push(`${account}: provider ${live.body.status}, history ${newest?.status}`);
      }
      expect(disagreements).toEqual([]);
    },
    120_000,
  );
});
