/**
 * ClearGrid "Command" wire shapes, paths, status codes and guesses, in one place. Nothing here leaves
 * the folder. Source: /work/shared/providers/README.md (ClearGrid) and the two ClearGrid endpoint pages.
 */

export const CLEARGRID_PROVIDER = { id: 'cleargrid', name: 'ClearGrid Command' } as const;

/** GUESS: token lifetime when the token carries no JWT `exp` (ClearGrid documents none). */
export const DEFAULT_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A token is replaced this long before it expires, so it does not expire in flight. */
export const TOKEN_EXPIRY_SKEW_MS = 30_000;

export interface ClearGridLoginRequest {
  email: string;
  password: string;
}

export interface ClearGridLoginResponse {
  lenderPublicId: string;
  token: string;
  refreshToken: string;
}

export interface ClearGridRefreshRequest {
  refreshToken: string;
}

export interface ClearGridRefreshResponse {
  token: string;
}

/** One item of `POST …/accounts/update-status`. */
export interface ClearGridStatusItem {
  status: ClearGridFlagStatus;
  debtorCompanyId: string;
  accountId: string;
}

/** One item of `POST …/accounts` (create/update/withdraw); only the withdraw form is built here. */
export interface ClearGridWithdrawItem {
  status: typeof CLEARGRID_WITHDRAW_STATUS;
  accountId: string;
  debtorCompanyId: string;
}

export interface ClearGridBatch<Item> {
  accounts: Item[];
}

/** Per-account validation result inside the envelope. */
export interface ClearGridAccountErrors {
  accountId: string;
  errors: string[];
}

/** The `{code, message, body, errors}` envelope of both write endpoints (200 and 400). */
export interface ClearGridEnvelope {
  code: number;
  message: string | null;
  body: string;
  errors: ClearGridAccountErrors[];
}

/** 401 / 500 (and, by guess, 403 and 429) body. */
export interface ClearGridErrorBody {
  error: string;
}

/** Documented paths, relative to the host root (CLEARGRID_BASE_URL, e.g. https://v3-api.cleargrid.ai). */
export const CLEARGRID_PATHS = {
  login: (lender: string) => `/admin/auth/${encodeURIComponent(lender)}/login`,
  refresh: (lender: string) => `/admin/auth/${encodeURIComponent(lender)}/refresh-token`,
  'update-status': (lenderPublicId: string) =>
    `/admin/v3/lenders/${encodeURIComponent(lenderPublicId)}/accounts/update-status`,
  withdraw: (lenderPublicId: string) => `/admin/v3/lenders/${encodeURIComponent(lenderPublicId)}/accounts`,
} as const;

export const CLEARGRID_DISPUTED = 5;
export const CLEARGRID_DO_NOT_CONTACT = 6;
export type ClearGridFlagStatus = typeof CLEARGRID_DISPUTED | typeof CLEARGRID_DO_NOT_CONTACT;
/** Item `status` 3 of the create/update endpoint = Withdraw (1 = create, 2 = update). */
export const CLEARGRID_WITHDRAW_STATUS = 3;
