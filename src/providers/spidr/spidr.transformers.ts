/**
 * Spidr (card and line-of-credit issuing): wire shapes and pure canonical ⇄ Spidr mapping.
 * No I/O, no Nest. The `Spidr*` wire types never leave this folder.
 *
 * Where Spidr's public material is silent (the API key header, the read path, the lower-case status
 * spelling, the ZTM field names, the code of a closed-account refusal) the guess lives in ONE named
 * constant below, marked GUESS, so it can be changed in one place once a live sandbox tells.
 */
import {
  NO_CANONICAL_STATUS,
  NO_PROVIDER_CODE,
  type NoCanonicalStatus,
  type CanonicalReason,
  type CanonicalStatus,
  type ErrorCode,
  type FieldError,
} from '../../domain/index.js';
import type { ProviderMapping, StatusReading, Translation } from '../provider-adapter.js';
import type { ParsedProviderError } from '../provider-errors.js';
import { SPIDR_STATUS, type SpidrAccountBody, type SpidrErrorBody } from './spidr.wire.js';

/** The values `PATCH /v1/account/:id` accepts as `status`. */
export const SPIDR_WRITE_STATUSES = [
  SPIDR_STATUS.active,
  SPIDR_STATUS.suspended,
  SPIDR_STATUS.delinquent,
  SPIDR_STATUS.closeWithRefund,
  SPIDR_STATUS.closeWithoutRefund,
  SPIDR_STATUS.closeChargedOff,
  SPIDR_STATUS.closePaidOff,
] as const;
export type SpidrWriteStatus = (typeof SPIDR_WRITE_STATUSES)[number];

export const SPIDR_CLOSE_STATUSES: readonly SpidrWriteStatus[] = [
  SPIDR_STATUS.closeWithRefund,
  SPIDR_STATUS.closeWithoutRefund,
  SPIDR_STATUS.closeChargedOff,
  SPIDR_STATUS.closePaidOff,
];

type SpidrRule =
  | {
      supported: true;
      value: SpidrWriteStatus;
      byReason?: Partial<Record<CanonicalReason, SpidrWriteStatus>>;
    }
  | { supported: false };

/** CONTRACT.md section 5, Spidr column. Reasons change only the CLOSED value. */
const SPIDR_TRANSLATION = {
  ACTIVE: { supported: true, value: SPIDR_STATUS.active },
  SUSPENDED: { supported: true, value: SPIDR_STATUS.suspended },
  DELINQUENT: { supported: true, value: SPIDR_STATUS.delinquent },
  DISPUTED: { supported: false },
  DO_NOT_CONTACT: { supported: false },
  CLOSED: {
    supported: true,
    // Spidr: close_without_refund for fraud and compliance; close_with_refund for good standing.
    value: SPIDR_STATUS.closeWithRefund,
    byReason: {
      FRAUD: SPIDR_STATUS.closeWithoutRefund,
      COMPLIANCE: SPIDR_STATUS.closeWithoutRefund,
      CHARGED_OFF: SPIDR_STATUS.closeChargedOff,
      PAID_OFF: SPIDR_STATUS.closePaidOff,
    },
  },
} as const satisfies Record<CanonicalStatus, SpidrRule>;

