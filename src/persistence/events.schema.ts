/**
 * The outbox (CONTRACT §7): one row per event, written in the transaction of the record it describes,
 * and the webhook deliveries made from it.
 */
import type { Generated } from 'kysely';

export interface EventTable {
  /** Insertion order (autoincrement / bigserial); within one transaction, the order of its events. */
  seq: Generated<string | number>;
  /**
   * PostgreSQL: the writing transaction's id (`pg_current_xact_id()`, xid8, as text); SQLite: 0 (one writer,
   * so insertion order is commit order). The feed serves rows in (txid, seq) order and only those whose
   * transaction is older than every transaction still running (see EventsRepository.feed).
   */
  txid: Generated<string | number>;
  id: string;
  type: string;
  subject: string;
  time: string;
  /** JSON of the event's `data`. */
  data: string;
}

export type DeliveryState = 'PENDING' | 'DELIVERED' | 'GIVEN_UP';

/** One event to one subscriber: its state survives restarts, so delivery is at least once. */
export interface WebhookDeliveryTable {
  subscriber_id: string;
  event_id: string;
  /** The event's feed position, for per-account order: (txid, seq). */
  event_txid: string | number;
  event_seq: string | number;
  subject: string;
  state: DeliveryState;
  attempts: number;
  created_at: string;
  next_attempt_at: string;
  /** The replica delivering it now, until `leased_until` (a lease, so one replica at a time). */
  leased_by: string | null;
  leased_until: string | null;
  ended_at: string | null;
  last_error: string | null;
}

/** How far each subscriber's deliveries have been made from the feed. */
export interface WebhookCursorTable {
  subscriber_id: string;
  cursor: string;
}
