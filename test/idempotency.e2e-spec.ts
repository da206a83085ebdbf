import { describeEachEngine, describeWithPostgres, engines, type TestDatabase } from './support/databases.js';
import {
  call,
  expectProblem,
  sandboxCalls,
  startGateway,
  temporarySqliteUrl,
  type StandaloneSandbox,
  type TestGateway,
  useGateway,
} from './support/gateway.js';
import { IN_PROCESS, useReplicas } from './support/replicas.js';

const cases = await engines();
let seq = 0;
const unique = (prefix: string) => `${prefix}${++seq}-${Date.now().toString(36)}`;

async function writesTo(gw: TestGateway | StandaloneSandbox, accountId: string): Promise<number> {
  const base = 'providerUrl' in gw ? gw.providerUrl('spidr') : gw.url;
  const calls = await sandboxCalls(base);
  return calls.filter((c) => c.method === 'PATCH' && c.url === `/v1/account/${accountId}`).length;
}

describeEachEngine(cases, 'Idempotency and history on $engine', ({ fresh }) => {
  let db: TestDatabase;
  const gw = useGateway(
    async () => {
      db = await fresh();
      return { DATABASE_URL: db.url };
    },
    { afterClose: () => db.drop() },
  );
  const put = (account: string, body: unknown, headers: Record<string, string> = {}, query = '') =>
    call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status${query}`, { body, headers });

  /** Sends a change twice under one new key: the second answer must replay the first, with one provider write. */
  async function sentTwice(account: string, body: unknown, again: unknown = body) {
    const key = unique('key-');
    const answers = {
      first: await put(account, body, { 'idempotency-key': key }),
      again: await put(account, again, { 'idempotency-key': key }),
    };
    expect(answers.again.headers.get('idempotent-replayed')).toBe('true');
    expect(answers.again.body).toEqual(answers.first.body);
    expect(await writesTo(gw, account)).toBe(1);
    return answers;
  }

  describe('Idempotency-Key', () => {
    it('should replay the first answer without calling the provider again', async () => {
      const account = unique('idem-');
      const { first, again } = await sentTwice(
        account,
        { status: 'SUSPENDED', reason: 'FRAUD' },
        { reason: 'FRAUD', status: 'SUSPENDED' },
      );
      expect(first.status).toBe(200);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect(again.status).toBe(200);
    });

    it('should refuse the same key with a different request', async () => {
      const account = unique('idem-');
      const key = unique('key-');
      expect((await put(account, { status: 'SUSPENDED' }, { 'idempotency-key': key })).status).toBe(200);
      const reused = await put(account, { status: 'ACTIVE' }, { 'idempotency-key': key });
      expect(expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED').retryable).toBe(false);
      const otherAccount = await put(unique('idem-'), { status: 'SUSPENDED' }, { 'idempotency-key': key });
      expectProblem(otherAccount, 422, 'IDEMPOTENCY_KEY_REUSED');
      expect(await writesTo(gw, account)).toBe(1);
    });

    it('should answer 409 while the first request with the key is still running', async () => {
      const account = unique('SLOW700-idem-');
      const key = unique('key-');
      const first = put(account, { status: 'DELINQUENT' }, { 'idempotency-key': key });
      await new Promise((r) => setTimeout(r, 200));
      const second = await put(account, { status: 'DELINQUENT' }, { 'idempotency-key': key });
      expect(expectProblem(second, 409, 'IDEMPOTENCY_IN_PROGRESS').retryable).toBe(true);
      expect((await first).status).toBe(200);
      const third = await put(account, { status: 'DELINQUENT' }, { 'idempotency-key': key });
      expect(third.headers.get('idempotent-replayed')).toBe('true');
      expect(await writesTo(gw, account)).toBe(1);
    });

    it('should call the provider once and record one attempt when many requests race on one new key', async () => {
      for (let round = 0; round < 3; round++) {
        const account = unique('SLOW800-race-');
        const key = unique('race-key-');
        // Sent together, all of them find the key unused and race to claim it with their first record. The
        // provider takes 800 ms so that, even on a loaded machine, all eight arrive while the first runs.
        const results = await Promise.all(
          Array.from({ length: 8 }, () =>
            put(account, { status: 'SUSPENDED', reason: 'RISK_REVIEW' }, { 'idempotency-key': key }),
          ),
        );
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
        for (const loser of results.filter((r) => r.status === 409))
          expectProblem(loser, 409, 'IDEMPOTENCY_IN_PROGRESS');
        expect(await writesTo(gw, account)).toBe(1);
        const history = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history`);
        expect((history.body as { items: unknown[] }).items).toHaveLength(1);
        const replayed = await put(
          account,
          { status: 'SUSPENDED', reason: 'RISK_REVIEW' },
          { 'idempotency-key': key },
        );
        expect(replayed.headers.get('idempotent-replayed')).toBe('true');
      }
    }, 20_000);

    it('should store a final refusal and replay it', async () => {
      const account = unique('NOTFOUND-idem-');
      const { first, again } = await sentTwice(account, { status: 'SUSPENDED' });
      expectProblem(first, 404, 'ACCOUNT_NOT_FOUND');
      expectProblem(again, 404, 'ACCOUNT_NOT_FOUND');
    });

    it('should record a refusal found before any provider call once, with its key, and replay it', async () => {
      const account = unique('idem-');
      const key = unique('key-');
      const first = await put(account, { status: 'DISPUTED' }, { 'idempotency-key': key });
      expectProblem(first, 422, 'STATUS_NOT_SUPPORTED');
      const again = await put(account, { status: 'DISPUTED' }, { 'idempotency-key': key });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      const history = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history`);
      expect((history.body as { items: unknown[] }).items).toEqual([
        expect.objectContaining({ status: 'DISPUTED', outcome: 'FAILED', errorCode: 'STATUS_NOT_SUPPORTED' }),
      ]);
      expect(await writesTo(gw, account)).toBe(0);
    });

    it('should not store a failure the caller should retry', async () => {
      const account = unique('ERROR500-idem-');
      const key = unique('key-');
      expectProblem(
        await put(account, { status: 'SUSPENDED' }, { 'idempotency-key': key }),
        502,
        'PROVIDER_ERROR',
      );
      const afterFirst = await writesTo(gw, account);
      const again = await put(account, { status: 'SUSPENDED' }, { 'idempotency-key': key });
      expectProblem(again, 502, 'PROVIDER_ERROR');
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      // Each request tried the provider again (with its own retries): nothing was stored as final.
      expect(afterFirst).toBeGreaterThanOrEqual(1);
      expect(await writesTo(gw, account)).toBe(2 * afterFirst);
    });

    it('should ignore the key on a dry run and refuse a malformed key', async () => {
      const account = unique('idem-');
      const key = unique('key-');
      const dry = await put(account, { status: 'ACTIVE' }, { 'idempotency-key': key }, '?dryRun=true');
      expect(dry.body.dryRun).toBe(true);
      const real = await put(account, { status: 'ACTIVE' }, { 'idempotency-key': key });
      expect(real.status).toBe(200);
      expect(real.headers.get('idempotent-replayed')).toBeNull();
      const bad = await put(account, { status: 'ACTIVE' }, { 'idempotency-key': 'k'.repeat(256) });
      expect(expectProblem(bad, 400, 'VALIDATION_FAILED').errors[0].field).toBe('Idempotency-Key');
    });
  });

  describe('GET …/history', () => {
    it('should list every valid attempt newest first, with failures and without dry runs', async () => {
      const account = unique('hist-');
      expect((await put(account, { status: 'SUSPENDED', reason: 'FRAUD', note: 'first' })).status).toBe(200);
      expect((await put(account, { status: 'DELINQUENT' })).status).toBe(200);
      expectProblem(await put(account, { status: 'DISPUTED' }), 422, 'STATUS_NOT_SUPPORTED');
      await put(account, { status: 'ACTIVE' }, {}, '?dryRun=true');
      expect((await put(account, { status: 'ACTIVE' }, { 'x-request-id': 'hist-last' })).status).toBe(200);

      const page = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history`);
      expect(page.status).toBe(200);
      expect(page.body.items.map((i: any) => [i.status, i.outcome, i.errorCode])).toEqual([
        ['ACTIVE', 'APPLIED', null],
        ['DISPUTED', 'FAILED', 'STATUS_NOT_SUPPORTED'],
        ['DELINQUENT', 'APPLIED', null],
        ['SUSPENDED', 'APPLIED', null],
      ]);
      const [last, refused, , first] = page.body.items;
      expect(last).toMatchObject({ requestId: 'hist-last', callerId: 'anonymous', providerHttpStatus: 200 });
      expect(last.providerRequest).toEqual({
        method: 'PATCH',
        url: `${gw.providerUrl('spidr')}/v1/account/${account}`,
        body: { status: 'active' },
      });
      expect(typeof last.latencyMs).toBe('number');
      expect(refused.providerRequest).toBeNull();
      expect(first).toMatchObject({ reason: 'FRAUD', note: 'first' });
      expect(page.body.nextCursor).toBeNull();
    });

    it('should paginate with a cursor and refuse bad paging values', async () => {
      const account = unique('page-');
      for (const status of ['SUSPENDED', 'ACTIVE', 'DELINQUENT', 'ACTIVE', 'SUSPENDED']) {
        expect((await put(account, { status })).status).toBe(200);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history${query}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((i: any) => i.status));
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(['SUSPENDED', 'ACTIVE', 'DELINQUENT', 'ACTIVE', 'SUSPENDED']);
      expect(pages).toBe(3);
      const history = `${gw.url}/v1/accounts/spidr/${account}/history`;
      expectProblem(await call('GET', `${history}?limit=0`), 400, 'VALIDATION_FAILED');
      expectProblem(await call('GET', `${history}?limit=101`), 400, 'VALIDATION_FAILED');
      expectProblem(await call('GET', `${history}?cursor=bogus`), 400, 'VALIDATION_FAILED');
    });
  });
});