export function translateSpidr(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation {
  const rule: SpidrRule = SPIDR_TRANSLATION[status];
  if (!rule.supported) {
    const what = reason ? `${status} (reason ${reason})` : status;
    return {
      supported: false,
      why: `Spidr cannot express ${what}: its account statuses are active, suspended, delinquent and the close_* statuses`,
    };
  }
  return { supported: true, providerStatus: (reason && rule.byReason?.[reason]) || rule.value };
}

/** Spidr: once closed an account cannot be reopened; the user must reapply. */
export function isSpidrTerminal(status: CanonicalStatus): boolean {
  return status === 'CLOSED';
}

/**
 * GUESS: the body field names of the ZTM ("zero trust") options are inferred from the Edit Account
 * page; the gateway's providerOptions keys (CONTRACT.md) stay the same if these change.
 */
export const SPIDR_ZTM_FIELDS = { sessionKey: 'ztmSessionKey', bypass: 'bypassZtm' } as const;

export const SPIDR_OPTION_KEYS = ['ztmSessionKey', 'bypassZtm'] as const;
const ZTM_SESSION_KEY_MAX = 256;

/** `PATCH /v1/account/:id` body, as the gateway sends it. */
export type SpidrEditAccountBody = { status: SpidrWriteStatus } & Record<string, string | boolean>;

/** Builds the Edit Account body from a translated status and the (already validated) providerOptions. */
export function buildSpidrEditAccountBody(
  status: SpidrWriteStatus,
  providerOptions: Record<string, unknown> | undefined,
): SpidrEditAccountBody {
  const body: SpidrEditAccountBody = { status };
  const sessionKey = providerOptions?.ztmSessionKey;
  const bypass = providerOptions?.bypassZtm;
  if (typeof sessionKey === 'string') body[SPIDR_ZTM_FIELDS.sessionKey] = sessionKey;
  if (typeof bypass === 'boolean') body[SPIDR_ZTM_FIELDS.bypass] = bypass;
  return body;
}

export function isSpidrWriteStatus(value: unknown): value is SpidrWriteStatus {
  return typeof value === 'string' && (SPIDR_WRITE_STATUSES as readonly string[]).includes(value);
}

/** providerOptions for Spidr: `{ztmSessionKey: string (1–256), bypassZtm: boolean}`; unknown keys rejected. */
export function validateSpidrOptions(providerOptions: unknown): FieldError[] {
  if (providerOptions === undefined) return [];
  if (typeof providerOptions !== 'object' || providerOptions === null || Array.isArray(providerOptions)) {
    return [{ field: 'providerOptions', message: 'must be an object' }];
  }
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(providerOptions)) {
    const field = `providerOptions.${key}`;
    if (key === 'ztmSessionKey') {
      if (typeof value !== 'string' || value.length === 0 || value.length > ZTM_SESSION_KEY_MAX) {
        errors.push({
          field,
          message: `must be a non-empty string of at most ${ZTM_SESSION_KEY_MAX} characters`,
        });
      }
    } else if (key === 'bypassZtm') {
      if (typeof value !== 'boolean') errors.push({ field, message: 'must be a boolean' });
    } else {
      errors.push({ field, message: `is not a Spidr option (allowed: ${SPIDR_OPTION_KEYS.join(', ')})` });
    }
  }
  return errors;
}

/**
 * GUESS: Spidr does not document the errorCode of a write to a closed account; the sandbox answers
 * `ACCOUNT_ERROR` / `ACCOUNT_CLOSED`. Add the live code here once seen. As a fallback, an
 * `ACCOUNT_ERROR` whose message says the account is closed counts too.
 */
export const SPIDR_ACCOUNT_CLOSED_CODES: readonly string[] = ['ACCOUNT_CLOSED'];

/** errorTypes that are the caller's or the request's fault (4xx): PROVIDER_REJECTED. */
const SPIDR_REJECTED_TYPES: readonly string[] = [
  'INVALID_REQUEST',
  'INVALID_INPUT',
  'INPUT_ERROR',
  'USER_ERROR',
  'CARD_ERROR',
  'ZTM_ERROR',
  'ACCOUNT_ERROR',
];

export function isSpidrErrorBody(body: unknown): body is SpidrErrorBody {
  if (!isRecord(body) || !isRecord(body.error)) return false;
  return body.status === 'error' || typeof body.error.errorType === 'string';
}

/** Spidr's error body → its own code (errorCode, else errorType) and message, and the canonical code it decides. */
export function parseSpidrError(httpStatus: number, body: unknown): ParsedProviderError {
  if (!isSpidrErrorBody(body)) {
    const message = isRecord(body) && typeof body.message === 'string' ? body.message : '';
    return { code: NO_PROVIDER_CODE, message, canonical: canonicalForStatusOnly(httpStatus) };
  }
  const { errorType, errorCode, message } = body.error;
  const code = nonEmpty(errorCode) ?? nonEmpty(errorType) ?? NO_PROVIDER_CODE;
  return { code, message: message ?? '', canonical: canonicalFor(httpStatus, errorType, errorCode, message) };
}

