import { randomUUID } from 'node:crypto';
import { GIVE_UP_AFTER_MS } from '../src/services/webhook-dispatcher.js';
import { call, startGateway, temporarySqliteUrl, type TestGateway } from './support/gateway.js';
import { startReceiver, webhookSecret, type WebhookReceiver } from './support/webhook-receiver.js';

/**
 * The end of retrying (CONTRACT §7): a delivery that fails for 24 hours is given up, counted and logged, and
 * the next event of its account goes on. The gateway's delivery clock is moved a day ahead instead of waiting
 * one (everything else — HTTP, database, the receivers — is real); signature timestamps stay real.
 */
describe('Webhook delivery given up after 24 hours', () => {
  let gw: TestGateway;
  let dead: WebhookReceiver;
  let live: WebhookReceiver;
  let skewMs = 0;

  beforeAll(async () => {
    dead = await startReceiver();
    live = await startReceiver();
    dead.answer = () => 500; // always fails
    gw = await startGateway(
      {
        WEBHOOKS: JSON.stringify([
          { id: 'dead', url: dead.url, secret: webhookSecret('dead-subscriber') },
          { id: 'live', url: live.url, secret: webhookSecret('live-subscriber') },
        ]),
      },
      { webhookClock: () => Date.now() + skewMs },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([dead, live].map((r) => r?.close()));
  });

  const counter = async (subscriber: string, result: string) => {
    const text = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    const line = new RegExp(
      `^statusgate_webhook_deliveries_total\\{subscriber="${subscriber}",result="${result}"\\} (\\d+)$`,
      'm',
    );
    return Number(line.exec(text)?.[1]);
  };

  it('should give up a delivery still failing after 24 hours, count and log it, and not hold back others', async () => {
    const account = `give-up-${randomUUID()}`;
    const first = await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(first.status).toBe(200);
    // The other subscriber has it at once; the dead one answered 500 and waits for its retry.
    await live.waitForDelivery(account, 5_000);
    await dead.waitFor(() => dead.forAccount(account).length === 1, 5_000);
    expect(await counter('dead', 'given_up')).toBe(0);

    // A later event of the same account waits behind the failing one at the dead subscriber only.
    await call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, { body: { status: 'ACTIVE' } });
    await live.waitFor(() => live.forAccount(account).filter((w) => w.status === 204).length === 2, 5_000);
    expect(dead.forAccount(account).map((w) => w.event.data.status)).toEqual(['SUSPENDED']);

    // A day later its retry fails too: the next one would fall past 24 hours, so it is given up …
    skewMs = GIVE_UP_AFTER_MS;
    // … and no longer holds the account's next event back: it is tried (and, a day old too, given up at once).
    await dead.waitFor(() => dead.forAccount(account).length === 3, 10_000);
    expect(dead.forAccount(account).map((w) => `${w.event.data.status}:${w.status}`)).toEqual([
      'SUSPENDED:500',
      'SUSPENDED:500',
      'ACTIVE:500',
    ]);
    await dead.waitFor(() => gw.logs.filter((l) => l.msg === 'webhook delivery given up').length === 2);
    expect(await counter('dead', 'given_up')).toBe(2);
    expect(await counter('dead', 'retried')).toBe(1);
    expect(await counter('dead', 'delivered')).toBe(0);
    expect(await counter('live', 'given_up')).toBe(0);
    expect(await counter('live', 'retried')).toBe(0);
    expect(await counter('live', 'delivered')).toBe(2);
    const [suspended, , active] = dead.forAccount(account).map((w) => w.event.id);
    expect(gw.logs.filter((l) => l.msg === 'webhook delivery given up')).toEqual([
      expect.objectContaining({
        level: 'warn',
        subscriber: 'dead',
        eventId: suspended,
        attempts: 2,
        error: 'HTTP 500',
      }),
      expect.objectContaining({
        level: 'warn',
        subscriber: 'dead',
        eventId: active,
        attempts: 1,
        error: 'HTTP 500',
      }),
    ]);
    expect(await call('GET', `${gw.url}/metrics`).then((r) => r.body)).toMatch(
      /^statusgate_webhook_deliveries_pending 0$/m,
    );
    // Nothing more is sent for them.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(dead.forAccount(account)).toHaveLength(3);
    // The signature timestamps stayed on the real clock.
    for (const w of dead.forAccount(account))
      expect(Math.abs(Number(w.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
  }, 40_000);
});

describe('A subscriber taken out of WEBHOOKS', () => {
  it('should leave its undelivered events out of the pending gauge', async () => {
    const receiver = await startReceiver();
    receiver.answer = () => 500;
    const url = temporarySqliteUrl();
    const subscriber = (id: string) => ({ id, url: receiver.url, secret: webhookSecret(id) });
    const first = await startGateway({ DATABASE_URL: url, WEBHOOKS: JSON.stringify([subscriber('gone')]) });
    const pending = async (gw: TestGateway) =>
      /^statusgate_webhook_deliveries_pending (\d+)$/m.exec(
        await fetch(`${gw.url}/metrics`).then((r) => r.text()),
      )?.[1];
    try {
      await call('PUT', `${first.url}/v1/accounts/spidr/removed-1/status`, { body: { status: 'ACTIVE' } });
      await receiver.waitFor((r) => r.received.length > 0, 5_000);
      expect(await pending(first)).toBe('1');
    } finally {
      await first.close();
    }
    const second = await startGateway({ DATABASE_URL: url, WEBHOOKS: JSON.stringify([subscriber('kept')]) });
    try {
      expect(await pending(second)).toBe('0');
    } finally {
      await second.close();
      await receiver.close();
    }
  });
});
