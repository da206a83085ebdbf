/**
 * Canopy Servicing: pure canonical ⇄ Canopy mapping (CONTRACT.md section 5); wire shapes and guesses
 * in canopy.wire.ts. No I/O, no Nest.
 */
import { NO_PROVIDER_CODE, type CanonicalReason, type CanonicalStatus } from '../../domain/index.js';
import type { ProviderMapping, ProviderStatusValue, StatusReading } from '../provider-adapter.js';
import type { ParsedProviderError } from '../provider-errors.js';
import {
  CANOPY_DELINQUENT_STATUS,
  CANOPY_DELINQUENT_SUBSTATUS,
  CANOPY_EXPIRED_TOKEN_CODE,
  type CanopyAccountOverview,
  type CanopyAccountStatus,
  type CanopyErrorBody,
  type CanopyProviderStatus,
  type CanopyStatusBody,
  type CanopySubstatus,
} from './canopy.wire.js';

/** Canonical reason → substatus; `null` = Canopy cannot express that reason (CONTRACT.md section 5). */
const SUBSTATUS_FOR_REASON = {
  FRAUD: 'FRAUD',
  RISK_REVIEW: 'RISK_REVIEW',
  BANKRUPTCY: 'BANKRUPTCY',
  DECEASED: 'DECEASED',
  HARDSHIP: 'HARDSHIP/EXEMPTIONS',
  INACTIVITY: 'INACTIVITY',
  CUSTOMER_REQUEST: 'CUSTOMER_REQUEST',
  GRANTOR_REQUEST: 'GRANTOR_REQUEST',
  ADMINISTRATIVE: 'ADMINISTRATIVE',
  COMPLIANCE: null,
  CHARGED_OFF: 'CHARGE_OFF',
  PAID_OFF: 'PAID_OFF',
  SETTLEMENT: 'SETTLEMENT',
} as const satisfies Record<CanonicalReason, CanopySubstatus | null>;

type Rule =
  /** Status plus the substatus taken from the reason (none without a reason). */
  | { kind: 'status+reason'; status: CanopyAccountStatus }
  /** A fixed pair; `reasons` lists the only reasons accepted (no reason is always accepted). */
  | {
      kind: 'fixed';
      status: CanopyAccountStatus;
      substatus: CanopySubstatus | null;
      reasons: readonly CanonicalReason[];
    }
  | { kind: 'unsupported' };

/**
 * ACTIVE takes no reason or HARDSHIP only. DELINQUENT takes no reason: Canopy carries one substatus
 * and DELINQUENT uses it, so a reason would be silently lost (decision: refuse rather than drop).
 */
const RULES = {
  ACTIVE: { kind: 'status+reason', status: 'ACTIVE' },
  SUSPENDED: { kind: 'status+reason', status: 'SUSPENDED' },
  DELINQUENT: {
    kind: 'fixed',
    status: CANOPY_DELINQUENT_STATUS,
    substatus: CANOPY_DELINQUENT_SUBSTATUS,
    reasons: [],
  },
  DISPUTED: { kind: 'unsupported' },
  DO_NOT_CONTACT: { kind: 'unsupported' },
  CLOSED: { kind: 'status+reason', status: 'CLOSED' },
} as const satisfies Record<CanonicalStatus, Rule>;

/** Reasons ACTIVE accepts besides none. */
const ACTIVE_REASONS: readonly CanonicalReason[] = ['HARDSHIP'];

export type CanopyTranslation =
  { supported: true; providerStatus: CanopyProviderStatus } | { supported: false; why: string };

export function translateCanopy(
  status: CanonicalStatus,
  reason: CanonicalReason | undefined,
): CanopyTranslation {
  const rule: Rule = RULES[status];
  const what = reason ? `${status} with reason ${reason}` : status;
  switch (rule.kind) {
    case 'unsupported':
      return { supported: false, why: `canopy has no account status for ${what}` };
    case 'fixed':
      if (reason && !rule.reasons.includes(reason)) {
        return { supported: false, why: `canopy cannot express ${what}: ${status} takes no reason` };
      }
      return { supported: true, providerStatus: { status: rule.status, substatus: rule.substatus } };
    case 'status+reason': {
      if (!reason) return { supported: true, providerStatus: { status: rule.status, substatus: null } };
      if (rule.status === 'ACTIVE' && !ACTIVE_REASONS.includes(reason)) {
        return {
          supported: false,
          why: `canopy cannot express ${what}: ACTIVE takes no reason or HARDSHIP only`,
        };
      }
      const substatus = SUBSTATUS_FOR_REASON[reason];
      if (substatus === null) {
        return { supported: false, why: `canopy has no account substatus for reason ${reason} (${what})` };
      }
      return { supported: true, providerStatus: { status: rule.status, substatus } };
    }
  }
}

/** Builds the status write body; `account_substatus` is left out when there is none. */
export function canopyStatusBody(providerStatus: CanopyProviderStatus): CanopyStatusBody {
  const body: CanopyStatusBody = { account_status: providerStatus.status as CanopyAccountStatus };
  if (providerStatus.substatus) body.account_substatus = providerStatus.substatus as CanopySubstatus;
  return body;
}

