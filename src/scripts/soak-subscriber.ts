/**
 * The soak's webhook subscriber (CONTRACT §7): a real HTTP server in the soak process that checks every
 * delivery's Standard Webhooks signature on its own (node:crypto, not the gateway's code) and now and then
 * answers 500 or drops the connection, so the gateway's retries run for the whole soak. It counts the
 * deliveries (2xx answers) per `webhook-id`; a second 2xx for one id is a duplicate (at least once).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Every FAIL_EVERY-th request is answered 500 and every RESET_EVERY-th one gets its connection dropped … */
const FAIL_EVERY = 7;
const RESET_EVERY = 29;
/** … but one event is failed at most this many times, so the backoff (1 s, 2 s, 4 s …) stays short. */
const MAX_FAILURES_PER_EVENT = 3;

export interface SoakSubscriber {
  url: string;
  /** The `whsec_…` secret to configure in WEBHOOKS. */
  secret: string;
  /** 2xx answers per webhook-id. */
  delivered: Map<string, number>;
  /** Attempts answered 500 or dropped on purpose. */
  failed: number;
  /** Requests whose signature, id header or body did not check out (answered 401; must stay 0). */
  badSignatures: number;
  close(): Promise<void>;
}

export async function startSoakSubscriber(): Promise<SoakSubscriber> {
  const key = randomBytes(32);
  const failures = new Map<string, number>();
  let requests = 0;
  const subscriber: SoakSubscriber = {
    url: '',
    secret: `whsec_${key.toString('base64')}`,
    delivered: new Map(),
    failed: 0,
    badSignatures: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      if (
        !verified(key, id, String(req.headers['webhook-timestamp']), req.headers['webhook-signature'], body)
      ) {
        subscriber.badSignatures += 1;
        res.writeHead(401).end();
        return;
      }
      requests += 1;
      const failedSoFar = failures.get(id) ?? 0;
      const fail =
        failedSoFar < MAX_FAILURES_PER_EVENT && (requests % FAIL_EVERY === 0 || requests % RESET_EVERY === 0);
      if (fail) {
        failures.set(id, failedSoFar + 1);
        subscriber.failed += 1;
        if (requests % RESET_EVERY === 0) res.destroy();
        else res.writeHead(500).end();
        return;
      }
      subscriber.delivered.set(id, (subscriber.delivered.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  subscriber.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return subscriber;
}

/** The Standard Webhooks check: some `v1,` signature equals the HMAC of id.timestamp.body; id = the event's id. */
function verified(
  key: Buffer,
  id: string,
  timestamp: string,
  signatures: string | string[] | undefined,
  body: string,
): boolean {
  const expected = Buffer.from(
    createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'),
  );
  const matches = String(signatures ?? '')
    .split(' ')
    .some(
      (s) =>
        s.startsWith('v1,') &&
        s.length - 3 === expected.length &&
        timingSafeEqual(Buffer.from(s.slice(3)), expected),
    );
  try {
    return matches && (JSON.parse(body) as { id?: string }).id === id;
  } catch {
    return false;
  }
}

/** How long the soak waits, after its last request, for the retries to deliver the rest. */
const DRAIN_MS = 120_000;

export interface Drained {
  /** The feed's events, oldest first. */
  expected: Array<{ id: string; changeId?: string }>;
  /** Deliveries the gateway still had pending when the wait ended (0 when drained). */
  pending: number;
}

/** Waits (at most DRAIN_MS) until the subscriber has every event of the feed and none is pending. */
export async function drainDeliveries(gatewayUrl: string, subscriber: SoakSubscriber): Promise<Drained> {
  let drained: Drained = { expected: [], pending: -1 };
  for (const until = Date.now() + DRAIN_MS; Date.now() < until;) {
    drained = { expected: await feed(gatewayUrl), pending: await pendingDeliveries(gatewayUrl) };
    if (drained.pending === 0 && drained.expected.every((e) => subscriber.delivered.has(e.id))) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return drained;
}

/**
 * Events expected (the feed, checked against the ended change records read from the history after the
 * drain) vs delivered. `ok` only when every expected event was delivered, nothing else was, every
 * signature checked out and each ended change record has exactly its one event.
 */
export function webhookReport(
  subscriber: SoakSubscriber,
  { expected, pending }: Drained,
  endedChanges: ReadonlySet<string>,
): { lines: string[]; ok: boolean } {
  const expectedIds = new Set(expected.map((e) => e.id));
  const missing = expected.filter((e) => !subscriber.delivered.has(e.id)).length;
  const unexpected = [...subscriber.delivered.keys()].filter((id) => !expectedIds.has(id)).length;
  const duplicates = [...subscriber.delivered.values()].reduce((sum, n) => sum + n - 1, 0);
  const eventChanges = expected.flatMap((e) => (e.changeId === undefined ? [] : [e.changeId]));
  const withEvent = new Set(eventChanges);
  const withoutEvent = [...endedChanges].filter((id) => !withEvent.has(id)).length;
  const lines = [
    `webhook events expected (feed): ${expected.length}; ended change records: ${endedChanges.size}`,
    `webhook events delivered (unique webhook-id): ${subscriber.delivered.size}`,
    `webhook events missing: ${missing}; delivered but not in the feed: ${unexpected}`,
    `webhook duplicate deliveries (same webhook-id again, at least once): ${duplicates}`,
    `webhook attempts failed on purpose (500 or dropped): ${subscriber.failed}`,
    `webhook bad signatures: ${subscriber.badSignatures}; deliveries still pending: ${pending}`,
    `ended change records without their event: ${withoutEvent}; change events: ${eventChanges.length}`,
  ];
  const ok =
    missing === 0 &&
    unexpected === 0 &&
    pending === 0 &&
    subscriber.badSignatures === 0 &&
    withoutEvent === 0 &&
    eventChanges.length === endedChanges.size;
  return { lines, ok };
}

/** The whole feed, oldest first (auth is off in the soak). */
async function feed(gatewayUrl: string): Promise<Array<{ id: string; changeId?: string }>> {
  const events: Array<{ id: string; changeId?: string }> = [];
  for (let after = ''; ;) {
    const page = (await (await fetch(`${gatewayUrl}/v1/events?limit=1000${after}`)).json()) as {
      items: Array<{ id: string; data: { changeId?: string } }>;
      nextCursor: string;
    };
    events.push(...page.items.map((e) => ({ id: e.id, changeId: e.data.changeId })));
    if (page.items.length === 0) return events;
    after = `&after=${encodeURIComponent(page.nextCursor)}`;
  }
}

async function pendingDeliveries(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  return Number(/^statusgate_webhook_deliveries_pending (\d+)/m.exec(text)?.[1] ?? -1);
}
