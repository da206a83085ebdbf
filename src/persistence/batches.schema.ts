/**
 * Batch tables (CONTRACT §6). An item's `outcome` is one of the summary's count names, plus RUNNING:
 * claimed by a gateway process, its provider call possibly in flight (counted as PENDING to callers).
 */
export type BatchItemOutcome =
  'PENDING' | 'RUNNING' | 'APPLIED' | 'ACCEPTED' | 'FAILED' | 'UNFINISHED' | 'CANCELLED';

export interface BatchTable {
  batch_id: string;
  caller_id: string;
  idempotency_key: string | null;
  /** SHA-256 of the request (stable JSON), compared when the key comes again. */
  fingerprint: string | null;
  request_id: string;
  total: number;
  created_at: string;
  /** When DELETE cancelled the batch's items not started yet; null otherwise. */
  cancelled_at: string | null;
}

export interface BatchItemTable {
  batch_id: string;
  item_index: number;
  provider: string;
  /**
   * Which worker lane executes the item: the provider id, or for ClearGrid its endpoint
   * (`cleargrid:update-status`, `cleargrid:withdraw`), so one claim is one ClearGrid request.
   */
  lane: string;
  account_id: string;
  customer_id: string | null;
  status: string;
  reason: string | null;
  note: string | null;
  /** JSON text. */
  provider_options: string | null;
  outcome: BatchItemOutcome;
  /** Assigned at creation: the change record's primary key, so an item can be recorded (and sent) once only. */
  change_id: string;
  /** JSON of the provider's status value, once applied or accepted. */
  provider_status: string | null;
  /** JSON of the item's problem+json body when it failed. */
  error: string | null;
  claimed_by: string | null;
  claimed_at: string | null;
  completed_at: string | null;
}
