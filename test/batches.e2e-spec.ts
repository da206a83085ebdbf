/**
 * Batches (CONTRACT §6) end to end over HTTP against the built-in sandboxes, on both engines: validation,
 * scopes, visibility, a mixed batch, ClearGrid grouping counted at the sandbox, idempotency, cancellation.
 */
import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import {
  call,
  expectProblem,
  resetSandbox,
  sandboxCalls,
  startSandbox,
  type StandaloneSandbox,
  useGateway,
} from './support/gateway.js';
import { engines, type TestDatabase } from './support/databases.js';
import { spidrItems, until } from './batches-support.js';

const cases = await engines();

const WRITER = 'writer-key-0123456789';
const CLOSER = 'closer-key-0123456789';
const OTHER = 'other-key-01234567890';
const READER = 'reader-key-0123456789';
const BLIND = 'blind-key-01234567890';
const KEYS = [
  { id: 'reader', key: READER, scopes: ['status:read'] },
  { id: 'blind', key: BLIND, scopes: ['status:write'] },
  { id: 'writer', key: WRITER, scopes: ['status:read', 'status:write'] },
  { id: 'closer', key: CLOSER, scopes: ['status:read', 'status:write', 'status:close'] },
  { id: 'other', key: OTHER, scopes: ['status:read', 'status:write', 'status:close'] },
];
const as = (key: string, extra: Record<string, string> = {}) => ({ 'x-api-key': key, ...extra });

