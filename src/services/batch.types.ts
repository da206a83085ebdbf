import type { CanonicalReason, CanonicalStatus } from '../domain/index.js';

/** CONTRACT §6 limits and names, shared by the API's DTOs and the batch service. */
export const BATCH_MAX_ITEMS = 1000;
export const BATCH_ITEMS_DEFAULT_LIMIT = 100;
export const BATCH_ITEMS_MAX_LIMIT = 1000;
export const BATCH_OUTCOMES = [
  'PENDING',
  'APPLIED',
  'ACCEPTED',
  'FAILED',
  'UNFINISHED',
  'CANCELLED',
] as const;
export type BatchOutcome = (typeof BATCH_OUTCOMES)[number];

/** One change of a batch, as validated by the API layer. */
export interface BatchItemInput {
  provider: string;
  accountId: string;
  status: CanonicalStatus;
  reason?: CanonicalReason;
  customerId?: string;
  note?: string;
  providerOptions?: Record<string, unknown>;
}

export interface BatchSummary {
  batchId: string;
  state: 'RUNNING' | 'DONE' | 'CANCELLED';
  total: number;
  counts: Record<BatchOutcome, number>;
  createdAt: string;
  completedAt: string | null;
}

export interface BatchItemResult {
  index: number;
  provider: string;
  accountId: string;
  status: string;
  reason: string | null;
  outcome: BatchOutcome;
  changeId: string | null;
  providerStatus: unknown;
  error: unknown;
}

export interface BatchItemsPage {
  items: BatchItemResult[];
  nextCursor: string | null;
}