/** The HTTP status decides first: a static key cannot be refreshed, and 429 is a 429 whatever the body says. */
function canonicalForStatusOnly(httpStatus: number): ErrorCode | undefined {
  if (httpStatus === 401 || httpStatus === 403) return 'PROVIDER_AUTH_FAILED';
  if (httpStatus === 429) return 'RATE_LIMITED';
  return undefined;
}

function canonicalFor(
  httpStatus: number,
  errorType: string | undefined,
  errorCode: string | null | undefined,
  message: string | undefined,
): ErrorCode | undefined {
  const byStatus = canonicalForStatusOnly(httpStatus);
  if (byStatus) return byStatus;
  if (errorType === 'NOT_FOUND') return 'ACCOUNT_NOT_FOUND';
  if (errorCode && SPIDR_ACCOUNT_CLOSED_CODES.includes(errorCode)) return 'ACCOUNT_CLOSED';
  if (errorType === 'ACCOUNT_ERROR' && /\bclosed\b/i.test(message ?? '')) return 'ACCOUNT_CLOSED';
  if (errorType === 'LOOKUP_ERROR' || httpStatus >= 500) return 'PROVIDER_ERROR';
  if (errorType && SPIDR_REJECTED_TYPES.includes(errorType)) return 'PROVIDER_REJECTED';
  return undefined;
}

export function isSpidrAccountBody(body: unknown): body is SpidrAccountBody {
  return isRecord(body) && typeof body.status === 'string' && body.status !== 'error';
}

type SpidrStatusValue = (typeof SPIDR_STATUS)[keyof typeof SPIDR_STATUS];
type SpidrCloseValue = Exclude<SpidrStatusValue, 'active' | 'suspended' | 'delinquent' | 'closed'>;

/** Spidr status → canonical, for reads: total over every documented value (each has a canonical name). */
const SPIDR_READ_STATUS = {
  active: 'ACTIVE',
  suspended: 'SUSPENDED',
  delinquent: 'DELINQUENT',
  closed: 'CLOSED',
  close_with_refund: 'CLOSED',
  close_without_refund: 'CLOSED',
  close_charged_off: 'CLOSED',
  close_paid_off: 'CLOSED',
} as const satisfies Record<SpidrStatusValue, CanonicalStatus | NoCanonicalStatus>;

/** How a close_* value reads back as a canonical reason; with/without refund say nothing about why. */
const SPIDR_CLOSE_REASON = {
  close_with_refund: null,
  close_without_refund: null,
  close_charged_off: 'CHARGED_OFF',
  close_paid_off: 'PAID_OFF',
} as const satisfies Record<SpidrCloseValue, CanonicalReason | null>;

/**
 * Spidr's account → canonical reading. `providerStatus` is always `{status, statusReason}` as Spidr
 * sent them (statusReason null when absent), so callers see one shape whether or not the account is
 * closed. Unknown statuses read as status null, never a throw. Matching ignores case, and a close_*
 * value in `status` itself is read as closed with that reason (in case reads echo the written value).
 */
export function readingFromSpidrAccount(account: SpidrAccountBody): StatusReading {
  const statusReason = typeof account.statusReason === 'string' ? account.statusReason : null;
  const providerStatus = { status: account.status, statusReason };
  const value = account.status.toLowerCase();
  if (!hasOwn(SPIDR_READ_STATUS, value)) return { status: NO_CANONICAL_STATUS, reason: null, providerStatus };
  const status = SPIDR_READ_STATUS[value];
  if (status !== 'CLOSED') return { status, reason: null, providerStatus };
  // `closed` carries its close_* value in statusReason; a close_* value in `status` carries it itself.
  const closeValue = value === SPIDR_STATUS.closed ? statusReason?.toLowerCase() : value;
  const reason =
    closeValue !== undefined && hasOwn(SPIDR_CLOSE_REASON, closeValue)
      ? SPIDR_CLOSE_REASON[closeValue]
      : null;
  return { status, reason, providerStatus };
}

function hasOwn<T extends object>(map: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(map, key);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** The port's pure side for Spidr. */
export const SPIDR_MAPPING: ProviderMapping = {
  translate: translateSpidr,
  isTerminal: isSpidrTerminal,
  validate: (request) => validateSpidrOptions(request.providerOptions),
};
