/** The canonical vocabulary of CONTRACT.md section 2. No Nest, no I/O. */

export const PROVIDER_IDS = ['cleargrid', 'canopy', 'pismo', 'spidr'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export const CANONICAL_STATUSES = [
  'ACTIVE',
  'SUSPENDED',
  'DELINQUENT',
  'DISPUTED',
  'DO_NOT_CONTACT',
  'CLOSED',
] as const;
export type CanonicalStatus = (typeof CANONICAL_STATUSES)[number];

/**
 * What a read map gives a provider status that has no canonical name (Pismo `DORMANT`, a custom
 * status): read maps are total over the provider's documented values and say so explicitly.
 */
export const NO_CANONICAL_STATUS = null;
export type NoCanonicalStatus = typeof NO_CANONICAL_STATUS;

export const CANONICAL_REASONS = [
  'FRAUD',
  'RISK_REVIEW',
  'BANKRUPTCY',
  'DECEASED',
  'HARDSHIP',
  'INACTIVITY',
  'CUSTOMER_REQUEST',
  'GRANTOR_REQUEST',
  'ADMINISTRATIVE',
  'COMPLIANCE',
  'CHARGED_OFF',
  'PAID_OFF',
  'SETTLEMENT',
] as const;
export type CanonicalReason = (typeof CANONICAL_REASONS)[number];

/** How the provider took a change: applied at once, or only accepted for later processing. */
export type ChangeOutcome = 'APPLIED' | 'ACCEPTED';

/**
 * The HTTP status a change answers with (CONTRACT §3): 202 when the provider only accepted it, else 200.
 * Kept beside the outcome, as ERROR_CATALOG keeps each error's, so the idempotency key can store the
 * status common/ will answer with without services importing the HTTP edge.
 */
export function changeHttpStatus(change: { outcome: ChangeOutcome }): 200 | 202 {
  return change.outcome === 'ACCEPTED' ? 202 : 200;
}

export function isCanonicalReason(value: unknown): value is CanonicalReason {
  return typeof value === 'string' && (CANONICAL_REASONS as readonly string[]).includes(value);
}
