import { sql } from 'kysely';
import pino from 'pino';
import { driftEvent } from '../src/events/cloud-events.js';
import { Store } from '../src/persistence/store.js';
import { startGateway, temporarySqliteUrl, type TestGateway } from './support/gateway.js';
import { startReceiver, webhookSecret, type WebhookReceiver } from './support/webhook-receiver.js';

const ACCOUNTS = 20;
const PER_ACCOUNT = 50;

/**
 * A failing subscriber with a backlog (CONTRACT §7: one failing subscriber never delays another or the API):
 * the later events of an account wait behind its first, which is being retried. They must not be due
 * meanwhile, or every poll of the dispatcher passes over the whole backlog (on SQLite on the main thread:
 * 100,000 waiting deliveries cost 100–600 ms a poll, every 200 ms). And once the subscriber answers, all
 * of them are delivered, in order per account.
 */
describe('Webhook backlog behind a failing subscriber', () => {
  let gw: TestGateway | undefined;
  let receiver: WebhookReceiver;
  /** The delivery clock: frozen while the backlog is inspected, then the real one. */
  let frozenAt: number | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await gw?.close();
    await receiver?.close();
  });

  it('should keep the waiting deliveries of an account off the due list, then deliver them all in order', async () => {
    const url = temporarySqliteUrl();
    const env = {
      DATABASE_URL: url,
      WEBHOOKS: JSON.stringify([{ id: 'crm', url: receiver.url, secret: webhookSecret('backlog') }]),
    };
    // The subscriber is known (its cursor set) before the backlog is committed …
    await (await startGateway(env)).close();
    const store = await Store.open(url, pino({ level: 'silent' }));
    const events = Array.from({ length: ACCOUNTS * PER_ACCOUNT }, (_, i) =>
      driftEvent({
        provider: 'spidr',
        accountId: `backlog-${i % ACCOUNTS}`,
        expectedStatus: 'ACTIVE',
        observedStatus: 'SUSPENDED',
        observedProviderStatus: `value-${i}`,
        lastChangeId: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f',
      }),
    );
    await store.commitWithEvents([], events);
    await store.close();

    // … and fails: the first event of each account is tried, answered 500, and waits for its retry.
    receiver.answer = () => 500;
    frozenAt = Date.now();
    gw = await startGateway(env, { webhookClock: () => frozenAt ?? Date.now() });
    const db = gw.gateway.store.database.db;
    const count = async (where: ReturnType<typeof sql>) =>
      Number(
        (
          await sql<{ n: number }>`select count(*) as n from webhook_deliveries d
            where d.subscriber_id = 'crm' and d.state = 'PENDING' and ${where}`.execute(db)
        ).rows[0].n,
      );
    await receiver.waitFor((r) => new Set(r.received.map((w) => w.event.subject)).size === ACCOUNTS, 15_000);
    await receiver.waitFor(() => receiver.received.every((w) => w.status === 500));
    for (const until = Date.now() + 5_000; Date.now() < until;) {
      if ((await count(sql`d.attempts > 0`)) === ACCOUNTS) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await count(sql`1 = 1`)).toBe(ACCOUNTS * PER_ACCOUNT);
    expect(await count(sql`d.attempts > 0`)).toBe(ACCOUNTS);
    // Nothing is due: the first of each account waits for its retry, the rest wait behind it.
    const now = new Date(frozenAt).toISOString();
    expect(await count(sql`d.next_attempt_at <= ${now}`)).toBe(0);
    expect(receiver.received).toHaveLength(ACCOUNTS);

    // The subscriber answers again and time moves on: every event is delivered once, in order per account.
    receiver.answer = () => 204;
    frozenAt = undefined;
    await receiver.waitFor((r) => r.delivered().length === ACCOUNTS * PER_ACCOUNT, 60_000);
    const delivered = receiver.delivered().map((w) => w.event.id as string);
    expect(new Set(delivered).size).toBe(ACCOUNTS * PER_ACCOUNT);
    const subjectOf = new Map(events.map((e) => [e.id, e.subject]));
    for (let a = 0; a < ACCOUNTS; a++) {
      const ofAccount = (ids: string[]) => ids.filter((id) => subjectOf.get(id) === `spidr/backlog-${a}`);
      expect(ofAccount(delivered)).toEqual(ofAccount(events.map((e) => e.id)));
    }
  }, 90_000);
});
