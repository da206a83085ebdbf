import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import { freshPostgres, postgresUnavailableReason, type TestDatabase } from './support/databases.js';
import { call, startSandbox, type StandaloneSandbox } from './support/gateway.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';

const unavailable = await postgresUnavailableReason();
if (unavailable && process.env.CI === 'true') throw new Error(`PostgreSQL needed under CI: ${unavailable}`);
const describeIf = unavailable ? describe.skip : describe;

/** As account-order.e2e-spec, with the two changes sent to two replicas sharing one PostgreSQL. */
describeIf('Concurrent changes to one account through two replicas', () => {
  let testDb: TestDatabase;
  let sandbox: StandaloneSandbox;
  let replicas: GatewayProcess[];

  beforeAll(async () => {
    testDb = await freshPostgres();
    sandbox = await startSandbox('spidr');
    const env = {
      DATABASE_URL: testDb.url,
      SPIDR_BASE_URL: sandbox.url,
      SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
      AUTH_DISABLED: 'true',
    };
    replicas = [await spawnGateway(env), await spawnGateway(env)];
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas ?? []) replica.child.kill('SIGTERM');
    await Promise.all((replicas ?? []).map((r) => r.exited));
    await sandbox?.close();
    await testDb?.drop();
  });

  it('should apply them in one order, the order the history shows (100 rounds)', async () => {
    const disagreements: string[] = [];
    for (let round = 0; round < 100; round++) {
      const account = `race-replicas-${Date.now()}-${round}`;
      await call('POST', `${sandbox.url}/__sandbox/faults`, {
        body: { match: { accountId: account, method: 'PATCH' }, fault: 'latency', delayMs: 30, times: 1 },
      });
      const path = `/v1/accounts/spidr/${account}/status`;
      const answers = await Promise.all([
        call('PUT', `${replicas[0].url}${path}`, { body: { status: 'SUSPENDED', reason: 'FRAUD' } }),
        call('PUT', `${replicas[1].url}${path}`, { body: { status: 'ACTIVE' } }),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      const live = await call('GET', `${replicas[0].url}${path}`);
      const history = await call('GET', `${replicas[1].url}/v1/accounts/spidr/${account}/history`);
      const newest = (history.body.items as Array<{ outcome: string; status: string }>).find(
        (i) => i.outcome === 'APPLIED',
      );
      if (live.body.status !== newest?.status)
        disagreements.push(`${account}: provider ${live.body.status}, history ${newest?.status}`);
    }
    expect(disagreements).toEqual([]);
  }, 120_000);
});
