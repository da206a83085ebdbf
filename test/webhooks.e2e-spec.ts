import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { call, startGateway, type TestGateway } from './support/gateway.js';
import { startReceiver, webhookSecret, type WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = webhookSecret('main-subscriber-secret');
const OTHER_SECRET = webhookSecret('other-subscriber-secret');

/** Webhooks (CONTRACT §7) over HTTP: real gateway, real sandboxes, real local receivers. */
describe('Webhooks', () => {
  let gw: TestGateway;
  let main: WebhookReceiver;
  let slow: WebhookReceiver;
  let failedOnly: WebhookReceiver;

  beforeAll(async () => {
    main = await startReceiver();
    slow = await startReceiver();
    failedOnly = await startReceiver();
    gw = await startGateway({
      WEBHOOKS: JSON.stringify([
        { id: 'main', url: main.url, secret: SECRET },
        { id: 'slow', url: slow.url, secret: OTHER_SECRET },
        {
          id: 'failures',
          url: failedOnly.url,
          secret: OTHER_SECRET,
          types: ['account.status.change_failed'],
        },
      ]),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([main, slow, failedOnly].map((r) => r?.close()));
  });
  afterEach(() => {
    main.answer = () => 204;
    slow.answer = () => 204;
  });

  const change = (provider: string, account: string, body: Record<string, unknown>) =>
    call('PUT', `${gw.url}/v1/accounts/${provider}/${account}/status`, { body });

  it('should POST each event signed per Standard Webhooks: verifies with the secret, fails with another', async () => {
    const account = `sig-${randomUUID()}`;
    const res = await change('spidr', account, { status: 'SUSPENDED', reason: 'FRAUD' });
    expect(res.status).toBe(200);
    await main.waitFor(() => main.forAccount(account).length === 1);
    const [hook] = main.forAccount(account);
    expect(hook.headers['content-type']).toBe('application/cloudevents+json');
    expect(hook.headers['webhook-id']).toBe(hook.event.id);
    expect(Math.abs(Number(hook.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(hook.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const headers = {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    };
    // The reference implementation of the specification verifies it …
    expect(new Webhook(SECRET).verify(hook.body, headers)).toEqual(hook.event);
    // … and refuses it with another secret, or a changed body.
    expect(() => new Webhook(OTHER_SECRET).verify(hook.body, headers)).toThrow();
    expect(() => new Webhook(SECRET).verify(hook.body.replace('FRAUD', 'RISK_REVIEW'), headers)).toThrow();
    // The body is the event as the feed has it.
    const feed = await call('GET', `${gw.url}/v1/events?subject=spidr/${account}`);
    expect(feed.body.items).toEqual([hook.event]);
    expect(hook.event).toMatchObject({
      type: 'account.status.changed',
      data: { changeId: res.body.changeId },
    });
  });

  it('should retry after 500s with the same webhook-id until a 2xx', async () => {
    const account = `retry-${randomUUID()}`;
    main.failFirst(account, 2, 500);
    await change('spidr', account, { status: 'SUSPENDED', reason: 'FRAUD' });
    await main.waitForDelivery(account, 20_000);
    const hooks = main.forAccount(account);
    expect(hooks.map((h) => h.status)).toEqual([500, 500, 204]);
    expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
    // Backoff from 1 s, doubling: ≥ 1 s, then ≥ 2 s between attempts.
    expect(hooks[1].at - hooks[0].at).toBeGreaterThanOrEqual(900);
    expect(hooks[2].at - hooks[1].at).toBeGreaterThanOrEqual(1900);
    // Each attempt signed afresh, each verifying.
    for (const h of hooks) {
      expect(() =>
        new Webhook(SECRET).verify(h.body, {
          'webhook-id': String(h.headers['webhook-id']),
          'webhook-timestamp': String(h.headers['webhook-timestamp']),
          'webhook-signature': String(h.headers['webhook-signature']),
        }),
      ).not.toThrow();
    }
    const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /statusgate_webhook_deliveries_total\{subscriber="main",result="retried"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /statusgate_webhook_deliveries_total\{subscriber="main",result="delivered"\} [1-9]/,
    );
    expect(metrics).toMatch(/statusgate_webhook_deliveries_total\{subscriber="main",result="given_up"\} 0/);
  }, 30_000);

  it("should keep an account's order while its earlier event is retried; other accounts go on", async () => {
    const account = `order-${randomUUID()}`;
    const other = `other-${randomUUID()}`;
    let failures = 2;
    main.answer = (r) =>
      r.event?.data?.accountId === account && r.event?.data?.status === 'SUSPENDED' && failures-- > 0
        ? 500
        : 204;
    await change('spidr', account, { status: 'SUSPENDED', reason: 'FRAUD' });
    await change('spidr', account, { status: 'ACTIVE' });
    await change('spidr', account, { status: 'DO_NOT_CONTACT' });
    await change('spidr', other, { status: 'ACTIVE' });
    // Another account is delivered while the first event of `account` waits for its retry.
    await main.waitForDelivery(other, 5_000);
    expect(main.forAccount(account).every((w) => w.event.data.status === 'SUSPENDED')).toBe(true);
    await main.waitFor(() => main.forAccount(account).filter((w) => w.status === 204).length === 3, 20_000);
    // Nothing of the account was sent before the earlier one was delivered: the order of every POST is the commit order.
    expect(main.forAccount(account).map((w) => `${w.event.data.status}:${w.status}`)).toEqual([
      'SUSPENDED:500',
      'SUSPENDED:500',
      'SUSPENDED:204',
      'ACTIVE:204',
      'DO_NOT_CONTACT:204',
    ]);
  }, 30_000);

  it('should not let a slow subscriber delay another, nor the API', async () => {
    const account = `slow-${randomUUID()}`;
    slow.answer = () => ({ status: 204, delayMs: 6_000 });
    const started = Date.now();
    const res = await change('spidr', account, { status: 'SUSPENDED', reason: 'FRAUD' });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    await main.waitForDelivery(account, 3_000);
    // The slow subscriber has the request but has not answered yet.
    await slow.waitFor(() => slow.forAccount(account).length === 1, 3_000);
    expect(slow.forAccount(account)[0].status).toBeUndefined();
    await slow.waitForDelivery(account, 10_000);
  }, 20_000);

  it('should deliver to another subscriber at once while a slow one has every delivery slot taken', async () => {
    const accounts = Array.from({ length: 12 }, (_, i) => `slots-${i}-${randomUUID()}`);
    const mine = (r: WebhookReceiver) =>
      r.received.filter((w) => accounts.includes(w.event?.data?.accountId));
    slow.answer = () => ({ status: 204, delayMs: 8_000 });
    const started = Date.now();
    for (const account of accounts) await change('spidr', account, { status: 'ACTIVE' });
    await main.waitFor(() => mine(main).filter((w) => w.status === 204).length === accounts.length, 5_000);
    // All delivered to the other subscriber while the slow one holds 8 (its slots), none answered yet.
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(mine(slow).length).toBeLessThanOrEqual(8);
    expect(mine(slow).every((w) => w.status === undefined)).toBe(true);
    await slow.waitFor(() => mine(slow).filter((w) => w.status === 204).length === accounts.length, 25_000);
  }, 40_000);

  it('should count a 2xx later than 10 s as a failed attempt and retry it', async () => {
    const account = `late-${randomUUID()}`;
    let late = 1;
    slow.answer = (r) =>
      r.event?.data?.accountId === account && late-- > 0 ? { status: 204, delayMs: 11_000 } : 204;
    await change('spidr', account, { status: 'ACTIVE' });
    await slow.waitFor(() => slow.forAccount(account).length === 2, 20_000);
    const [first, second] = slow.forAccount(account);
    // Given up on at 10 s, tried again about 1 s later with the same webhook-id.
    expect(second.at - first.at).toBeGreaterThanOrEqual(10_000);
    expect(second.at - first.at).toBeLessThan(13_000);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
  }, 30_000);

  it('should not follow a redirect: a 3xx is a failed attempt, retried at the configured URL', async () => {
    const account = `redirect-${randomUUID()}`;
    main.failFirst(account, 1, 307);
    await change('spidr', account, { status: 'SUSPENDED', reason: 'FRAUD' });
    await main.waitForDelivery(account, 10_000);
    expect(main.forAccount(account).map((w) => w.status)).toEqual([307, 204]);
    // The Location it was sent to (…/hook-redirected) was never called.
    expect(main.received.filter((w) => w.event?.data?.accountId === account).length).toBe(2);
  }, 15_000);

  it('should send a subscriber only the types it asked for, and failures with their errorCode', async () => {
    const account = `types-${randomUUID()}`;
    await change('spidr', account, { status: 'ACTIVE' });
    const refused = await change('spidr', account, { status: 'DISPUTED' });
    expect(refused.status).toBe(422);
    await main.waitFor(() => main.forAccount(account).length === 2);
    await failedOnly.waitFor(() => failedOnly.forAccount(account).length === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(failedOnly.forAccount(account).map((w) => w.event.type)).toEqual(['account.status.change_failed']);
    expect(failedOnly.forAccount(account)[0].event.data).toMatchObject({
      outcome: 'FAILED',
      errorCode: 'STATUS_NOT_SUPPORTED',
    });
  });
});
