import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig, type WebhookSubscriber } from '../config/config.js';
import { toCloudEvent } from '../events/cloud-events.js';
import { webhookHeaders } from '../events/webhook-signature.js';
import { Metrics } from '../observability/metrics.js';
import type { WebhookDeliveryTable } from '../persistence/events.schema.js';
import { INSTANCE_STALE_MS, Store } from '../persistence/store.js';
import { WebhooksRepository } from '../persistence/webhooks.repository.js';
import { decodeFeedCursor, encodeFeedCursor } from './events.service.js';
import { LOGGER_TOKEN } from './tokens.js';
import { pollOrWake } from './poll-or-wake.js';

/** CONTRACT §7: a 2xx within 10 s is a delivery; retries from 1 s, doubling, capped at 10 min, for 24 h. */
export const DELIVERY_TIMEOUT_MS = 10_000;
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 10 * 60_000;
export const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** A delivery's lease outlasts its attempt (timeout) with room to record the result. */
export const LEASE_MS = DELIVERY_TIMEOUT_MS + 20_000;
/** Deliveries in flight at once per subscriber (different accounts); one subscriber's slots are its own. */
export const SUBSCRIBER_CONCURRENCY = 8;
/** How often an idle subscriber loop looks for new events and due retries. */
export const POLL_MS = 200;
const FAN_OUT_PAGE = 500;
/**
 * The clock deliveries are scheduled by (when one is due, when to retry, when 24 h have passed); tests pass
 * a day without waiting for one. Signature timestamps always use the real clock.
 */
export const WEBHOOK_CLOCK = Symbol('WEBHOOK_CLOCK');

/**
 * When a delivery that failed `attempts` times (first made at `createdAt`) is tried next, or undefined when
 * the next try would fall past the 24 hours: it is given up.
 */
export function nextAttemptAt(attempts: number, createdAt: Date, now: Date): Date | undefined {
  const delay = Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempts - 1, 30), MAX_RETRY_MS);
  const next = new Date(now.getTime() + delay);
  return next.getTime() - createdAt.getTime() > GIVE_UP_AFTER_MS ? undefined : next;
}

interface Loop {
  subscriber: WebhookSubscriber;
  inFlight: number;
  wake?: () => void;
}

