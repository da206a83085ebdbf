/**
 * Spidr's wire shapes, paths, header and status spellings, in one place; nothing here leaves the folder.
 * Where Spidr's public material is silent the guess lives in ONE named constant, marked GUESS.
 */

export const SPIDR_PROVIDER = { id: 'spidr', name: 'Spidr' } as const;

/**
 * GUESS: Spidr documents "an API key per environment" but not the header that carries it.
 * `Authorization: Bearer <key>` is the most common convention for `sk_…` keys. If Spidr turns out to
 * want e.g. `x-api-key: <key>`, change to `{ name: 'x-api-key', value: (key) => key }` — the adapter,
 * the sandbox and the specs all read this constant. `name` is lower-case (Node's header spelling).
 */
export const SPIDR_API_KEY_HEADER = {
  name: 'authorization',
  value: (apiKey: string): string => `Bearer ${apiKey}`,
} as const;

/**
 * Spidr's account path. PATCH is documented (`/v1/account/:id`); GET on the same path is a GUESS
 * ([inferred] in the provider notes). The id is percent-encoded here, the only place a path is built.
 */
export function spidrAccountPath(accountId: string): string {
  return `/v1/account/${encodeURIComponent(accountId)}`;
}

/**
 * Every Spidr status string, in one map. GUESS: the lower-case spelling is inferred from Spidr's
 * examples (`"status":"closed"`, `close_with_refund`); if Spidr wants another spelling, change it here.
 */
export const SPIDR_STATUS = {
  active: 'active',
  suspended: 'suspended',
  delinquent: 'delinquent',
  closeWithRefund: 'close_with_refund',
  closeWithoutRefund: 'close_without_refund',
  closeChargedOff: 'close_charged_off',
  closePaidOff: 'close_paid_off',
  /** Only ever read: reads show `closed` with the close_* value in `statusReason`. */
  closed: 'closed',
} as const;

/** Spidr's documented error envelope. */
export interface SpidrErrorBody {
  status: 'error';
  error: { errorType?: string; errorCode?: string | null; message?: string; errorData?: unknown };
}

/** The part of Spidr's account object the gateway reads; the rest (user PII…) is never copied out. */
export interface SpidrAccountBody {
  id?: string;
  status: string;
  statusReason?: string | null;
}