/**
 * The applied status from a 200 of the status write: `account_overview` when the body carries it,
 * else what was sent. Only the two status fields are kept (the rest of the account is PII).
 */
export function appliedCanopyStatus(body: unknown, sent: ProviderStatusValue): ProviderStatusValue {
  return canopyStatusOf(body) ?? sent;
}

/** `{status, substatus}` from an account body; undefined when it has no readable `account_status`. */
export function canopyStatusOf(body: unknown): CanopyProviderStatus | undefined {
  if (!isObject(body)) return undefined;
  const overview = (body as CanopyAccountOverview).account_overview;
  if (!isObject(overview) || typeof overview.account_status !== 'string') return undefined;
  const sub = overview.account_status_subtype;
  return { status: overview.account_status, substatus: typeof sub === 'string' && sub !== '' ? sub : null };
}

/** Substatus → canonical reason for reads; substatuses without a canonical reason read as null. */
const REASON_FOR_SUBSTATUS = {
  ADMINISTRATIVE: 'ADMINISTRATIVE',
  INACTIVITY: 'INACTIVITY',
  INELIGIBLE: null,
  DELINQUENT: null,
  CHARGE_OFF: 'CHARGED_OFF',
  GRANTOR_REQUEST: 'GRANTOR_REQUEST',
  BANKRUPTCY: 'BANKRUPTCY',
  PAID_OFF: 'PAID_OFF',
  CUSTOMER_REQUEST_PENDING_PAYOFF: null,
  GRANTOR_REQUEST_PENDING_PAYOFF: null,
  DECEASED: 'DECEASED',
  RISK_REVIEW: 'RISK_REVIEW',
  FRAUD: 'FRAUD',
  CUSTOMER_REQUEST: 'CUSTOMER_REQUEST',
  RISK: null,
  'HARDSHIP/EXEMPTIONS': 'HARDSHIP',
  SETTLEMENT: 'SETTLEMENT',
} as const satisfies Record<CanopySubstatus, CanonicalReason | null>;

const CANONICAL_FOR_STATUS = {
  ACTIVE: 'ACTIVE',
  SUSPENDED: 'SUSPENDED',
  CLOSED: 'CLOSED',
} as const satisfies Record<CanopyAccountStatus, CanonicalStatus>;

/**
 * Canopy's status pair → canonical. SUSPENDED + DELINQUENT reads as DELINQUENT (the inverse of the
 * guess above). Unknown statuses read as status null; unknown substatuses as reason null. Never throws.
 */
export function canopyReading(providerStatus: CanopyProviderStatus): StatusReading {
  const { status, substatus } = providerStatus;
  const reason =
    substatus !== null && hasKey(REASON_FOR_SUBSTATUS, substatus) ? REASON_FOR_SUBSTATUS[substatus] : null;
  if (status === CANOPY_DELINQUENT_STATUS && substatus === CANOPY_DELINQUENT_SUBSTATUS) {
    return { status: 'DELINQUENT', reason: null, providerStatus };
  }
  const canonical = hasKey(CANONICAL_FOR_STATUS, status) ? CANONICAL_FOR_STATUS[status] : null;
  return { status: canonical, reason: canonical ? reason : null, providerStatus };
}

/**
 * Canopy's error body → the provider's own code and message. Code: `error.code`, else `error.type`,
 * else NO_PROVIDER_CODE. The HTTP status decides the canonical code (404 → ACCOUNT_NOT_FOUND, 429 →
 * RATE_LIMITED, 401/403 → PROVIDER_AUTH_FAILED, other 4xx → PROVIDER_REJECTED, 5xx → PROVIDER_ERROR).
 */
export function parseCanopyError(_httpStatus: number, body: unknown): ParsedProviderError {
  const shaped = isObject(body) ? (body as CanopyErrorBody) : {};
  const error = isObject(shaped.error) ? shaped.error : {};
  const code = nonEmpty(error.code) ?? nonEmpty(error.type) ?? NO_PROVIDER_CODE;
  const message = nonEmpty(error.message) ?? nonEmpty(shaped.message) ?? '';
  return { code, message: withDetails(message, error.details) };
}

/** True when Canopy says the token itself is no good: 401, or 403 with `error.code` not_authorized. */
export function isCanopyTokenRejected(httpStatus: number, body: unknown): boolean {
  if (httpStatus === 401) return true;
  return httpStatus === 403 && parseCanopyError(httpStatus, body).code === CANOPY_EXPIRED_TOKEN_CODE;
}

function withDetails(message: string, details: unknown): string {
  if (!Array.isArray(details) || details.length === 0) return message;
  const parts = details.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))).join('; ');
  return message ? `${message} (${parts})` : parts;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasKey<T extends object>(map: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(map, key);
}

/** The port's pure side for Canopy. CLOSED is not final there: a payment reversal can move an account back. */
export const CANOPY_MAPPING: ProviderMapping = {
  translate: translateCanopy,
  isTerminal: () => false,
  validate: (request) =>
    Object.keys(request.providerOptions ?? {}).map((key) => ({
      field: `providerOptions.${key}`,
      message: 'canopy accepts no providerOptions',
    })),
};
