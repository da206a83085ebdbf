import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { call, type JsonResponse } from './support/gateway.js';
import { describeWithPrivatePostgres, usePrivatePostgresGateway } from './support/private-postgres.js';

interface Answer {
  at: number;
  response?: JsonResponse;
  error?: unknown;
}

describeWithPrivatePostgres('A PostgreSQL restart under load', () => {
  const setup = usePrivatePostgresGateway();

  it('should answer problem+json 5xx while it is down, report not ready, and recover without a restart', async () => {
    const answers: Answer[] = [];
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        // Some slow in-flight changes, some with an Idempotency-Key.
        const account = n === 0 ? `SLOW400-restart-${i}` : `restart-${n}-${i}`;
        const headers: Record<string, string> = n % 2 === 0 ? { 'idempotency-key': `k-${n}-${i}` } : {};
        const body = { status: i % 2 === 0 ? 'SUSPENDED' : 'ACTIVE' };
        const at = Date.now();
        try {
          answers.push({
            at,
            response: await call('PUT', `${setup.gateway.url}/v1/accounts/spidr/${account}/status`, {
              body,
              headers,
            }),
          });
        } catch (error) {
          answers.push({ at, error });
          await sleep(50);
        }
      }
    };
    const clients = Array.from({ length: 16 }, (_, n) => client(n));
    await sleep(1_000);
    setup.postgres.stop();
    await sleep(1_500);
    const duringOutage = await call('GET', `${setup.gateway.url}/health/ready`);
    expect(setup.gateway.child.exitCode).toBeNull();
    setup.postgres.start();
    let ready = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && ready !== 200) {
      await sleep(200);
      ready = (await call('GET', `${setup.gateway.url}/health/ready`)).status;
    }
    await sleep(500);
    running = false;
    await Promise.all(clients);

    expect(setup.gateway.child.exitCode).toBeNull();
    expect(duringOutage.status).toBe(503);
    expect(ready).toBe(200);
    // Every answer reached the client, and every failure is problem+json with a 5xx status.
    expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
    const failed = answers.filter((a) => a.response!.status >= 300);
    expect(failed.length).toBeGreaterThan(0);
    for (const { response } of failed) {
      expect(response!.status).toBeGreaterThanOrEqual(500);
      expect(response!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    // Never an APPLIED answer without its record.
    const applied = answers
      .filter((a) => a.response!.status === 200)
      .map((a) => a.response!.body.changeId as string);
    expect(applied.length).toBeGreaterThan(0);
    const db = new pg.Client({ connectionString: setup.postgres.url });
    await db.connect();
    const rows = await db.query<{ change_id: string }>(
      `select change_id from change_attempts where outcome = 'APPLIED' and change_id = any($1)`,
      [applied],
    );
    await db.end();
    expect(rows.rowCount).toBe(new Set(applied).size);
    // And after the restart it serves again.
    const after = await call('PUT', `${setup.gateway.url}/v1/accounts/spidr/restart-after/status`, {
      body: { status: 'SUSPENDED' },
    });
    expect(after.status).toBe(200);
  }, 90_000);
});