/**
 * Delivers the events to the WEBHOOKS subscribers (CONTRACT §7, Standard Webhooks): at least once, state in
 * the database (a process killed between an event's commit and its delivery delivers it after restart), per
 * subscriber and account in order, each subscriber on its own loop and slots so a slow or dead one delays no
 * other and never the API (nothing on the request path waits for a delivery).
 * Hand-written on fetch rather than a queue library: the queue is the database table (shared by replicas,
 * leased row by row), which no in-process queue library provides.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly repository: WebhooksRepository;
  private readonly loops: Loop[];
  private readonly running: Array<Promise<void>> = [];
  private readonly active = new Set<Promise<void>>();
  private stopped = false;
  private readonly outcomes: Counter<'subscriber' | 'result'>;

  constructor(
    @Inject(Store) private readonly store: Store,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(Metrics) metrics: Metrics,
    @Inject(LOGGER_TOKEN) private readonly logger: Logger,
    @Optional() @Inject(WEBHOOK_CLOCK) private readonly clock: () => number = Date.now,
  ) {
    this.repository = new WebhooksRepository(store.database.db, store.database.engine);
    this.loops = config.webhooks.map((subscriber) => ({ subscriber, inFlight: 0 }));
    this.outcomes = new Counter({
      name: 'statusgate_webhook_deliveries_total',
      help:
        'Webhook delivery attempts by subscriber and result: delivered (a 2xx within 10 s), retried (anything ' +
        'else, tried again later), given_up (still failing after 24 hours)',
      labelNames: ['subscriber', 'result'] as const,
      registers: [metrics.registry],
    });
    for (const { subscriber } of this.loops)
      for (const result of ['delivered', 'retried', 'given_up'])
        this.outcomes.inc({ subscriber: subscriber.id, result }, 0);
    const repository = this.repository;
    // A subscriber taken out of WEBHOOKS keeps its deliveries (they resume if it comes back) but is not counted.
    const configured = config.webhooks.map((s) => s.id);
    new Gauge({
      name: 'statusgate_webhook_deliveries_pending',
      help: 'Webhook deliveries to the configured subscribers not yet made or given up (all replicas sharing the database)',
      registers: [metrics.registry],
      async collect() {
        this.set(await repository.pending(configured).catch(() => 0));
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.loops.length === 0) return;
    const sqlite = this.store.database.engine === 'sqlite';
    await this.repository.releaseDead(
      this.store.instanceId,
      sqlite ? { allOthers: true } : { staleBefore: new Date(Date.now() - INSTANCE_STALE_MS) },
    );
    for (const loop of this.loops) {
      // A subscriber seen for the first time starts at the feed's end (not 30 days of history).
      if ((await this.repository.cursor(loop.subscriber.id)) === undefined)
        await this.repository.initCursor(loop.subscriber.id, encodeFeedCursor(await this.store.events.end()));
      this.running.push(this.run(loop));
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const loop of this.loops) loop.wake?.();
    // Deliveries in flight get their timeout to finish; any left keep their lease and are retried later.
    const deadline = new Promise((resolve) => setTimeout(resolve, DELIVERY_TIMEOUT_MS).unref());
    await Promise.race([Promise.allSettled([...this.running, ...this.active]), deadline]);
  }

  private async run(loop: Loop): Promise<void> {
    while (!this.stopped) {
      let busy = false;
      try {
        busy = (await this.fanOut(loop.subscriber)) || busy;
        const free = SUBSCRIBER_CONCURRENCY - loop.inFlight;
        if (free > 0) {
          const now = this.now();
          const claimed = await this.repository.claim(
            loop.subscriber.id,
            this.store.instanceId,
            free,
            now.toISOString(),
            new Date(now.getTime() + LEASE_MS).toISOString(),
          );
          for (const delivery of claimed) this.start(loop, delivery);
          busy = busy || claimed.length > 0;
        }
      } catch (error) {
        this.logger.error({ err: error, subscriber: loop.subscriber.id }, 'webhook dispatch failed');
      }
      if (!busy || loop.inFlight >= SUBSCRIBER_CONCURRENCY) await pollOrWake(loop, POLL_MS);
    }
  }

  /** Turns the events past the subscriber's cursor into deliveries; true when there were any. */
  private async fanOut(subscriber: WebhookSubscriber): Promise<boolean> {
    const from = await this.repository.cursor(subscriber.id);
    if (from === undefined) return false;
    const events = await this.store.events.feed(decodeFeedCursor(from), FAN_OUT_PAGE);
    if (events.length === 0) return false;
    const wanted = subscriber.types ? events.filter((e) => subscriber.types!.includes(e.type)) : events;
    const to = encodeFeedCursor(events[events.length - 1].position);
    const statements = this.repository.fanOut(subscriber.id, from, to, wanted, this.now().toISOString());
    await this.store.writes.commit(statements.map((query) => ({ kind: 'sql' as const, query })));
    return true;
  }

  private start(loop: Loop, delivery: WebhookDeliveryTable): void {
    loop.inFlight += 1;
    const work = this.deliver(loop.subscriber, delivery)
      .catch((error: unknown) =>
        this.logger.error({ err: error, subscriber: loop.subscriber.id }, 'webhook delivery failed'),
      )
      .finally(() => {
        loop.inFlight -= 1;
        this.active.delete(work);
        loop.wake?.();
      });
    this.active.add(work);
  }

  private async deliver(subscriber: WebhookSubscriber, delivery: WebhookDeliveryTable): Promise<void> {
    const me = this.store.instanceId;
    const event = (await this.store.events.byIds([delivery.event_id])).get(delivery.event_id);
    if (!event) {
      // Removed by retention before it could be delivered.
      await this.giveUp(subscriber, delivery, delivery.attempts, this.now(), 'event no longer kept');
      return;
    }
    const attempts = delivery.attempts + 1;
    const body = JSON.stringify(toCloudEvent(event));
    const error = await post(subscriber, event.id, body);
    const now = this.now();
    if (error === undefined) {
      await this.repository.end(subscriber.id, event.id, me, 'DELIVERED', attempts, now.toISOString(), null);
      this.outcomes.inc({ subscriber: subscriber.id, result: 'delivered' });
      return;
    }
    const next = nextAttemptAt(attempts, new Date(delivery.created_at), now);
    if (next === undefined) {
      await this.giveUp(subscriber, delivery, attempts, now, error);
      return;
    }
    await this.repository.retryAt(delivery, me, attempts, next.toISOString(), error);
    this.outcomes.inc({ subscriber: subscriber.id, result: 'retried' });
    this.logger.info(
      { subscriber: subscriber.id, eventId: event.id, attempts, nextAttemptAt: next.toISOString(), error },
      'webhook delivery failed; will retry',
    );
  }

  private async giveUp(
    subscriber: WebhookSubscriber,
    delivery: WebhookDeliveryTable,
    attempts: number,
    now: Date,
    error: string,
  ): Promise<void> {
    const { event_id: eventId, subject } = delivery;
    const me = this.store.instanceId;
    await this.repository.end(subscriber.id, eventId, me, 'GIVEN_UP', attempts, now.toISOString(), error);
    this.outcomes.inc({ subscriber: subscriber.id, result: 'given_up' });
    this.logger.warn(
      { subscriber: subscriber.id, eventId, subject, attempts, queuedAt: delivery.created_at, error },
      'webhook delivery given up',
    );
  }

  private now(): Date {
    return new Date(this.clock());
  }
}

/** One attempt: undefined when delivered (2xx within the timeout), else why not. Redirects are not followed. */
async function post(subscriber: WebhookSubscriber, id: string, body: string): Promise<string | undefined> {
  try {
    const response = await fetch(subscriber.url, {
      method: 'POST',
      headers: webhookHeaders(subscriber.keyBase64, id, body),
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    // The body is not needed; reading it frees the connection (bounded by the same timeout).
    await response.arrayBuffer().catch(() => undefined);
    return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    const name = (error as Error | undefined)?.name;
    if (name === 'TimeoutError') return `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`;
    const cause = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
    return cause ?? (error instanceof Error ? error.message : String(error));
  }
}
