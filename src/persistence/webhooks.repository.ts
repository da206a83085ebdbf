import { sql, type CompiledQuery, type Kysely, type Updateable } from 'kysely';
import type { Engine } from './database.js';
import type { StoredEvent } from './events.repository.js';
import type { DatabaseSchema } from './schema.js';
import type { WebhookDeliveryTable } from './events.schema.js';

/**
 * Webhook deliveries (CONTRACT §7), made from the feed: each subscriber has a cursor in the feed; the events
 * past it become PENDING deliveries (and the cursor moves) in one transaction, so none is lost or made twice.
 * A delivery is taken by one replica at a time under a lease; only the oldest PENDING delivery of a
 * subscriber and account may be taken, so a later event of an account waits for the earlier one.
 */
export class WebhooksRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly engine: Engine,
  ) {}

  async cursor(subscriberId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('webhook_cursors')
      .select('cursor')
      .where('subscriber_id', '=', subscriberId)
      .executeTakeFirst();
    return row?.cursor;
  }

  /** A new subscriber starts at `cursor` (the feed's end), unless another replica set it first. */
  async initCursor(subscriberId: string, cursor: string): Promise<void> {
    await this.db
      .insertInto('webhook_cursors')
      .values({ subscriber_id: subscriberId, cursor })
      .onConflict((oc) => oc.column('subscriber_id').doNothing())
      .execute();
  }

  /**
   * The statements that turn `events` (read from the feed after `from`) into PENDING deliveries and move the
   * cursor to `to`, to be committed together. The cursor moves only from where this reader found it, so a
   * replica that read the same page meanwhile changes nothing (deliveries are unique per subscriber and event).
   */
  fanOut(
    subscriberId: string,
    from: string,
    to: string,
    events: StoredEvent[],
    now: string,
  ): CompiledQuery[] {
    const statements: CompiledQuery[] = [];
    for (let start = 0; start < events.length; start += 200) {
      const rows: WebhookDeliveryTable[] = events.slice(start, start + 200).map((event) => ({
        subscriber_id: subscriberId,
        event_id: event.id,
        event_txid: this.engine === 'postgres' ? event.position.txid : Number(event.position.txid),
        event_seq: this.engine === 'postgres' ? event.position.seq : Number(event.position.seq),
        subject: event.subject,
        state: 'PENDING',
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        leased_by: null,
        leased_until: null,
        ended_at: null,
        last_error: null,
      }));
      statements.push(
        this.db
          .insertInto('webhook_deliveries')
          .values(rows)
          .onConflict((oc) => oc.columns(['subscriber_id', 'event_id']).doNothing())
          .compile(),
        waitBehindEarlier(
          subscriberId,
          rows.map((r) => r.event_id),
        ).compile(this.db),
      );
    }
    statements.push(
      this.db
        .updateTable('webhook_cursors')
        .set({ cursor: to })
        .where('subscriber_id', '=', subscriberId)
        .where('cursor', '=', from)
        .compile(),
    );
    return statements;
  }

  /**
   * Leases up to `limit` due deliveries of a subscriber to `instanceId` until `leaseUntil`: each the oldest
   * PENDING one of its account for this subscriber. PostgreSQL: rows another replica is leasing right now are
   * skipped (FOR UPDATE SKIP LOCKED), and a row leased meanwhile fails the re-checked condition.
   */
  async claim(
    subscriberId: string,
    instanceId: string,
    limit: number,
    now: string,
    leaseUntil: string,
  ): Promise<WebhookDeliveryTable[]> {
    const lock = this.engine === 'postgres' ? sql` for update skip locked` : sql``;
    const result = await sql<WebhookDeliveryTable>`update webhook_deliveries
      set leased_by = ${instanceId}, leased_until = ${leaseUntil}
      where state = 'PENDING' and next_attempt_at <= ${now}
        and (leased_until is null or leased_until < ${now})
        and (subscriber_id, event_id) in (
          select d.subscriber_id, d.event_id from webhook_deliveries d
          where d.subscriber_id = ${subscriberId} and d.state = 'PENDING' and d.next_attempt_at <= ${now}
            and (d.leased_until is null or d.leased_until < ${now})
            and not exists (
              select 1 from webhook_deliveries e
              where e.subscriber_id = d.subscriber_id and e.subject = d.subject and e.state = 'PENDING'
                and (e.event_txid, e.event_seq) < (d.event_txid, d.event_seq))
          order by d.event_txid, d.event_seq
          limit ${limit}${lock})
      returning subscriber_id, event_id, subject, state, attempts, created_at, next_attempt_at`.execute(
      this.db,
    );
    return result.rows;
  }

  /** Delivered, or given up: the delivery ends and the next event of its account may go. */
  async end(
    subscriberId: string,
    eventId: string,
    instanceId: string,
    state: 'DELIVERED' | 'GIVEN_UP',
    attempts: number,
    now: string,
    error: string | null,
  ): Promise<void> {
    await this.releaseLease(subscriberId, eventId, instanceId, {
      state,
      attempts,
      ended_at: now,
      last_error: error,
    });
  }

  /**
   * A failed attempt: tried again at `next` (the lease ends). The later deliveries of its account wait
   * until then too, so they are not due (and not scanned by every `claim`) while it waits.
   */
  async retryAt(
    delivery: Pick<WebhookDeliveryTable, 'subscriber_id' | 'event_id' | 'subject'>,
    instanceId: string,
    attempts: number,
    next: string,
    error: string,
  ): Promise<void> {
    const { subscriber_id: subscriberId, event_id: eventId, subject } = delivery;
    const released = await this.releaseLease(subscriberId, eventId, instanceId, {
      attempts,
      next_attempt_at: next,
      last_error: error,
    });
    if (!released) return;
    await this.db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: next })
      .where('subscriber_id', '=', subscriberId)
      .where('subject', '=', subject)
      .where('state', '=', 'PENDING')
      .where('event_id', '<>', eventId)
      .where('next_attempt_at', '<', next)
      .execute();
  }

  /**
   * Ends this process's lease on one delivery with `changes`; a lease another process took is left alone
   * (false).
   */
  private async releaseLease(
    subscriberId: string,
    eventId: string,
    instanceId: string,
    changes: Updateable<WebhookDeliveryTable>,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ ...changes, leased_by: null, leased_until: null })
      .where('subscriber_id', '=', subscriberId)
      .where('event_id', '=', eventId)
      .where('leased_by', '=', instanceId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Frees the leases of processes that died mid-delivery, so their deliveries are made again now rather
   * than when the lease lapses: on SQLite every other process (one serves the file), on PostgreSQL those
   * without a heartbeat since `staleBefore`.
   */
  async releaseDead(
    currentInstance: string,
    scope: { allOthers: true } | { staleBefore: Date },
  ): Promise<void> {
    let query = this.db
      .updateTable('webhook_deliveries')
      .set({ leased_by: null, leased_until: null })
      .where('state', '=', 'PENDING')
      .where('leased_by', 'is not', null)
      .where('leased_by', '<>', currentInstance);
    if ('staleBefore' in scope) {
      const staleBefore = scope.staleBefore.toISOString();
      query = query.where('leased_by', 'not in', (eb) =>
        eb.selectFrom('gateway_instances').select('instance_id').where('heartbeat_at', '>=', staleBefore),
      );
    }
    await query.execute();
  }

  /** Deliveries not yet made or given up, of these subscribers (those configured now). */
  async pending(subscriberIds: readonly string[]): Promise<number> {
    if (subscriberIds.length === 0) return 0;
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('state', '=', 'PENDING')
      .where('subscriber_id', 'in', subscriberIds)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

/**
 * New deliveries of an account that already has an earlier PENDING one for this subscriber are due no
 * sooner than it (its retry time): a backlog behind a failing subscriber is then not due, so `claim` does
 * not pass over it on every poll. Only ever a later time, never a state: the order itself is kept by
 * `claim`, and nothing can be left waiting for an update that did not happen.
 */
function waitBehindEarlier(subscriberId: string, eventIds: string[]) {
  return sql`update webhook_deliveries
    set next_attempt_at = (select max(e.next_attempt_at) from webhook_deliveries e
      where e.subscriber_id = webhook_deliveries.subscriber_id and e.subject = webhook_deliveries.subject
        and e.state = 'PENDING'
        and (e.event_txid, e.event_seq) < (webhook_deliveries.event_txid, webhook_deliveries.event_seq))
    where subscriber_id = ${subscriberId} and state = 'PENDING' and attempts = 0
      and event_id in (${sql.join(eventIds)})
      and next_attempt_at < (select max(e.next_attempt_at) from webhook_deliveries e
        where e.subscriber_id = webhook_deliveries.subscriber_id and e.subject = webhook_deliveries.subject
          and e.state = 'PENDING'
          and (e.event_txid, e.event_seq) < (webhook_deliveries.event_txid, webhook_deliveries.event_seq))`;
}
