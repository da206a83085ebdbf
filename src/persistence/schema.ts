import type { BatchItemTable, BatchTable } from './batches.schema.js';
import type { EventTable, WebhookCursorTable, WebhookDeliveryTable } from './events.schema.js';

/**
 * Table shapes shared by both engines. Times are ISO-8601 UTC text (sortable, identical on SQLite and
 * PostgreSQL) and JSON is stored as text, so one repository serves both engines unchanged.
 */
export type AttemptOutcome = 'PENDING' | 'APPLIED' | 'ACCEPTED' | 'FAILED' | 'UNFINISHED';

export interface ChangeAttemptTable {
  change_id: string;
  provider: string;
  account_id: string;
  customer_id: string | null;
  caller_id: string;
  request_id: string;
  status: string;
  reason: string | null;
  note: string | null;
  idempotency_key: string | null;
  /** JSON of the provider request as sent, without credentials; null when none was built. */
  provider_request: string | null;
  outcome: AttemptOutcome;
  error_code: string | null;
  provider_http_status: number | null;
  provider_code: string | null;
  provider_message: string | null;
  /** JSON of the provider's status value only: never the provider's whole answer (it holds personal data). */
  provider_status: string | null;
  latency_ms: number | null;
  /** The gateway process that wrote the attempt; used to find attempts whose process died. */
  instance_id: string;
  created_at: string;
  completed_at: string | null;
  /** The batch the change came from (CONTRACT §6); null for a single change. */
  batch_id: string | null;
}

export type IdempotencyState = 'IN_PROGRESS' | 'COMPLETED';

export interface IdempotencyKeyTable {
  caller_id: string;
  idempotency_key: string;
  fingerprint: string;
  state: IdempotencyState;
  response_status: number | null;
  response_body: string | null;
  change_id: string | null;
  created_at: string;
  expires_at: string;
  /** While IN_PROGRESS: after this moment the holder is presumed dead and another request may take over. */
  locked_until: string;
  /** The gateway instance holding the key while IN_PROGRESS (null in rows older than migration 0003). */
  holder_instance: string | null;
}

export interface GatewayInstanceTable {
  instance_id: string;
  started_at: string;
  heartbeat_at: string;
}

/** The drift watch's last read of one account (CONTRACT §8); one row per watched account. */
export interface DriftCheckTable {
  provider: string;
  account_id: string;
  checked_at: string;
  /** The expectation read against: the account's latest APPLIED change, and its status. */
  change_id: string;
  expected_status: string;
  /** The canonical status read; null when the provider's value has no canonical name. */
  observed_status: string | null;
  /** JSON of the provider's own status value as read. */
  observed_provider_status: string | null;
  /** When the value now shown was first seen drifted from the expectation; null while in sync. */
  drifted_at: string | null;
}

export interface DatabaseSchema {
  change_attempts: ChangeAttemptTable;
  idempotency_keys: IdempotencyKeyTable;
  gateway_instances: GatewayInstanceTable;
  batches: BatchTable;
  batch_items: BatchItemTable;
  events: EventTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_cursors: WebhookCursorTable;
  drift_checks: DriftCheckTable;
}
