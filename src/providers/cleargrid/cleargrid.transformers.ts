/**
 * ClearGrid "Command": pure canonical ⇄ ClearGrid mapping (wire shapes in cleargrid.wire.ts). No I/O, no Nest.
 * Source: /work/shared/providers/README.md (ClearGrid) and the two ClearGrid endpoint pages.
 */
import {
  NO_PROVIDER_CODE,
  type CanonicalReason,
  type CanonicalStatus,
  type ErrorCode,
  type FieldError,
} from '../../domain/index.js';
import type { ChangeRequest, ProviderMapping, Translation } from '../provider-adapter.js';
import type { ParsedProviderError } from '../provider-errors.js';
import {
  CLEARGRID_DISPUTED,
  CLEARGRID_DO_NOT_CONTACT,
  CLEARGRID_WITHDRAW_STATUS,
  type ClearGridFlagStatus,
  type ClearGridLoginRequest,
  type ClearGridLoginResponse,
  type ClearGridRefreshRequest,
  type ClearGridRefreshResponse,
  type ClearGridStatusItem,
  type ClearGridWithdrawItem,
  type ClearGridBatch,
} from './cleargrid.wire.js';

export type ClearGridOperation = 'update-status' | 'withdraw';

export interface ClearGridChange {
  operation: ClearGridOperation;
  providerStatus: ClearGridFlagStatus | typeof CLEARGRID_WITHDRAW_STATUS;
  terminal: boolean;
}

type ClearGridMapping = ClearGridChange | { unsupported: string };

/**
 * CONTRACT.md section 5, ClearGrid column. ClearGrid values do not depend on the reason (it is not
 * sent). Withdraw is treated as terminal [inferred: no documented call re-opens a withdrawn account].
 */
const CLEARGRID_CHANGES = {
  ACTIVE: {
    unsupported: 'no documented ClearGrid status clears a dispute, a do-not-contact flag or a withdrawal',
  },
  SUSPENDED: { unsupported: 'ClearGrid has no status that suspends an account' },
  DELINQUENT: { unsupported: 'ClearGrid has no status that marks an account delinquent' },
  DISPUTED: { operation: 'update-status', providerStatus: CLEARGRID_DISPUTED, terminal: false },
  DO_NOT_CONTACT: { operation: 'update-status', providerStatus: CLEARGRID_DO_NOT_CONTACT, terminal: false },
  CLOSED: { operation: 'withdraw', providerStatus: CLEARGRID_WITHDRAW_STATUS, terminal: true },
} as const satisfies Record<CanonicalStatus, ClearGridMapping>;

/** The ClearGrid change for a canonical status, or undefined when ClearGrid cannot express it. */
export function clearGridChangeFor(status: CanonicalStatus): ClearGridChange | undefined {
  const mapping: ClearGridMapping = CLEARGRID_CHANGES[status];
  return 'unsupported' in mapping ? undefined : mapping;
}

export function translateClearGrid(
  status: CanonicalStatus,
  reason: CanonicalReason | undefined,
): Translation {
  const mapping: ClearGridMapping = CLEARGRID_CHANGES[status];
  if ('unsupported' in mapping) {
    const withReason = reason ? ` (reason ${reason})` : '';
    return { supported: false, why: `cleargrid cannot set ${status}${withReason}: ${mapping.unsupported}` };
  }
  return { supported: true, providerStatus: mapping.providerStatus };
}

/** A ClearGrid status value as translate gives it: a flag status, or the withdraw status. */
export type ClearGridProviderStatus = ClearGridChange['providerStatus'];

/** The write endpoint that sets a ClearGrid status value: withdraw for the withdraw status, else update-status. */
export function clearGridOperationOf(providerStatus: ClearGridProviderStatus): ClearGridOperation {
  return providerStatus === CLEARGRID_WITHDRAW_STATUS ? 'withdraw' : 'update-status';
}

export function isClearGridTerminal(status: CanonicalStatus): boolean {
  return clearGridChangeFor(status)?.terminal ?? false;
}

// ---- request bodies ----

/**
 * GUESS: the withdraw item. The docs name only `status` (3), `accountId`, `subAccountId` and
 * `debtorCompanyId` for a withdraw; nothing says which of the create fields it also needs. We send the
 * account-level withdraw with no `subAccountId`. To change the guess, change this function only.
 */
export function buildClearGridWithdrawItem(accountId: string, customerId: string): ClearGridWithdrawItem {
  return { status: CLEARGRID_WITHDRAW_STATUS, accountId, debtorCompanyId: customerId };
}

export function buildClearGridStatusItem(
  status: ClearGridFlagStatus,
  accountId: string,
  customerId: string,
): ClearGridStatusItem {
  return { status, debtorCompanyId: customerId, accountId };
}

/** The one-item batch for a change; `customerId` is ClearGrid's `debtorCompanyId`. */
export function buildClearGridChangeBody(
  change: Pick<ClearGridChange, 'providerStatus'>,
  accountId: string,
  customerId: string,
): ClearGridBatch<ClearGridStatusItem | ClearGridWithdrawItem> {
  const item =
    change.providerStatus === CLEARGRID_WITHDRAW_STATUS
      ? buildClearGridWithdrawItem(accountId, customerId)
      : buildClearGridStatusItem(change.providerStatus, accountId, customerId);
  return { accounts: [item] };
}

