/**
 * The drift watch (CONTRACT §8) end to end: the real gateway over HTTP, the real sandboxes, and accounts
 * changed behind the gateway's back through the sandboxes' status control route. Runs are started with
 * DriftWatch.runOnce (RECONCILE_INTERVAL_MS=0) except where the timer itself is under test.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import { DriftWatch, type DriftRunReport } from '../src/services/drift-watch.js';
import { call, sandboxCalls, useGateway } from './support/gateway.js';
import { driftedEvents, metric, metricsText } from './support/drift.js';

describe(DriftWatch.name, () => {
  const gw = useGateway({ RECONCILE_INTERVAL_MS: '0' });
  let spidr: string;
  let pismo: string;
  const run = (): Promise<DriftRunReport> => gw.gateway.app.get(DriftWatch).runOnce();
  const put = (provider: string, account: string, body: unknown) =>
    call('PUT', `${gw.url}/v1/accounts/${provider}/${account}/status`, { body });
  /** A change through the gateway that the provider applied (200): the watch's new expectation. */
  const applied = async (provider: string, account: string, body: unknown) =>
    expect((await put(provider, account, body)).status).toBe(200);
  const read = (provider: string, account: string) =>
    call('GET', `${gw.url}/v1/accounts/${provider}/${account}/status`);
  /** A live read that knows the expectation and finds the provider in sync with it. */
  const expectInSync = async (provider: string, account: string, expectedStatus: string) =>
    expect((await read(provider, account)).body).toMatchObject({ expectedStatus, inSync: true });
  /** Changes the account at the provider only: the gateway is not told. */
  const behindTheBack = async (base: string, account: string, body: unknown) => {
    const answer = await call('PUT', `${base}/__sandbox/accounts/${account}/status`, { body });
    expect(answer.status).toBe(200);
  };
  const reads = async (base: string, account: string) =>
    (await sandboxCalls(base)).filter((c) => c.method === 'GET' && c.url.includes(account)).length;

  beforeAll(() => {
    spidr = gw.providerUrl('spidr');
    pismo = gw.providerUrl('pismo');
  });

  it('should find an account changed behind its back: one event, counted, and inSync false on a live read', async () => {
    await applied('spidr', 'drift-1', { status: 'SUSPENDED', reason: 'FRAUD' });
    const changeId = (await call('GET', `${gw.url}/v1/accounts/spidr/drift-1/history`)).body.items[0]
      .changeId;
    await behindTheBack(spidr, 'drift-1', { status: 'active' });
    const before = metric(await metricsText(gw), 'statusgate_drift_found_total{provider="spidr"}') ?? 0;

    const report = await run();

    expect(report.leader).toBe(true);
    expect(report.providers.spidr?.drifted).toBe(1);
    expect(await driftedEvents(gw, 'spidr', 'drift-1')).toEqual([
      {
        provider: 'spidr',
        accountId: 'drift-1',
        expectedStatus: 'SUSPENDED',
        observedStatus: 'ACTIVE',
        observedProviderStatus: { status: 'active', statusReason: null },
        lastChangeId: changeId,
      },
    ]);
    const text = await metricsText(gw);
    expect(metric(text, 'statusgate_drift_found_total{provider="spidr"}')).toBe(before + 1);
    expect(metric(text, 'statusgate_drift_checks_total{provider="spidr",result="drifted"}')).toBeGreaterThan(
      0,
    );
    const live = await read('spidr', 'drift-1');
    expect(live.body).toMatchObject({ status: 'ACTIVE', expectedStatus: 'SUSPENDED', inSync: false });
  });

  it('should record nothing for an account in sync, and answer inSync true', async () => {
    await applied('spidr', 'drift-2', { status: 'DELINQUENT' });
    await applied('pismo', 'drift-2', { status: 'SUSPENDED', reason: 'FRAUD' });
    await run();
    expect(await reads(spidr, 'drift-2')).toBe(1);
    expect(await reads(pismo, 'drift-2')).toBe(1);
    expect(await driftedEvents(gw, 'spidr', 'drift-2')).toEqual([]);
    expect(await driftedEvents(gw, 'pismo', 'drift-2')).toEqual([]);
    await expectInSync('spidr', 'drift-2', 'DELINQUENT');
  });

  it('should answer expectedStatus and inSync null when the gateway never applied a change to the account', async () => {
    expect((await read('canopy', 'drift-never')).body).toMatchObject({
      source: 'provider',
      expectedStatus: null,
      inSync: null,
    });
    // ClearGrid has no live read: its answer is the gateway's record, without either field.
    expect((await put('cleargrid', 'drift-cg', { status: 'DISPUTED', customerId: 'debtor-1' })).status).toBe(
      202,
    );
    const cleargrid = await read('cleargrid', 'drift-cg');
    expect(cleargrid.body.source).toBe('gateway');
    expect(cleargrid.body).not.toHaveProperty('inSync');
  });

  it('should record one event per newly observed value, and none when a later run sees the same value', async () => {
    await applied('spidr', 'drift-3', { status: 'SUSPENDED' });
    await behindTheBack(spidr, 'drift-3', { status: 'active' });
    await run();
    await run();
    expect((await driftedEvents(gw, 'spidr', 'drift-3')).map((e) => e.observedStatus)).toEqual(['ACTIVE']);
    // Another value, then one the gateway has no canonical name for: one event each.
    await behindTheBack(spidr, 'drift-3', { status: 'delinquent' });
    await run();
    await behindTheBack(spidr, 'drift-3', { status: 'frozen' });
    await run();
    await run();
    const events = await driftedEvents(gw, 'spidr', 'drift-3');
    expect(events.map((e) => [e.observedStatus, e.observedProviderStatus])).toEqual([
      ['ACTIVE', { status: 'active', statusReason: null }],
      ['DELINQUENT', { status: 'delinquent', statusReason: null }],
      [null, { status: 'frozen', statusReason: null }],
    ]);
    expect(await reads(spidr, 'drift-3')).toBe(5);
  });

  it('should take a later change through the gateway as the new expectation', async () => {
    await applied('spidr', 'drift-4', { status: 'SUSPENDED' });
    await behindTheBack(spidr, 'drift-4', { status: 'delinquent' });
    await run();
    expect(await driftedEvents(gw, 'spidr', 'drift-4')).toHaveLength(1);
    await applied('spidr', 'drift-4', { status: 'DELINQUENT' });
    await run();
    expect(await driftedEvents(gw, 'spidr', 'drift-4')).toHaveLength(1);
    await expectInSync('spidr', 'drift-4', 'DELINQUENT');
    // A failed attempt afterwards does not move the expectation.
    await call('POST', `${spidr}/__sandbox/faults`, {
      body: { match: { accountId: 'drift-4', method: 'PATCH' }, fault: 'status', status: 400, times: 1 },
    });
    expect((await put('spidr', 'drift-4', { status: 'SUSPENDED' })).status).toBe(422);
    await run();
    expect(await driftedEvents(gw, 'spidr', 'drift-4')).toHaveLength(1);
    await expectInSync('spidr', 'drift-4', 'DELINQUENT');
  });

  it('should report a Pismo account the dormancy rules moved (no canonical name: observedStatus null)', async () => {
    await applied('pismo', 'drift-6', { status: 'SUSPENDED', reason: 'FRAUD' });
    await behindTheBack(pismo, 'drift-6', { status: 'DORMANT' });
    await run();
    expect(await driftedEvents(gw, 'pismo', 'drift-6')).toEqual([
      expect.objectContaining({
        expectedStatus: 'SUSPENDED',
        observedStatus: null,
        observedProviderStatus: 'DORMANT',
      }),
    ]);
    expect((await read('pismo', 'drift-6')).body).toMatchObject({
      status: null,
      expectedStatus: 'SUSPENDED',
      inSync: false,
    });
  });

  it('should give drifted events in the feed the schema the OpenAPI document declares for it', async () => {
    const page = await call('GET', `${gw.url}/v1/events?type=account.status.drifted&limit=1000`);
    expect(page.body.items.length).toBeGreaterThan(1);
    expect(page.body.items.some((e: any) => e.data.observedStatus === null)).toBe(true);
    const doc = JSON.parse(readFileSync('openapi.json', 'utf8'));
    const schema = doc.paths['/v1/events'].get.responses['200'].content['application/json'].schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    formats.default(ajv); // ajv-formats is CommonJS: its function is the default export under NodeNext
    const validate = ajv.compile({ ...schema, components: doc.components });
    expect(validate(page.body) ? [] : validate.errors).toEqual([]);
    // A drifted event with a status its schema does not allow fails the same check.
    const tampered = structuredClone(page.body);
    tampered.items[0].data.observedStatus = 'NOT_A_STATUS';
    expect(validate(tampered)).toBe(false);
  });

  it('should never read ClearGrid (no live read) and skip accounts whose changes are older than the window', async () => {
    // An account applied 31 days ago (RECONCILE_WINDOW_DAYS is 30), written as the gateway writes its records.
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await gw.gateway.store.database.db
      .insertInto('change_attempts')
      .values({
        change_id: '00000000-0000-7000-8000-000000000001',
        provider: 'spidr',
        account_id: 'drift-old',
        customer_id: null,
        caller_id: 'anonymous',
        request_id: 'old',
        status: 'SUSPENDED',
        reason: null,
        note: null,
        idempotency_key: null,
        provider_request: null,
        outcome: 'APPLIED',
        error_code: null,
        provider_http_status: 200,
        provider_code: null,
        provider_message: null,
        provider_status: '"suspended"',
        latency_ms: 1,
        instance_id: gw.gateway.store.instanceId,
        created_at: old,
        completed_at: old,
        batch_id: null,
      })
      .execute();
    const report = await run();
    expect(await reads(spidr, 'drift-old')).toBe(0);
    expect(Object.keys(report.providers).sort()).toEqual(['canopy', 'pismo', 'spidr']);
    expect((await sandboxCalls(gw.providerUrl('cleargrid'))).filter((c) => c.method === 'GET')).toEqual([]);
  });

  it('should refuse a malformed status control body with 400', async () => {
    const bad = await call('PUT', `${spidr}/__sandbox/accounts/x/status`, { body: { status: 5 } });
    expect(bad.status).toBe(400);
    const unknown = await call('PUT', `${gw.providerUrl('canopy')}/__sandbox/accounts/x/status`, {
      body: { status: 'ACTIVE' },
    });
    expect(unknown).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/unknown field status/) },
    });
  });
});

