import pino from 'pino';
import { driftEvent, type DriftEventData } from '../src/events/cloud-events.js';
import { Store } from '../src/persistence/store.js';
import { call, startGateway, temporarySqliteUrl, type TestGateway } from './support/gateway.js';

const DAY_MS = 86_400_000;

/** EVENT_RETENTION_DAYS (CONTRACT §7): events older than that are removed from the feed. */
describe('Event retention', () => {
  let gw: TestGateway | undefined;
  afterAll(() => gw?.close());

  const drifted = (accountId: string): DriftEventData => ({
    provider: 'spidr',
    accountId,
    expectedStatus: 'ACTIVE',
    observedStatus: 'SUSPENDED',
    observedProviderStatus: 'suspended',
    lastChangeId: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f',
  });

  it('should remove events older than EVENT_RETENTION_DAYS and keep the others', async () => {
    // Events written 3 days and 1 day ago, as the outbox writes them, into the store the gateway then opens.
    const url = temporarySqliteUrl();
    const store = await Store.open(url, pino({ level: 'silent' }));
    const old = driftEvent(drifted('old'), new Date(Date.now() - 3 * DAY_MS).toISOString());
    const recent = driftEvent(drifted('recent'), new Date(Date.now() - 1 * DAY_MS).toISOString());
    await store.commitWithEvents([], [old, recent]);
    await store.close();

    gw = await startGateway({ DATABASE_URL: url, EVENT_RETENTION_DAYS: '2' });
    const feed = async () => (await call('GET', `${gw!.url}/v1/events`)).body.items.map((e: any) => e.id);
    for (const until = Date.now() + 5_000; (await feed()).includes(old.id) && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 50));
    expect(await feed()).toEqual([recent.id]);
    expect(gw.logs).toContainEqual(
      expect.objectContaining({ msg: 'events past EVENT_RETENTION_DAYS removed', pruned: 1 }),
    );
  });
});
