import pg from 'pg';
import { describeWithPostgres } from './support/databases.js';
import { call } from './support/gateway.js';
import { SPAWNED, useReplicas } from './support/replicas.js';
import { startReceiver, webhookSecret, type WebhookReceiver } from './support/webhook-receiver.js';

/**
 * Two replicas sharing one PostgreSQL, changes sent to both at once: a consumer polling the feed (through
 * either replica) with its last cursor sees every event once, and each event is delivered to the webhook
 * subscriber by one replica.
 */
await describeWithPostgres('Events and webhooks with two replicas on PostgreSQL', () => {
  let receiver: WebhookReceiver;
  const cluster = useReplicas(SPAWNED, {
    env: async () => {
      receiver = await startReceiver();
      // A little latency at the receiver, so deliveries overlap between replicas.
      receiver.answer = () => ({ status: 204, delayMs: 5 });
      return {
        RATE_LIMIT_PER_MINUTE: '0',
        WEBHOOKS: JSON.stringify([{ id: 'crm', url: receiver.url, secret: webhookSecret('replica-secret') }]),
      };
    },
  });
  afterAll(() => receiver?.close());

  it('should let a polling consumer see every event once, in order per account, and deliver each once', async () => {
    const seen: any[] = [];
    let cursor: string | undefined;
    let polls = 0;
    const poll = async () => {
      const replica = cluster.replicas[polls++ % 2];
      const page = await call('GET', `${replica.url}/v1/events?limit=7${cursor ? `&after=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    };
    let writing = true;
    const consumer = (async () => {
      while (writing) await poll();
    })();
    const accounts = Array.from({ length: 12 }, (_, i) => `replica-feed-${Date.now()}-${i}`);
    const statuses = ['SUSPENDED', 'ACTIVE', 'SUSPENDED', 'ACTIVE', 'SUSPENDED'];
    const changeIds = new Map<string, string[]>(accounts.map((a) => [a, []]));
    await Promise.all(
      accounts.map(async (account, i) => {
        for (const status of statuses) {
          const res = await call(
            'PUT',
            `${cluster.replicas[i % 2].url}/v1/accounts/spidr/${account}/status`,
            {
              body: { status, ...(status === 'SUSPENDED' ? { reason: 'FRAUD' } : {}) },
            },
          );
          expect(res.status).toBe(200);
          changeIds.get(account)!.push(res.body.changeId);
        }
      }),
    );
    writing = false;
    await consumer;
    for (let i = 0; i < 5; i++) await poll();

    const client = new pg.Client({ connectionString: cluster.db.url });
    await client.connect();
    const stored = (await client.query<{ id: string }>('select id from events')).rows.map((r) => r.id);
    await client.end();
    expect(stored).toHaveLength(accounts.length * statuses.length);
    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // none twice
    expect(new Set(ids)).toEqual(new Set(stored)); // none missed
    for (const account of accounts) {
      expect(seen.filter((e) => e.data.accountId === account).map((e) => e.data.changeId)).toEqual(
        changeIds.get(account),
      );
    }

    // Webhooks: every event delivered, by one replica at a time, in order per account.
    await receiver.waitFor(
      (r) => new Set(r.delivered().map((w) => w.headers['webhook-id'])).size === stored.length,
      30_000,
    );
    const delivered = receiver.delivered();
    const duplicates = delivered.length - new Set(delivered.map((w) => w.headers['webhook-id'])).size;
    expect(duplicates).toBe(0);
    for (const account of accounts) {
      const posts = receiver.received.filter((w) => w.event.data.accountId === account);
      expect(posts.map((w) => w.event.data.changeId)).toEqual(changeIds.get(account));
    }
  }, 90_000);
});