describe('DriftWatch while a circuit is open', () => {
  const gw = useGateway({
    RECONCILE_INTERVAL_MS: '0',
    CIRCUIT_FAILURE_THRESHOLD: '2',
    CIRCUIT_HALF_OPEN_AFTER_MS: '600000',
    PROVIDER_MAX_ATTEMPTS: '1',
  });

  it('should read nothing from that provider and count the accounts skipped', async () => {
    const spidr = gw.providerUrl('spidr');
    const put = (account: string) =>
      call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, { body: { status: 'SUSPENDED' } });
    expect((await put('open-1')).status).toBe(200);
    expect((await put('open-2')).status).toBe(200);
    await call('PUT', `${spidr}/__sandbox/accounts/open-1/status`, { body: { status: 'active' } });
    await call('POST', `${spidr}/__sandbox/faults`, {
      body: { match: { accountId: 'open-x', method: 'GET' }, fault: 'status', status: 500 },
    });
    for (let i = 0; i < 2; i++) await call('GET', `${gw.url}/v1/accounts/spidr/open-x/status`);
    expect(metric(await metricsText(gw), 'statusgate_provider_circuit_state{provider="spidr"}')).toBe(2);
    await call('DELETE', `${spidr}/__sandbox/calls`);

    const report = await gw.gateway.app.get(DriftWatch).runOnce();

    expect(report.providers.spidr).toEqual({ due: 2, read: 0, drifted: 0, skipped: 2 });
    expect((await sandboxCalls(spidr)).filter((c) => c.method === 'GET')).toEqual([]);
    expect(await driftedEvents(gw, 'spidr', 'open-1')).toEqual([]);
    expect(
      metric(
        await metricsText(gw),
        'statusgate_drift_reads_skipped_total{provider="spidr",reason="circuit_open"}',
      ),
    ).toBe(2);
  });
});