describe('Idempotency keys are scoped per caller', () => {
  const keys = [
    { id: 'caller-a', key: 'caller-a-secret-key-000', scopes: ['status:read', 'status:write'] },
    { id: 'caller-b', key: 'caller-b-secret-key-000', scopes: ['status:read', 'status:write'] },
  ];
  const gw = useGateway({ API_KEYS: JSON.stringify(keys) });

  it('should let two callers use the same key independently', async () => {
    const account = unique('scope-');
    for (const k of keys) {
      const res = await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
        body: { status: 'SUSPENDED' },
        headers: { 'idempotency-key': 'same-key', 'x-api-key': k.key },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
    }
    expect(await writesTo(gw, account)).toBe(2);
    const history = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history`, {
      headers: { 'x-api-key': keys[0].key },
    });
    expect(history.body.items.map((i: any) => i.callerId).sort()).toEqual(['caller-a', 'caller-b']);
  });
});

describe('Data survives a restart', () => {
  it('should keep history and the last known ClearGrid status in the SQLite file', async () => {
    const url = temporarySqliteUrl();
    const first = await startGateway({ DATABASE_URL: url });
    const put = await call('PUT', `${first.url}/v1/accounts/cleargrid/restart-1/status`, {
      body: { status: 'DO_NOT_CONTACT', customerId: 'cust-1' },
    });
    expect(put.status).toBe(202);
    await first.close();
    const second = await startGateway({ DATABASE_URL: url });
    try {
      const status = await call('GET', `${second.url}/v1/accounts/cleargrid/restart-1/status`);
      expect(status.body).toMatchObject({ status: 'DO_NOT_CONTACT', providerStatus: 6, source: 'gateway' });
      const history = await call('GET', `${second.url}/v1/accounts/cleargrid/restart-1/history`);
      expect(history.body.items).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});

await describeWithPostgres('Two gateways on one PostgreSQL', () => {
  const cluster = useReplicas(IN_PROCESS);

  it('should call the provider once when both receive the same key at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const account = unique('SLOW500-race-');
      const key = unique('race-key-');
      const send = (gw: TestGateway) =>
        call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
          body: { status: 'SUSPENDED', reason: 'RISK_REVIEW' },
          headers: { 'idempotency-key': key },
        });
      const [a, b] = cluster.replicas;
      const results = await Promise.all([send(a), send(b)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(await writesTo(cluster.sandbox, account)).toBe(1);
      // Once the winner has finished, either replica replays its answer.
      const replayed = await send(round % 2 === 0 ? a : b);
      expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    }
  }, 20_000);

  it('should show the history written through either replica on both', async () => {
    const account = unique('shared-');
    const [a, b] = cluster.replicas;
    await call('PUT', `${a.url}/v1/accounts/spidr/${account}/status`, { body: { status: 'SUSPENDED' } });
    await call('PUT', `${b.url}/v1/accounts/spidr/${account}/status`, { body: { status: 'ACTIVE' } });
    for (const gw of [a, b]) {
      const history = await call('GET', `${gw.url}/v1/accounts/spidr/${account}/history`);
      expect(history.body.items.map((i: any) => i.status)).toEqual(['ACTIVE', 'SUSPENDED']);
    }
  });
});