describe.each(cases)('Batches on $engine', ({ fresh }) => {
  let db: TestDatabase;
  const gw = useGateway(
    async () => {
      db = await fresh();
      return { DATABASE_URL: db.url, API_KEYS: JSON.stringify(KEYS) };
    },
    { afterClose: () => db.drop() },
  );
  let clearGridBefore = 0;
  const clearGridCalls = async () => (await sandboxCalls(gw.providerUrl('cleargrid'))).slice(clearGridBefore);
  const post = (body: unknown, key = CLOSER, headers: Record<string, string> = {}) =>
    call('POST', `${gw.url}/v1/batches`, { body, headers: as(key, headers) });
  const finished = (id: string, key = CLOSER) =>
    until(
      () => call('GET', `${gw.url}/v1/batches/${id}`, { headers: as(key) }),
      (r) => r.body?.state !== 'RUNNING',
    );

  beforeEach(async () => {
    // ClearGrid is not reset: a reset revokes its tokens, and the re-login's 401 would show up as an extra call.
    for (const p of ['spidr', 'canopy', 'pismo'] as const) await resetSandbox(gw.providerUrl(p));
    clearGridBefore = (await sandboxCalls(gw.providerUrl('cleargrid'))).length;
  });

  describe('validation', () => {
    it.each([
      [
        'a bad status',
        {
          items: [
            { provider: 'spidr', accountId: 'a-1', status: 'SUSPENDED' },
            { provider: 'spidr', accountId: 'a-2', status: 'NOPE' },
          ],
        },
        'items[1].status',
      ],
      [
        'an unknown provider',
        { items: [{ provider: 'acme', accountId: 'a-1', status: 'SUSPENDED' }] },
        'items[0].provider',
      ],
      [
        'an unknown field',
        { items: [{ provider: 'spidr', accountId: 'a-1', status: 'SUSPENDED', colour: 'red' }] },
        'items[0].colour',
      ],
      [
        'a bad account id',
        { items: [{ provider: 'spidr', accountId: '../x', status: 'SUSPENDED' }] },
        'items[0].accountId',
      ],
      [
        'a ClearGrid item without customerId',
        { items: [{ provider: 'cleargrid', accountId: 'a-1', status: 'DISPUTED' }] },
        'items[0].customerId',
      ],
      [
        'unknown providerOptions',
        { items: [{ provider: 'spidr', accountId: 'a-1', status: 'SUSPENDED', providerOptions: { x: 1 } }] },
        'items[0].providerOptions.x',
      ],
      ['no items', { items: [] }, 'items'],
      ['items not an array', { items: 'x' }, 'items'],
      [
        'too many items',
        {
          items: spidrItems('a', 1001),
        },
        'items',
      ],
    ])(
      'should refuse %s with 400 naming the field, recording and sending nothing',
      async (_name, body, field) => {
        const response = await post(body);
        const problem = expectProblem(response, 400, 'VALIDATION_FAILED');
        expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
        expect(await sandboxCalls(gw.providerUrl('spidr'))).toHaveLength(0);
        expect(await clearGridCalls()).toHaveLength(0);
      },
    );

    it('should refuse bad JSON and a bad Prefer with 400', async () => {
      const bad = await call('POST', `${gw.url}/v1/batches`, { rawBody: '{"items":[', headers: as(CLOSER) });
      expectProblem(bad, 400, 'VALIDATION_FAILED');
      const prefer = await post(
        { items: [{ provider: 'spidr', accountId: 'p-1', status: 'SUSPENDED' }] },
        CLOSER,
        { prefer: 'wait=61' },
      );
      expectProblem(prefer, 400, 'VALIDATION_FAILED');
    });

    it('should refuse a body over 1 MiB with 413', async () => {
      const items = spidrItems('huge', 1000, (i) => ({
        status: 'ACTIVE',
        note: 'x'.repeat(500),
        reason: 'CUSTOMER_REQUEST',
        customerId: `customer-${'c'.repeat(100)}-${i}`,
        padding: 'p'.repeat(500),
      }));
      expect(JSON.stringify({ items }).length).toBeGreaterThan(1024 * 1024);
      // Refused for its size, before any field is looked at (`padding` would be refused too).
      expectProblem(await post({ items }), 413, 'PAYLOAD_TOO_LARGE');
      expect(await sandboxCalls(gw.providerUrl('spidr'))).toHaveLength(0);
    });

    it('should accept a 1,000-item body (over the single-change body limit)', async () => {
      const items = spidrItems('big', 1000, () => ({ status: 'ACTIVE', note: 'x'.repeat(200) }));
      const response = await post({ items });
      expect(response.status).toBe(202);
      expect(response.body.total).toBe(1000);
      const done = await finished(response.body.batchId);
      expect(done.body.counts.APPLIED).toBe(1000);
    }, 60_000);
  });

  describe('scopes and visibility', () => {
    it('should need status:close when any item is CLOSED or final at its provider', async () => {
      const closing = await post(
        {
          items: [
            { provider: 'spidr', accountId: 's-1', status: 'SUSPENDED' },
            { provider: 'spidr', accountId: 's-2', status: 'CLOSED', reason: 'FRAUD' },
          ],
        },
        WRITER,
      );
      expect(expectProblem(closing, 403, 'FORBIDDEN').requiredScope).toBe('status:close');
      expect(await sandboxCalls(gw.providerUrl('spidr'))).toHaveLength(0);
    });

    it('should answer 403 naming the scope a key lacks: status:write to create or cancel, status:read to read', async () => {
      const created = await post(
        { items: [{ provider: 'spidr', accountId: 'f-1', status: 'SUSPENDED' }] },
        WRITER,
      );
      const id = created.body.batchId;
      for (const [method, path, key, scope] of [
        ['POST', '/v1/batches', READER, 'status:write'],
        ['DELETE', `/v1/batches/${id}`, READER, 'status:write'],
        ['GET', `/v1/batches/${id}`, BLIND, 'status:read'],
        ['GET', `/v1/batches/${id}/items`, BLIND, 'status:read'],
      ]) {
        const body =
          method === 'POST'
            ? { items: [{ provider: 'spidr', accountId: 'f-2', status: 'SUSPENDED' }] }
            : undefined;
        const response = await call(method, `${gw.url}${path}`, { body, headers: as(key) });
        expect([method, path, expectProblem(response, 403, 'FORBIDDEN').requiredScope]).toEqual([
          method,
          path,
          scope,
        ]);
      }
      // Only the writer's own item was sent.
      await finished(id, WRITER);
      expect((await sandboxCalls(gw.providerUrl('spidr'))).filter((c) => c.method === 'PATCH')).toHaveLength(
        1,
      );
    });

    it("should answer 404 for another caller's batch, for GET, items and DELETE", async () => {
      const created = await post(
        { items: [{ provider: 'spidr', accountId: 'v-1', status: 'SUSPENDED' }] },
        WRITER,
      );
      expect(created.status).toBe(202);
      const id = created.body.batchId;
      for (const [method, path] of [
        ['GET', `/v1/batches/${id}`],
        ['GET', `/v1/batches/${id}/items`],
        ['DELETE', `/v1/batches/${id}`],
      ]) {
        expectProblem(await call(method, `${gw.url}${path}`, { headers: as(OTHER) }), 404, 'NOT_FOUND');
      }
      expect((await call('GET', `${gw.url}/v1/batches/${id}`, { headers: as(WRITER) })).status).toBe(200);
      expectProblem(
        await call('GET', `${gw.url}/v1/batches/not-an-id`, { headers: as(WRITER) }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  it('should carry out a mixed batch: counts, items in order, history items with batchId', async () => {
    const items = [
      { provider: 'spidr', accountId: 'mix-1', status: 'SUSPENDED', reason: 'FRAUD', note: 'ring' },
      { provider: 'canopy', accountId: 'mix-2', status: 'SUSPENDED', reason: 'RISK_REVIEW' },
      { provider: 'cleargrid', accountId: 'mix-3', customerId: 'cust-3', status: 'DO_NOT_CONTACT' },
      { provider: 'pismo', accountId: 'mix-4', status: 'SUSPENDED', reason: 'FRAUD' },
      { provider: 'spidr', accountId: 'NOTFOUND-mix-5', status: 'SUSPENDED' },
      { provider: 'cleargrid', accountId: 'mix-6', customerId: 'cust-6', status: 'ACTIVE' },
    ];
    const response = await post({ items }, CLOSER, { prefer: 'wait=20', 'x-request-id': 'batch-req-1' });
    expect(response.status).toBe(200);
    expect(response.headers.get('preference-applied')).toBe('wait=20');
    expect(response.headers.get('location')).toBe(`/v1/batches/${response.body.batchId}`);
    expect(response.body).toMatchObject({
      state: 'DONE',
      total: 6,
      counts: { PENDING: 0, APPLIED: 3, ACCEPTED: 1, FAILED: 2, UNFINISHED: 0, CANCELLED: 0 },
    });
    expect(response.body.completedAt).not.toBeNull();
    const page = await call('GET', `${gw.url}/v1/batches/${response.body.batchId}/items`, {
      headers: as(CLOSER),
    });
    expect(page.body.items.map((i: { index: number }) => i.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(page.body.items[0]).toMatchObject({
      provider: 'spidr',
      outcome: 'APPLIED',
      providerStatus: 'suspended',
      error: null,
    });
    expect(page.body.items[2]).toMatchObject({ outcome: 'ACCEPTED', providerStatus: 6 });
    expect(page.body.items[4]).toMatchObject({
      outcome: 'FAILED',
      error: { code: 'ACCOUNT_NOT_FOUND', status: 404, provider: { id: 'spidr' } },
    });
    expect(page.body.items[5]).toMatchObject({
      outcome: 'FAILED',
      changeId: expect.any(String),
      error: { code: 'STATUS_NOT_SUPPORTED' },
    });
    const history = await call('GET', `${gw.url}/v1/accounts/spidr/mix-1/history`, { headers: as(CLOSER) });
    expect(history.body.items[0]).toMatchObject({
      changeId: page.body.items[0].changeId,
      batchId: response.body.batchId,
      requestId: 'batch-req-1',
      callerId: 'closer',
      note: 'ring',
      outcome: 'APPLIED',
    });
    // STATUS_NOT_SUPPORTED is recorded like a single change.
    const refused = await call('GET', `${gw.url}/v1/accounts/cleargrid/mix-6/history`, {
      headers: as(CLOSER),
    });
    expect(refused.body.items[0]).toMatchObject({
      outcome: 'FAILED',
      errorCode: 'STATUS_NOT_SUPPORTED',
      batchId: response.body.batchId,
    });
    const failures = await call('GET', `${gw.url}/v1/batches/${response.body.batchId}/items?outcome=FAILED`, {
      headers: as(CLOSER),
    });
    expect(failures.body.items.map((i: { index: number }) => i.index)).toEqual([4, 5]);
  }, 30_000);

  it('should send 250 ClearGrid items as 3 requests and map per-account errors back to their items', async () => {
    const items = Array.from({ length: 250 }, (_, i) => ({
      provider: 'cleargrid',
      accountId: i === 7 ? 'NOTFOUND-cg-7' : i === 120 ? 'CLOSED-cg-120' : `cg-${i}`,
      customerId: `cust-${i}`,
      status: 'DISPUTED',
    }));
    const response = await post({ items }, CLOSER, { prefer: 'wait=30' });
    expect(response.status).toBe(200);
    expect(response.body.counts).toMatchObject({ ACCEPTED: 248, FAILED: 2 });
    const writes = (await clearGridCalls()).filter((c) => c.url.endsWith('/update-status'));
    // 3 requests of ≤ 100 accounts, plus one re-send of each refused request without the accounts it named.
    expect(writes.map((c) => (c.body as { accounts: unknown[] }).accounts.length)).toEqual([
      100, 99, 100, 99, 50,
    ]);
    const sent = writes.flatMap((c) =>
      (c.body as { accounts: Array<{ accountId: string }> }).accounts.map((a) => a.accountId),
    );
    expect(new Set(sent).size).toBe(250);
    const failed = await call('GET', `${gw.url}/v1/batches/${response.body.batchId}/items?outcome=FAILED`, {
      headers: as(CLOSER),
    });
    expect(failed.body.items).toEqual([
      expect.objectContaining({
        index: 7,
        error: expect.objectContaining({
          code: 'ACCOUNT_NOT_FOUND',
          provider: expect.objectContaining({ message: 'Account not found' }),
        }),
      }),
      expect.objectContaining({ index: 120, error: expect.objectContaining({ code: 'ACCOUNT_CLOSED' }) }),
    ]);
  }, 60_000);

  it('should send 250 clean ClearGrid items as exactly 3 requests', async () => {
    const items = Array.from({ length: 250 }, (_, i) => ({
      provider: 'cleargrid',
      accountId: `cl-${i}`,
      customerId: `c-${i}`,
      status: 'DO_NOT_CONTACT',
    }));
    const response = await post({ items }, CLOSER, { prefer: 'wait=30' });
    expect(response.body.counts.ACCEPTED).toBe(250);
    const writes = (await clearGridCalls()).filter((c) => c.url.endsWith('/update-status'));
    expect(writes).toHaveLength(3);
  }, 60_000);

  it('should replay the same batch for the same key and body, and refuse another body with 422', async () => {
    const body = { items: [{ provider: 'spidr', accountId: 'idem-1', status: 'SUSPENDED' }] };
    const first = await post(body, CLOSER, { 'idempotency-key': 'batch-key-1', prefer: 'wait=10' });
    expect(first.status).toBe(200);
    const again = await post(body, CLOSER, { 'idempotency-key': 'batch-key-1' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ batchId: first.body.batchId, state: 'DONE', counts: { APPLIED: 1 } });
    const patches = (await sandboxCalls(gw.providerUrl('spidr'))).filter((c) => c.method === 'PATCH');
    expect(patches).toHaveLength(1);
    const other = await post(
      { items: [{ provider: 'spidr', accountId: 'idem-2', status: 'SUSPENDED' }] },
      CLOSER,
      { 'idempotency-key': 'batch-key-1' },
    );
    expectProblem(other, 422, 'IDEMPOTENCY_KEY_REUSED');
    // Keys are per caller.
    const otherCaller = await post(body, OTHER, { 'idempotency-key': 'batch-key-1', prefer: 'wait=10' });
    expect(otherCaller.status).toBe(200);
    expect(otherCaller.body.batchId).not.toBe(first.body.batchId);
  }, 30_000);

  it('should cancel the items not started while a provider is slow, let those in flight finish, and not hold back another provider', async () => {
    const spidr = gw.providerUrl('spidr');
    await fetch(`${spidr}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ match: { method: 'PATCH' }, fault: 'latency', delayMs: 1500 }),
    });
    // More Spidr items than run at once (the bulkhead, 64 by default), then one Canopy item.
    const items = [
      ...spidrItems('slow', 100),
      { provider: 'canopy', accountId: 'fast-1', status: 'SUSPENDED', reason: 'FRAUD' },
    ];
    const created = await post({ items });
    const id = created.body.batchId;
    await until(
      () => call('GET', `${gw.url}/v1/batches/${id}/items?outcome=APPLIED`, { headers: as(CLOSER) }),
      (r) => r.body.items.length === 1,
      5000,
    );
    const fastOne = await call('GET', `${gw.url}/v1/batches/${id}/items?outcome=APPLIED`, {
      headers: as(CLOSER),
    });
    expect(fastOne.body.items).toEqual([expect.objectContaining({ provider: 'canopy', index: 100 })]);
    const cancelled = await call('DELETE', `${gw.url}/v1/batches/${id}`, { headers: as(CLOSER) });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.counts.CANCELLED).toBeGreaterThan(0);
    const done = await finished(id);
    expect(done.body.state).toBe('CANCELLED');
    const { counts } = done.body;
    expect(counts.APPLIED + counts.CANCELLED).toBe(101);
    await fetch(`${spidr}/__sandbox/faults`, { method: 'DELETE' });
    const patches = (await sandboxCalls(spidr)).filter((c) => c.method === 'PATCH');
    expect(patches).toHaveLength(counts.APPLIED - 1);
    const cancelledItems = await call(
      'GET',
      `${gw.url}/v1/batches/${id}/items?outcome=CANCELLED&limit=1000`,
      { headers: as(CLOSER) },
    );
    const sentIds = new Set(patches.map((c) => c.url.split('/').pop()));
    for (const item of cancelledItems.body.items) expect(sentIds.has(item.accountId)).toBe(false);
  }, 60_000);

  it('should count batch items by outcome in /metrics, with the running and waiting gauges', async () => {
    const items = [
      { provider: 'spidr', accountId: 'met-1', status: 'SUSPENDED' },
      { provider: 'spidr', accountId: 'NOTFOUND-met-2', status: 'SUSPENDED' },
    ];
    const created = await post({ items }, CLOSER, { prefer: 'wait=10' });
    expect(created.status).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (line: RegExp) => Number(line.exec(metrics)?.[1] ?? NaN);
    expect(
      value(/^statusgate_batch_items_total\{provider="spidr",outcome="APPLIED"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^statusgate_batch_items_total\{provider="spidr",outcome="FAILED"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(value(/^statusgate_batches_running (\d+)/m)).toBe(0);
    expect(value(/^statusgate_batch_items_waiting (\d+)/m)).toBe(0);
    // The items count as status changes too, like single changes.
    expect(metrics).toMatch(
      /statusgate_status_changes_total\{provider="spidr",status="SUSPENDED",outcome="FAILED",code="ACCOUNT_NOT_FOUND"\}/,
    );
  });

  it('should page items in request order with a cursor', async () => {
    const items = spidrItems('pg', 5, () => ({ status: 'ACTIVE' }));
    const created = await post({ items }, CLOSER, { prefer: 'wait=10' });
    const first = await call('GET', `${gw.url}/v1/batches/${created.body.batchId}/items?limit=2`, {
      headers: as(CLOSER),
    });
    expect(first.body.items.map((i: { index: number }) => i.index)).toEqual([0, 1]);
    const second = await call(
      'GET',
      `${gw.url}/v1/batches/${created.body.batchId}/items?limit=2&cursor=${first.body.nextCursor}`,
      { headers: as(CLOSER) },
    );
    expect(second.body.items.map((i: { index: number }) => i.index)).toEqual([2, 3]);
    const last = await call(
      'GET',
      `${gw.url}/v1/batches/${created.body.batchId}/items?limit=2&cursor=${second.body.nextCursor}`,
      { headers: as(CLOSER) },
    );
    expect(last.body).toMatchObject({ items: [expect.objectContaining({ index: 4 })], nextCursor: null });
    expectProblem(
      await call('GET', `${gw.url}/v1/batches/${created.body.batchId}/items?cursor=zzz`, {
        headers: as(CLOSER),
      }),
      400,
      'VALIDATION_FAILED',
    );
  });
});

describe('Batch items of unwell or disabled providers', () => {
  let spidr: StandaloneSandbox;
  const gw = useGateway(
    async () => {
      spidr = await startSandbox('spidr');
      // Canopy, Pismo and ClearGrid disabled (no base URL, no sandbox); Spidr "live" at its own sandbox.
      return {
        SANDBOX: 'false',
        SPIDR_BASE_URL: spidr.url,
        SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
        API_KEYS: JSON.stringify(KEYS),
        CIRCUIT_FAILURE_THRESHOLD: '3',
        CIRCUIT_HALF_OPEN_AFTER_MS: '60000',
        PROVIDER_MAX_ATTEMPTS: '1',
      };
    },
    { afterClose: () => spidr.close() },
  );

  it('should fail an item of a disabled provider alone as PROVIDER_NOT_FOUND, without a change record', async () => {
    const items = [
      { provider: 'canopy', accountId: 'dis-1', status: 'SUSPENDED', reason: 'FRAUD' },
      { provider: 'spidr', accountId: 'dis-2', status: 'SUSPENDED' },
    ];
    const response = await call('POST', `${gw.url}/v1/batches`, {
      body: { items },
      headers: as(CLOSER, { prefer: 'wait=10' }),
    });
    expect(response.status).toBe(200);
    expect(response.body.counts).toMatchObject({ APPLIED: 1, FAILED: 1 });
    const page = await call('GET', `${gw.url}/v1/batches/${response.body.batchId}/items`, {
      headers: as(CLOSER),
    });
    expect(page.body.items[0]).toMatchObject({
      outcome: 'FAILED',
      changeId: null,
      error: { code: 'PROVIDER_NOT_FOUND', status: 404 },
    });
    expect(page.body.items[1]).toMatchObject({ outcome: 'APPLIED', changeId: expect.any(String) });
  });

  it('should fail the remaining items fast with PROVIDER_UNAVAILABLE once the circuit opens', async () => {
    await resetSandbox(spidr.url);
    await fetch(`${spidr.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ match: { method: 'PATCH' }, fault: 'status', status: 503 }),
    });
    // One account: its items run one after the other, so the breaker sees the failures in turn.
    const items = Array.from({ length: 20 }, () => ({
      provider: 'spidr',
      accountId: 'circuit-1',
      status: 'SUSPENDED',
    }));
    const response = await call('POST', `${gw.url}/v1/batches`, {
      body: { items },
      headers: as(CLOSER, { prefer: 'wait=30' }),
    });
    expect(response.status).toBe(200);
    expect(response.body.counts.FAILED).toBe(20);
    const page = await call('GET', `${gw.url}/v1/batches/${response.body.batchId}/items`, {
      headers: as(CLOSER),
    });
    const codes = page.body.items.map((i: { error: { code: string } }) => i.error.code);
    expect(codes.slice(0, 3)).toEqual(['PROVIDER_ERROR', 'PROVIDER_ERROR', 'PROVIDER_ERROR']);
    expect(new Set(codes.slice(3))).toEqual(new Set(['PROVIDER_UNAVAILABLE']));
    // The open circuit sent nothing more: only the calls that opened it reached Spidr.
    const patches = (await sandboxCalls(spidr.url)).filter((c) => c.method === 'PATCH');
    expect(patches).toHaveLength(3);
    await fetch(`${spidr.url}/__sandbox/faults`, { method: 'DELETE' });
  }, 60_000);
});