describe('DriftWatch read budget', () => {
  let now = Date.parse('2026-12-05T06:00:00Z');
  const gw = useGateway(
    { RECONCILE_INTERVAL_MS: '100', RECONCILE_READS_PER_MINUTE: '3' },
    { driftClock: () => now },
  );

  it('should read at most RECONCILE_READS_PER_MINUTE per minute, oldest check first (10 accounts, 3 a minute)', async () => {
    const spidr = gw.providerUrl('spidr');
    const accounts = Array.from({ length: 10 }, (_, i) => `budget-${i}`);
    for (const account of accounts) {
      const answer = await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
        body: { status: 'SUSPENDED' },
      });
      expect(answer.status).toBe(200);
    }
    const readOrder = async () =>
      (await sandboxCalls(spidr)).filter((c) => c.method === 'GET').map((c) => c.url.split('/').pop());
    const settle = () => new Promise((resolve) => setTimeout(resolve, 600)); // about six runs of the timer

    await settle();
    expect(await readOrder()).toEqual(accounts.slice(0, 3));
    now += 60_000;
    await settle();
    expect(await readOrder()).toEqual(accounts.slice(0, 6));
    now += 60_000;
    await settle();
    now += 60_000;
    await settle();
    // The tenth, then the oldest checks again.
    expect(await readOrder()).toEqual([...accounts, 'budget-0', 'budget-1']);
    expect(
      metric(await metricsText(gw), 'statusgate_drift_reads_skipped_total{provider="spidr",reason="budget"}'),
    ).toBeGreaterThan(0);
  });
});
