/**
 * Pismo's wire shapes and every guess about its API, in one place. Nothing here leaves the folder.
 * `[guess]` marks a value the public docs do not state; each is a constant so it is a one-line change.
 */
import type { PismoAccountApi } from './pismo.settings.js';

export const PISMO_PROVIDER = { id: 'pismo', name: 'Pismo' } as const;

/** The s2s flow (server key + secret + account), documented: `PISMO_AUTH=s2s`. */
export const PISMO_TOKEN_PATH = '/passport/v2/s2s/access-token';

/** The OpenID flow: a signed JWT exchanged for an account token (`{"token"}` → 201). */
export const PISMO_OPENID_TOKEN_PATH = '/passport/v1/oauth2/token';

export type PismoAuth = 'openid' | 's2s';

/**
 * [guess] Every choice about which token the account endpoints take, in one place. The two Pismo pages
 * disagree: the corporate v1 page (deprecated for v2) says the corporate endpoints take a token from
 * "the OpenID endpoint with an external account ID" (claim `external_account_id`); the v2 page (our seed)
 * says "an access token encoded with a Pismo account ID". The gateway knows only the caller's external
 * id, so it can mint only the first kind: OpenID bound to `external_account_id` for the corporate API,
 * s2s bound to the Pismo `account_id` for the regular accounts API. Switching the binding is one line:
 * the flow (`auth`, the default when PISMO_AUTH is unset) or the claim naming the account (`claim`).
 */
export const PISMO_TOKEN_BINDING = {
  corporate: { auth: 'openid', claim: 'external_account_id' },
  accounts: { auth: 's2s', claim: 'uid' },
} as const satisfies Record<PismoAccountApi, { auth: PismoAuth; claim: string }>;

/** [guess] How long a signed OpenID assertion is valid ("a few minutes"); `sub` is the account id. */
export const PISMO_JWT_LIFETIME_SECONDS = 300;

/**
 * [guess] The s2s body field that binds the token to an account. For the corporate API the docs only
 * say the token must carry the `external_account_id` claim; we send the external account id in
 * `account_id`. If the live API wants it elsewhere, set this to e.g. `'external_account_id'`.
 */
export const PISMO_CORPORATE_TOKEN_ACCOUNT_FIELD = 'account_id';

/** The s2s body field for a regular (numeric) Pismo account id; documented. */
export const PISMO_ACCOUNTS_TOKEN_ACCOUNT_FIELD = 'account_id';

/**
 * [guess] Token lifetime when the token answer carries neither `expires_in` nor a readable JWT `exp`:
 * "about 10 minutes", from an example in Pismo's docs.
 */
export const PISMO_DEFAULT_TOKEN_LIFETIME_MS = 10 * 60_000;

/** Drop a cached token this long before it expires (tokens are short, so less than the 30 s default). */
export const PISMO_TOKEN_SKEW_MS = 20_000;

interface PismoApiPaths {
  write: (accountId: string) => string;
  read: (accountId: string) => string;
}

/** Paths per account API; the account id is already percent-encoded by the caller. */
export const PISMO_PATHS = {
  corporate: {
    // Documented (the seed page).
    write: (id) => `/corporate/v2/corporate-accounts/${id}/status`,
    // [guess] The docs list this GET among external-id-token endpoints; its body (`status`) is inferred.
    read: (id) => `/corporate/v1/corporate-accounts/${id}`,
  },
  accounts: {
    // [guess] Path and version inferred from the regular Accounts API.
    write: (id) => `/accounts/v2/accounts/${id}/status`,
    // [guess] Path and version inferred.
    read: (id) => `/accounts/v1/accounts/${id}`,
  },
} as const satisfies Record<PismoAccountApi, PismoApiPaths>;

/** [guess] Field names of the regular Accounts API status body; only `status` is certain. */
export const PISMO_ACCOUNTS_FIELDS = {
  status: 'status',
  reason: 'reason_id',
  description: 'description',
} as const;

/** [guess] Fields a read may carry the reason in: corporate `reason_external_id`, accounts `reason_id`. */
export const PISMO_READ_REASON_FIELDS = ['reason_external_id', 'reason_id'] as const;

/** The documented limit on `reason_external_id` (1–120 characters). */
export const PISMO_REASON_MAX_LENGTH = 120;

/** The documented limit on the corporate `externalAccountId` path parameter. */
export const PISMO_EXTERNAL_ACCOUNT_ID_MAX_LENGTH = 60;

export interface PismoTokenRequest {
  server_key: string;
  server_secret: string;
  account_id?: string | number;
  external_account_id?: string;
}

/** The OpenID exchange's answer (201). */
export interface PismoOpenIdTokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
}

/** Only `token` is documented; `expires_in` (seconds) is read when present. */
export interface PismoTokenResponse {
  token: string;
  expires_in?: number;
}

/** PATCH /corporate/v2/corporate-accounts/{externalAccountId}/status */
export interface PismoCorporateStatusBody {
  status: string;
  reason_external_id?: string;
  update_children?: boolean;
  metadata?: Record<string, unknown>;
}

/** PATCH /accounts/v2/accounts/{accountId}/status (field names per PISMO_ACCOUNTS_FIELDS). */
export interface PismoAccountsStatusBody {
  status: string;
  reason_id?: string;
  description?: string;
}

export type PismoStatusBody = PismoCorporateStatusBody | PismoAccountsStatusBody;

/** `{code, message}`; the regular API and the gateway layer may send only `{message}`. */
export interface PismoErrorBody {
  code?: string;
  message?: string;
}

/** The part of an account read we use; the rest (names, documents) is never passed on. */
export interface PismoAccountBody {
  status: string;
  reason_external_id?: string;
  reason_id?: string;
}

/** Pismo's own statuses. `DEBIT_ONLY`, dormancy and custom ones have no canonical equivalent. */
export const PISMO_STATUS = {
  NORMAL: 'NORMAL',
  BLOCKED: 'BLOCKED',
  CANCELLED: 'CANCELLED',
} as const;

/** Pismo's documented dormancy statuses (set by Pismo itself, never by a status write). */
export const PISMO_DORMANCY_STATUSES = ['INACTIVE', 'DORMANT', 'UNCLAIMED'] as const;

/** Every account status Pismo documents; reads are mapped over exactly these. */
export const PISMO_DOCUMENTED_STATUSES = [
  PISMO_STATUS.NORMAL,
  PISMO_STATUS.BLOCKED,
  PISMO_STATUS.CANCELLED,
  'DEBIT_ONLY',
  ...PISMO_DORMANCY_STATUSES,
] as const;
export type PismoDocumentedStatus = (typeof PISMO_DOCUMENTED_STATUSES)[number];