export function buildClearGridLoginBody(email: string, password: string): ClearGridLoginRequest {
  return { email, password };
}

export function buildClearGridRefreshBody(refreshToken: string): ClearGridRefreshRequest {
  return { refreshToken };
}

// ---- validation ----

/** ClearGrid needs the customer (`debtorCompanyId`) on every change and accepts no providerOptions. */
export function validateClearGridRequest(request: ChangeRequest): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof request.customerId !== 'string' || request.customerId.trim() === '') {
    errors.push({
      field: 'customerId',
      message: "is required for every cleargrid change (it is ClearGrid's debtorCompanyId)",
    });
  }
  const options: unknown = request.providerOptions;
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    errors.push({ field: 'providerOptions', message: 'must be an object' });
  } else if (options) {
    for (const key of Object.keys(options)) {
      errors.push({
        field: `providerOptions.${key}`,
        message: 'is not accepted by cleargrid (it takes no providerOptions)',
      });
    }
  }
  return errors;
}

// ---- responses ----

export function readClearGridLogin(body: unknown): ClearGridLoginResponse | undefined {
  if (!isRecord(body)) return undefined;
  const { lenderPublicId, token, refreshToken } = body;
  if (!nonEmpty(lenderPublicId) || !nonEmpty(token) || !nonEmpty(refreshToken)) return undefined;
  return { lenderPublicId, token, refreshToken };
}

export function readClearGridRefresh(body: unknown): ClearGridRefreshResponse | undefined {
  return isRecord(body) && nonEmpty(body.token) ? { token: body.token } : undefined;
}

/**
 * A 2xx answer of a write endpoint: `accepted` only for the documented envelope with an empty `errors`
 * array. An envelope that lists per-account errors (or carries a code ≥ 400) is a rejection even under
 * HTTP 200: ClearGrid reports validation per account, so accepting it would record a change that never
 * happens. Anything else is malformed.
 */
export function classifyClearGridAcceptance(body: unknown): 'accepted' | 'rejected' | 'malformed' {
  if (!isRecord(body) || !Array.isArray(body.errors)) return 'malformed';
  if (body.errors.length > 0) return 'rejected';
  return typeof body.code === 'number' && body.code >= 400 ? 'rejected' : 'accepted';
}

/** Per-account messages that mean the account does not exist [inferred wording]. */
const NOT_FOUND_PATTERN =
  /not\s+found|does\s+not\s+exist|doesn't\s+exist|no\s+such\s+account|unknown\s+account/i;
/** Per-account messages that mean the account is withdrawn, i.e. in its final state [inferred wording]. */
const CLOSED_PATTERN = /withdrawn|closed/i;

/**
 * ClearGrid's error bodies carry no error code (the envelope's numeric `code` only repeats the HTTP
 * status), so the code is always NO_PROVIDER_CODE and the message is kept verbatim: per-account
 * messages joined with "; ", or the `{error}` text. The canonical code is decided here only for
 * per-account errors; 401/403/429/5xx are left to the HTTP status.
 */
export function parseClearGridError(httpStatus: number, body: unknown): ParsedProviderError {
  if (!isRecord(body)) return { code: NO_PROVIDER_CODE, message: '' };
  if (typeof body.error === 'string') return { code: NO_PROVIDER_CODE, message: body.error };
  const messages = accountMessages(body.errors);
  const envelopeMessage = typeof body.message === 'string' ? body.message : '';
  const message = messages.length > 0 ? messages.join('; ') : envelopeMessage;
  const bodyDecides = httpStatus < 500 && httpStatus !== 401 && httpStatus !== 403 && httpStatus !== 429;
  if (!bodyDecides || messages.length === 0) return { code: NO_PROVIDER_CODE, message };
  return { code: NO_PROVIDER_CODE, message, canonical: canonicalForMessages(messages) };
}

function canonicalForMessages(messages: string[]): ErrorCode {
  if (messages.some((m) => NOT_FOUND_PATTERN.test(m))) return 'ACCOUNT_NOT_FOUND';
  if (messages.some((m) => CLOSED_PATTERN.test(m))) return 'ACCOUNT_CLOSED';
  return 'PROVIDER_REJECTED';
}

function accountMessages(errors: unknown): string[] {
  if (!Array.isArray(errors)) return [];
  const messages: string[] = [];
  for (const entry of errors as unknown[]) {
    if (typeof entry === 'string') messages.push(entry);
    else if (isRecord(entry) && Array.isArray(entry.errors)) {
      for (const text of entry.errors as unknown[]) if (typeof text === 'string') messages.push(text);
    }
  }
  return messages;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The port's pure side for ClearGrid. */
export const CLEARGRID_MAPPING: ProviderMapping = {
  translate: translateClearGrid,
  isTerminal: isClearGridTerminal,
  validate: validateClearGridRequest,
};
