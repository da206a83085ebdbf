import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { call, expectProblem, sandboxCalls, useGateway } from './support/gateway.js';

/** An injected write failure: every matching write fails as on a full disk, until `heal` is called. */
function failWrites(sqlite: SQLite.Database, name: string, on: string): { heal(): void } {
  sqlite.exec(
    `create trigger ${name} before ${on} begin select raise(fail, 'database or disk is full'); end`,
  );
  return { heal: () => sqlite.exec(`drop trigger if exists ${name}`) };
}

describe('Store write failures', () => {
  const gw = useGateway({ AUTH_DISABLED: 'true' });
  let sqlite: SQLite.Database;

  // A connection of its own: the gateway's main-thread connection only reads (its writer is a thread).
  beforeAll(() => {
    sqlite = new SQLite(gw.gateway.store.database.location);
  });
  afterAll(() => sqlite.close());

  it('should release the idempotency key when the final commit fails, so a retry is not refused as in progress', async () => {
    const account = `SLOW300-release-${Date.now()}`;
    const headers = { 'idempotency-key': `release-${account}` };
    const url = `${gw.url}/v1/accounts/spidr/${account}/status`;
    const first = call('PUT', url, { body: { status: 'SUSPENDED' }, headers });
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const calls = await sandboxCalls(gw.providerUrl('spidr'));
      if (calls.some((c) => c.method === 'PATCH' && c.url.endsWith(account))) break;
      await sleep(20);
    }
    // The provider has the change; now the store can write nothing: not the outcome, nor the release.
    const outcome = failWrites(sqlite, 'fail_outcome', 'update on change_attempts');
    const release = failWrites(sqlite, 'fail_release', 'delete on idempotency_keys');
    try {
      expectProblem(await first, 500, 'INTERNAL');
    } finally {
      outcome.heal();
      release.heal();
    }
    // The store writes again: the retry is served (the request ended with a 500), not refused 409.
    let retry = await call('PUT', url, { body: { status: 'SUSPENDED' }, headers });
    for (let i = 0; i < 20 && retry.status === 409; i++) {
      await sleep(100);
      retry = await call('PUT', url, { body: { status: 'SUSPENDED' }, headers });
    }
    expect(retry.status).toBe(200);
  });

  it('should report not ready while the store cannot write, and ready again once it can', async () => {
    expect((await call('GET', `${gw.url}/health/ready`)).status).toBe(200);
    // A full disk: every write fails, reads still answer.
    const full = [
      failWrites(sqlite, 'full_attempts', 'insert on change_attempts'),
      failWrites(sqlite, 'full_keys', 'insert on idempotency_keys'),
      failWrites(sqlite, 'full_instances', 'update on gateway_instances'),
    ];
    let ready;
    try {
      ready = await call('GET', `${gw.url}/health/ready`);
      const change = await call('PUT', `${gw.url}/v1/accounts/spidr/full-disk-1/status`, {
        body: { status: 'SUSPENDED' },
      });
      expectProblem(change, 500, 'INTERNAL');
    } finally {
      for (const f of full) f.heal();
    }
    expect(ready.status).toBe(503);
    expect(ready.body.error.database).toMatchObject({ status: 'down' });
    expect((await call('GET', `${gw.url}/health/ready`)).status).toBe(200);
  });
});
