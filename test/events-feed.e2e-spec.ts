import { randomUUID } from 'node:crypto';
import { call, expectProblem, useGateway } from './support/gateway.js';

const KEYS = [
  { id: 'writer', key: 'writer-key-0123456789', scopes: ['status:read', 'status:write'] },
  { id: 'events', key: 'events-key-0123456789', scopes: ['events:read'] },
];
const as = (key: string) => ({ 'x-api-key': key });
const W = as(KEYS[0].key);
const E = as(KEYS[1].key);

/** GET /v1/changes/{id}, the 202 Location, and the event feed (CONTRACT §7) over HTTP on the sandboxes. */
describe('Change records and the event feed', () => {
  const gw = useGateway({ API_KEYS: JSON.stringify(KEYS), RATE_LIMIT_PER_MINUTE: '0' });

  const feedAll = async (query = '') => {
    const items: any[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await call('GET', `${gw.url}/v1/events?limit=2${query}${after ? `&after=${after}` : ''}`, {
        headers: E,
      });
      expect(page.status).toBe(200);
      expect(typeof page.body.nextCursor).toBe('string');
      items.push(...page.body.items);
      if (page.body.items.length === 0) return { items, cursor: page.body.nextCursor as string };
      after = page.body.nextCursor;
    }
  };

  it('should answer a 202 change with Location, and GET /v1/changes/{id} with the record', async () => {
    const account = `loc-${randomUUID()}`;
    const res = await call('PUT', `${gw.url}/v1/accounts/cleargrid/${account}/status`, {
      headers: W,
      body: { status: 'DISPUTED', customerId: 'debtor-1', note: 'called in' },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/changes/${res.body.changeId}`);
    const record = await call('GET', `${gw.url}${res.headers.get('location')}`, { headers: W });
    expect(record.status).toBe(200);
    expect(Object.keys(record.body).sort()).toEqual(
      [
        'changeId',
        'batchId',
        'provider',
        'accountId',
        'status',
        'reason',
        'note',
        'callerId',
        'requestId',
        'outcome',
        'errorCode',
        'providerStatus',
        'providerHttpStatus',
        'requestedAt',
        'completedAt',
      ].sort(),
    );
    expect(record.body).toMatchObject({
      changeId: res.body.changeId,
      batchId: null,
      provider: 'cleargrid',
      accountId: account,
      status: 'DISPUTED',
      reason: null,
      note: 'called in',
      callerId: 'writer',
      requestId: res.body.requestId,
      outcome: 'ACCEPTED',
      errorCode: null,
      providerStatus: res.body.providerStatus,
      completedAt: res.body.completedAt,
    });
    // Replayed under the same Idempotency-Key, the 202 keeps its Location.
    const keyed = { ...W, 'idempotency-key': `loc-${account}` };
    const body = { status: 'DISPUTED', customerId: 'debtor-1' };
    const first = await call('PUT', `${gw.url}/v1/accounts/cleargrid/${account}-k/status`, {
      headers: keyed,
      body,
    });
    const again = await call('PUT', `${gw.url}/v1/accounts/cleargrid/${account}-k/status`, {
      headers: keyed,
      body,
    });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(`/v1/changes/${first.body.changeId}`);
    // A 200 answer carries no Location.
    const applied = await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      headers: W,
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(applied.status).toBe(200);
    expect(applied.headers.get('location')).toBeNull();
  });

  it('should answer 404 NOT_FOUND for an unknown change and 400 for a malformed id', async () => {
    expectProblem(
      await call('GET', `${gw.url}/v1/changes/${randomUUID()}`, { headers: W }),
      404,
      'NOT_FOUND',
    );
    expectProblem(await call('GET', `${gw.url}/v1/changes/nope`, { headers: W }), 400, 'VALIDATION_FAILED');
  });

  it('should need events:read for the feed (status:read does not grant it)', async () => {
    const res = expectProblem(await call('GET', `${gw.url}/v1/events`, { headers: W }), 403, 'FORBIDDEN');
    expect(res.requiredScope).toBe('events:read');
    expectProblem(
      await call('GET', `${gw.url}/v1/changes/${randomUUID()}`, { headers: E }),
      403,
      'FORBIDDEN',
    );
    expectProblem(await call('GET', `${gw.url}/v1/events`), 401, 'UNAUTHENTICATED');
  });

  it('should refuse a bad cursor, limit or type with 400 problem+json', async () => {
    const refused = ['after=nope', 'after=e1.!!', 'limit=0', 'limit=1001', 'limit=x', 'type=account.other'];
    for (const query of refused) {
      expectProblem(
        await call('GET', `${gw.url}/v1/events?${query}`, { headers: E }),
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('should give each ended change one CloudEvent, in order, with a cursor that is never null', async () => {
    const before = await feedAll();
    const account = `feed-${randomUUID()}`;
    const path = `${gw.url}/v1/accounts/spidr/${account}/status`;
    const ok = await call('PUT', path, { headers: W, body: { status: 'SUSPENDED', reason: 'FRAUD' } });
    // Refused before any call, and recorded: a change_failed event with its errorCode.
    const unsupported = await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      headers: W,
      body: { status: 'DISPUTED' },
    });
    expect(unsupported.status).toBe(422);
    // The provider has no such account: change_failed with ACCOUNT_NOT_FOUND.
    const missing = `NOTFOUND-${randomUUID()}`;
    const notFound = await call('PUT', `${gw.url}/v1/accounts/spidr/${missing}/status`, {
      headers: W,
      body: { status: 'ACTIVE' },
    });
    expect(notFound.status).toBe(404);
    // A dry run and a refused body are not recorded: no event.
    await call('PUT', `${path}?dryRun=true`, { headers: W, body: { status: 'ACTIVE' } });
    await call('PUT', path, { headers: W, body: { status: 'NOPE' } });

    const page = await call('GET', `${gw.url}/v1/events?after=${before.cursor}`, { headers: E });
    expect(page.status).toBe(200);
    const events = page.body.items as any[];
    expect(events.map((e) => [e.type, e.subject])).toEqual([
      ['account.status.changed', `spidr/${account}`],
      ['account.status.change_failed', `spidr/${account}`],
      ['account.status.change_failed', `spidr/${missing}`],
    ]);
    expect(events[0]).toEqual({
      specversion: '1.0',
      id: expect.any(String),
      source: 'statusgate',
      type: 'account.status.changed',
      subject: `spidr/${account}`,
      time: ok.body.completedAt,
      datacontenttype: 'application/json',
      data: {
        changeId: ok.body.changeId,
        batchId: null,
        provider: 'spidr',
        accountId: account,
        status: 'SUSPENDED',
        reason: 'FRAUD',
        outcome: 'APPLIED',
        providerStatus: ok.body.providerStatus,
        callerId: 'writer',
        requestId: ok.body.requestId,
      },
    });
    expect(events[1].data).toMatchObject({
      outcome: 'FAILED',
      errorCode: 'STATUS_NOT_SUPPORTED',
      status: 'DISPUTED',
    });
    expect(events[2].data).toMatchObject({
      outcome: 'FAILED',
      errorCode: 'ACCOUNT_NOT_FOUND',
      accountId: missing,
    });
    expect(events[2].data.changeId).toBe(
      (await call('GET', `${gw.url}/v1/accounts/spidr/${missing}/history`, { headers: W })).body.items[0]
        .changeId,
    );

    // Polling on from the last cursor: nothing new, the same cursor back (never null).
    const again = await call('GET', `${gw.url}/v1/events?after=${page.body.nextCursor}`, { headers: E });
    expect(again.body).toEqual({ items: [], nextCursor: page.body.nextCursor });

    // Paged by 2 from the start, every event once, in the same order.
    const all = await feedAll();
    expect(new Set(all.items.map((e) => e.id)).size).toBe(all.items.length);
    expect(all.items.slice(-3).map((e) => e.id)).toEqual(events.map((e) => e.id));

    // Filters.
    const bySubject = await call('GET', `${gw.url}/v1/events?subject=spidr/${account}`, { headers: E });
    expect(bySubject.body.items.map((e: any) => e.id)).toEqual([events[0].id, events[1].id]);
    const byType = await feedAll(`&type=account.status.change_failed&subject=spidr/${missing}`);
    expect(byType.items.map((e: any) => e.id)).toEqual([events[2].id]);
  });

  it('should give batch items their events, with the batchId', async () => {
    const before = await feedAll();
    const account = `batch-${randomUUID()}`;
    const res = await call('POST', `${gw.url}/v1/batches`, {
      headers: { ...W, prefer: 'wait=10' },
      body: { items: [{ provider: 'spidr', accountId: account, status: 'SUSPENDED', reason: 'FRAUD' }] },
    });
    expect(res.status).toBe(200);
    const page = await call('GET', `${gw.url}/v1/events?after=${before.cursor}`, { headers: E });
    expect(page.body.items).toHaveLength(1);
    expect(page.body.items[0].data).toMatchObject({
      batchId: res.body.batchId,
      accountId: account,
      outcome: 'APPLIED',
    });
  });
});
