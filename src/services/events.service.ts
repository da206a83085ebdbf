import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { GatewayError } from '../domain/index.js';
import {
  toCloudEvent,
  type ChangeEventData,
  type CloudEvent,
  type EventType,
} from '../events/cloud-events.js';
import { FEED_START, type FeedPosition } from '../persistence/events.repository.js';
import { Store } from '../persistence/store.js';
import { LOGGER_TOKEN } from './tokens.js';

export const EVENTS_DEFAULT_LIMIT = 100;
/** How often events past EVENT_RETENTION_DAYS are removed. */
export const PRUNE_EVERY_MS = 60 * 60_000;

/** One change attempt (CONTRACT §7): the facts its event repeats, and the rest of its record. */
export interface ChangeRecord extends Omit<ChangeEventData, 'outcome' | 'errorCode'> {
  note: string | null;
  /** PENDING while it runs, then how it ended. */
  outcome: string;
  errorCode: string | null;
  providerHttpStatus: number | null;
  requestedAt: string;
  completedAt: string | null;
}

export interface EventsPage {
  items: CloudEvent[];
  nextCursor: string;
}

/** Change records and the event feed (CONTRACT §7), and the feed's retention. */
@Injectable()
export class EventsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(Store) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER_TOKEN) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const prune = () => {
      this.prune().catch((error: unknown) => this.logger.error({ err: error }, 'event pruning failed'));
    };
    prune();
    this.timer = setInterval(prune, PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async prune(now = new Date()): Promise<number> {
    const before = new Date(now.getTime() - this.config.eventRetentionDays * 24 * 60 * 60_000);
    const pruned = await this.store.events.prune(before);
    if (pruned > 0) this.logger.info({ pruned }, 'events past EVENT_RETENTION_DAYS removed');
    return pruned;
  }

  async change(changeId: string): Promise<ChangeRecord> {
    const row = await this.store.audit.find(changeId);
    if (!row) throw new GatewayError('NOT_FOUND', `No change ${changeId}`);
    return {
      changeId: row.change_id,
      batchId: row.batch_id ?? null,
      provider: row.provider,
      accountId: row.account_id,
      status: row.status,
      reason: row.reason,
      note: row.note,
      callerId: row.caller_id,
      requestId: row.request_id,
      outcome: row.outcome,
      errorCode: row.error_code,
      providerStatus: row.provider_status === null ? null : (JSON.parse(row.provider_status) as unknown),
      providerHttpStatus: row.provider_http_status,
      requestedAt: row.created_at,
      completedAt: row.completed_at,
    };
  }

  async feed(query: {
    after?: string;
    limit?: number;
    type?: EventType;
    subject?: string;
  }): Promise<EventsPage> {
    const after = query.after === undefined ? FEED_START : decodeFeedCursor(query.after);
    const events = await this.store.events.feed(after, query.limit ?? EVENTS_DEFAULT_LIMIT, {
      type: query.type,
      subject: query.subject,
    });
    const last = events.length > 0 ? events[events.length - 1].position : after;
    return { items: events.map(toCloudEvent), nextCursor: encodeFeedCursor(last) };
  }
}

const CURSOR_PREFIX = 'e1.';

export function encodeFeedCursor(position: FeedPosition): string {
  return CURSOR_PREFIX + Buffer.from(`${position.txid}.${position.seq}`, 'utf8').toString('base64url');
}

export function decodeFeedCursor(cursor: string): FeedPosition {
  const invalid = () =>
    GatewayError.validation([{ field: 'after', message: 'after is not a cursor this API returned' }]);
  if (!cursor.startsWith(CURSOR_PREFIX)) throw invalid();
  const text = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  const match = /^(\d{1,20})\.(\d{1,19})$/.exec(text);
  if (!match || BigInt(match[1]) > 18446744073709551615n || BigInt(match[2]) > 9223372036854775807n)
    throw invalid();
  return { txid: match[1], seq: match[2] };
}
