/**
 * Canopy Servicing's wire shapes, paths, statuses and every guess, in one place. Nothing here leaves
 * the folder. Source: /work/shared/providers/README.md (Canopy) and canopy-update-account-status.md.
 */

export const CANOPY_PROVIDER = { id: 'canopy', name: 'Canopy Servicing' } as const;

/** Documented paths, relative to CANOPY_BASE_URL; the account id is percent-encoded here. */
export const CANOPY_PATHS = {
  token: '/auth/token',
  account: (accountId: string) => `/accounts/${encodeURIComponent(accountId)}`,
  status: (accountId: string) => `/accounts/${encodeURIComponent(accountId)}/status`,
} as const;

/** Fetch a new token this long before Canopy's `expires_in` runs out (clock skew, in-flight calls). */
export const TOKEN_REFRESH_SKEW_MS = 60_000;

/** GUESS: lifetime assumed when a token answer has no usable `expires_in` (Canopy documents 22899 s). */
export const DEFAULT_TOKEN_LIFETIME_S = 300;

/** `POST /auth/token` body and answer. */
export interface CanopyTokenRequest {
  client_id: string;
  client_secret: string;
}

export interface CanopyTokenResponse {
  access_token?: unknown;
  expires_in?: unknown;
}

export const CANOPY_ACCOUNT_STATUSES = ['ACTIVE', 'SUSPENDED', 'CLOSED'] as const;
export type CanopyAccountStatus = (typeof CANOPY_ACCOUNT_STATUSES)[number];

/** The documented `account_substatus` values (canopy-update-account-status.md); `""` means none. */
export const CANOPY_SUBSTATUSES = [
  'ADMINISTRATIVE',
  'INACTIVITY',
  'INELIGIBLE',
  'DELINQUENT',
  'CHARGE_OFF',
  'GRANTOR_REQUEST',
  'BANKRUPTCY',
  'PAID_OFF',
  'CUSTOMER_REQUEST_PENDING_PAYOFF',
  'GRANTOR_REQUEST_PENDING_PAYOFF',
  'DECEASED',
  'RISK_REVIEW',
  'FRAUD',
  'CUSTOMER_REQUEST',
  'RISK',
  'HARDSHIP/EXEMPTIONS',
  'SETTLEMENT',
] as const;
export type CanopySubstatus = (typeof CANOPY_SUBSTATUSES)[number];

/** The body of `PUT /accounts/{account_id}/status`; `account_substatus` is omitted when there is none. */
export interface CanopyStatusBody {
  account_status: CanopyAccountStatus;
  account_substatus?: CanopySubstatus;
}

/** What the gateway reports as `providerStatus` for Canopy. A type alias so it fits `ProviderStatusValue`. */
export type CanopyProviderStatus = { status: string; substatus: string | null };

/** The part of Canopy's account object the gateway reads; the rest (PII) is never looked at or kept. */
export interface CanopyAccountOverview {
  account_overview?: { account_status?: unknown; account_status_subtype?: unknown };
}

/** Canopy's error body [inferred from a public client]. */
export interface CanopyErrorBody {
  error?: { type?: unknown; code?: unknown; message?: unknown; details?: unknown };
  message?: unknown;
}

/**
 * GUESS (CONTRACT.md section 5 says so): canonical DELINQUENT is sent as SUSPENDED with substatus
 * DELINQUENT. Change these two constants if Canopy confirms another pair.
 */
export const CANOPY_DELINQUENT_STATUS: CanopyAccountStatus = 'SUSPENDED';
export const CANOPY_DELINQUENT_SUBSTATUS: CanopySubstatus = 'DELINQUENT';

/**
 * GUESS [inferred]: an expired token may come back as 403 with this `error.code` instead of 401.
 * Only this code triggers a re-authentication on 403; any other 403 (e.g. `forbidden`: the client is
 * not entitled to the account) is final and maps to PROVIDER_AUTH_FAILED without a new token.
 */
export const CANOPY_EXPIRED_TOKEN_CODE = 'not_authorized';
