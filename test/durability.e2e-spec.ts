import { openDatabase } from '../src/persistence/database.js';
import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import { SPIDR_API_KEY_HEADER } from '../src/providers/spidr/spidr.wire.js';
import {
  call,
  sandboxCalls,
  startSandbox,
  spidrGatewayEnv,
  temporarySqliteUrl,
  type StandaloneSandbox,
} from './support/gateway.js';
import { expectHistory } from './support/answers.js';
import { spawnGateway } from './support/process.js';

describe('A gateway process killed mid-change', () => {
  let sandbox: StandaloneSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox('spidr');
  });
  afterAll(async () => {
    await sandbox.close();
  });
  /** A gateway's settings on a new SQLite file, with Spidr live at the standalone sandbox. */
  const envOnNewDatabase = () => spidrGatewayEnv(temporarySqliteUrl(), sandbox.url);

  it('should leave the attempt recorded as unfinished, and the next start should mark it so', async () => {
    const env = envOnNewDatabase();
    const account = 'SLOW5000-crash-1';
    const first = await spawnGateway(env);
    const inFlight = call('PUT', `${first.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'CLOSED', reason: 'FRAUD', note: 'killed mid-flight' },
      headers: { 'x-request-id': 'crash-req-1' },
    }).catch((error: unknown) => error);

    // Wait until the provider has the request, then kill the gateway before it can answer.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const calls = await sandboxCalls(sandbox.url);
      if (calls.some((c) => c.method === 'PATCH' && c.url.endsWith(account))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(String(await inFlight)).toMatch(/fetch failed/);

    // What the dead process left: the attempt, written before the provider call, still pending.
    const database = await openDatabase(env.DATABASE_URL);
    const rows = await database.db
      .selectFrom('change_attempts')
      .selectAll()
      .where('account_id', '=', account)
      .execute();
    await database.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      outcome: 'PENDING',
      request_id: 'crash-req-1',
      note: 'killed mid-flight',
    });
    expect(JSON.parse(rows[0].provider_request!)).toMatchObject({
      method: 'PATCH',
      body: { status: 'close_without_refund' },
    });

    const second = await spawnGateway(env);
    try {
      const history = await call('GET', `${second.url}/v1/accounts/spidr/${account}/history`);
      expectHistory(history, 1, {
        outcome: 'UNFINISHED',
        errorCode: 'UNFINISHED',
        requestId: 'crash-req-1',
        status: 'CLOSED',
      });
      expect(second.output()).toMatch(/marked UNFINISHED/);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 30_000);

  it('should resolve a keyed change cut off by a crash from the provider: one write, and the key answers APPLIED', async () => {
    const env = envOnNewDatabase();
    const account = `SLOW500-crash-key-${Date.now()}`;
    const url = (gateway: { url: string }) => `${gateway.url}/v1/accounts/spidr/${account}/status`;
    const request = {
      body: { status: 'CLOSED', reason: 'FRAUD' },
      headers: { 'idempotency-key': `crash-${account}` },
    };
    const patches = async () =>
      (await sandboxCalls(sandbox.url)).filter((c) => c.method === 'PATCH' && c.url.endsWith(account)).length;

    const first = await spawnGateway(env);
    const inFlight = call('PUT', url(first), request).catch((error: unknown) => error);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await patches()) === 0) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await inFlight;
    // The provider finishes the close on its own.
    await new Promise((r) => setTimeout(r, 700));
    expect(
      (
        await call('GET', `${sandbox.url}/v1/account/${account}`, {
          headers: { [SPIDR_API_KEY_HEADER.name]: SPIDR_API_KEY_HEADER.value(SPIDR_SANDBOX_SETTINGS.apiKey) },
        })
      ).body,
    ).toMatchObject({ status: 'closed' });

    const second = await spawnGateway(env);
    try {
      const retried = await call('PUT', url(second), request);
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ outcome: 'APPLIED', status: 'CLOSED' });
      const again = await call('PUT', url(second), request);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(retried.body);
      expect(await patches()).toBe(1);
      const history = await call('GET', `${second.url}/v1/accounts/spidr/${account}/history`);
      expect(history.body.items).toEqual([
        expect.objectContaining({ status: 'CLOSED', outcome: 'APPLIED', changeId: retried.body.changeId }),
      ]);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 30_000);
});
