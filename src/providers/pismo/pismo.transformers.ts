/**
 * Pure Pismo mappings: canonical ⇄ Pismo statuses, request bodies, providerOptions checks, error
 * bodies, reads and token answers. No I/O, no Nest. Guessed names live in pismo.wire.ts.
 * Just over 300 lines (two account APIs): kept whole so the folder has the same files as every provider's.
 */
import type { PismoAccountApi, PismoSettings } from './pismo.settings.js';
import {
  NO_CANONICAL_STATUS,
  NO_PROVIDER_CODE,
  isCanonicalReason,
  type NoCanonicalStatus,
  type CanonicalReason,
  type CanonicalStatus,
  type ErrorCode,
  type FieldError,
} from '../../domain/index.js';
import { jwtExpiry, type MintedToken } from '../auth/token-cache.js';
import type { ChangeRequest, ProviderMapping, StatusReading, Translation } from '../provider-adapter.js';
import type { ParsedProviderError } from '../provider-errors.js';
import {
  PISMO_ACCOUNTS_FIELDS,
  PISMO_ACCOUNTS_TOKEN_ACCOUNT_FIELD,
  PISMO_CORPORATE_TOKEN_ACCOUNT_FIELD,
  PISMO_DEFAULT_TOKEN_LIFETIME_MS,
  PISMO_EXTERNAL_ACCOUNT_ID_MAX_LENGTH,
  PISMO_READ_REASON_FIELDS,
  PISMO_REASON_MAX_LENGTH,
  PISMO_STATUS,
  PISMO_TOKEN_BINDING,
  type PismoCorporateStatusBody,
  type PismoDocumentedStatus,
  type PismoErrorBody,
  type PismoStatusBody,
  type PismoTokenRequest,
} from './pismo.wire.js';

type Unsupported = { unsupported: string };
const no = (explanation: string): Unsupported => ({ unsupported: explanation });

/** CONTRACT.md section 5, pismo column, for both account APIs. */
const PISMO_STATUS_MAP = {
  ACTIVE: { corporate: PISMO_STATUS.NORMAL, accounts: PISMO_STATUS.NORMAL },
  SUSPENDED: { corporate: PISMO_STATUS.BLOCKED, accounts: PISMO_STATUS.BLOCKED },
  DELINQUENT: {
    corporate: no('Pismo has no delinquent account status'),
    accounts: no('Pismo has no delinquent account status'),
  },
  DISPUTED: {
    corporate: no('Pismo has no disputed account status'),
    accounts: no('Pismo has no disputed account status'),
  },
  DO_NOT_CONTACT: {
    corporate: no('Pismo has no do-not-contact account status'),
    accounts: no('Pismo has no do-not-contact account status'),
  },
  CLOSED: {
    corporate: no(
      'the corporate status endpoint refuses final statuses (WCAC0036); CANCELLED needs PISMO_ACCOUNT_API=accounts',
    ),
    accounts: PISMO_STATUS.CANCELLED,
  },
} as const satisfies Record<CanonicalStatus, Record<PismoAccountApi, string | Unsupported>>;

/** CANCELLED is final at Pismo (undone only by a rollback the gateway never sends). */
const PISMO_TERMINAL = {
  ACTIVE: false,
  SUSPENDED: false,
  DELINQUENT: false,
  DISPUTED: false,
  DO_NOT_CONTACT: false,
  CLOSED: true,
} as const satisfies Record<CanonicalStatus, boolean>;

/** A Translation whose provider value is always Pismo's status string. */
export type PismoTranslation =
  Extract<Translation, { supported: false }> | { supported: true; providerStatus: string };

/** Pismo's status value for a canonical status under one account API; the reason never changes it. */
export function translatePismo(
  api: PismoAccountApi,
  status: CanonicalStatus,
  reason: CanonicalReason | undefined,
): PismoTranslation {
  const target: string | Unsupported = PISMO_STATUS_MAP[status][api];
  if (typeof target === 'string') return { supported: true, providerStatus: target };
  const withReason = reason ? ` with reason ${reason}` : '';
  return {
    supported: false,
    why: `Pismo (${api} account API) cannot express ${status}${withReason}: ${target.unsupported}`,
  };
}

export function isPismoTerminal(status: CanonicalStatus): boolean {
  return PISMO_TERMINAL[status];
}

/** The providerOptions Pismo accepts, with the account APIs each applies to. */
const PISMO_OPTIONS: Record<
  string,
  { apis: readonly PismoAccountApi[]; check: (value: unknown) => string | undefined }
> = {
  updateChildren: {
    apis: ['corporate'],
    check: (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean'),
  },
  reasonExternalId: {
    apis: ['corporate', 'accounts'],
    check: (v) =>
      typeof v === 'string' && v.length >= 1 && v.length <= PISMO_REASON_MAX_LENGTH
        ? undefined
        : `must be a string of 1 to ${PISMO_REASON_MAX_LENGTH} characters`,
  },
  metadata: {
    apis: ['corporate'],
    check: (v) => (isPlainObject(v) ? undefined : 'must be a JSON object'),
  },
};

/** Pismo-specific input checks: the corporate id length and providerOptions (unknown keys refused). */
export function validatePismoRequest(api: PismoAccountApi, request: ChangeRequest): FieldError[] {
  const errors: FieldError[] = [];
  if (api === 'corporate' && request.accountId.length > PISMO_EXTERNAL_ACCOUNT_ID_MAX_LENGTH) {
    errors.push({
      field: 'accountId',
      message: `Pismo external account ids are at most ${PISMO_EXTERNAL_ACCOUNT_ID_MAX_LENGTH} characters`,
    });
  }
  const options = request.providerOptions;
  if (options === undefined) return errors;
  if (!isPlainObject(options))
    return [...errors, { field: 'providerOptions', message: 'must be a JSON object' }];
  for (const [key, value] of Object.entries(options)) {
    const field = `providerOptions.${key}`;
    const option = PISMO_OPTIONS[key];
    if (!option) {
      errors.push({
        field,
        message: `is not a Pismo option (allowed: ${Object.keys(PISMO_OPTIONS).join(', ')})`,
      });
    } else if (!option.apis.includes(api)) {
      errors.push({
        field,
        message: `applies only to Pismo's ${option.apis.join('/')} account API, not ${api}`,
      });
    } else {
      const problem = option.check(value);
      if (problem) errors.push({ field, message: problem });
    }
  }
  return errors;
}

/**
 * The status body. Corporate: `reason_external_id` is `providerOptions.reasonExternalId`, else (on
 * BLOCKED only) the canonical reason. Accounts: `reason_id` is `reasonExternalId`, else the reason.
 */
export function buildPismoStatusBody(
  api: PismoAccountApi,
  providerStatus: string,
  request: ChangeRequest,
): PismoStatusBody {
  const options = request.providerOptions ?? {};
  const explicitReason = typeof options.reasonExternalId === 'string' ? options.reasonExternalId : undefined;
  if (api === 'accounts') {
    const body: Record<string, unknown> = { [PISMO_ACCOUNTS_FIELDS.status]: providerStatus };
    const reason = explicitReason ?? request.reason;
    if (reason !== undefined) body[PISMO_ACCOUNTS_FIELDS.reason] = reason;
    return body as unknown as PismoStatusBody;
  }
  const body: PismoCorporateStatusBody = { status: providerStatus };
  const reason = explicitReason ?? (providerStatus === PISMO_STATUS.BLOCKED ? request.reason : undefined);
  if (reason !== undefined) body.reason_external_id = reason;
  if (typeof options.updateChildren === 'boolean') body.update_children = options.updateChildren;
  if (isPlainObject(options.metadata)) body.metadata = options.metadata;
  return body;
}

/** The s2s token request for one account. Regular Pismo account ids are numbers in the docs' example. */
export function buildPismoTokenRequest(
  api: PismoAccountApi,
  settings: Pick<PismoSettings, 'serverKey' | 'serverSecret'>,
  accountId: string,
): PismoTokenRequest {
  const base = { server_key: settings.serverKey ?? '', server_secret: settings.serverSecret ?? '' };
  if (api === 'corporate') return { ...base, [PISMO_CORPORATE_TOKEN_ACCOUNT_FIELD]: accountId };
  const numeric = /^\d{1,15}$/.test(accountId) ? Number(accountId) : accountId;
  return { ...base, [PISMO_ACCOUNTS_TOKEN_ACCOUNT_FIELD]: numeric };
}

/**
 * The claims of the OpenID assertion that bind it to one account (besides iss, sub, aud, iat, exp, jti,
 * which the adapter sets when it signs). Which claim names the account is PISMO_TOKEN_BINDING's guess.
 */
export function buildPismoOpenIdClaims(
  api: PismoAccountApi,
  tenantId: string,
  accountId: string,
): Record<string, string> {
  return { tenant_id: tenantId, [PISMO_TOKEN_BINDING[api].claim]: accountId };
}

/**
 * A token answer → the token and when it expires: `expires_in` (seconds) if present, else the JWT
 * `exp`, else PISMO_DEFAULT_TOKEN_LIFETIME_MS. Undefined when there is no token. The field is `token`
 * for s2s and `access_token` for OpenID.
 */
export function parsePismoToken(
  body: unknown,
  now: number,
  field: 'token' | 'access_token' = 'token',
): MintedToken | undefined {
  if (!isPlainObject(body) || typeof body[field] !== 'string' || body[field] === '') return undefined;
  const token = body[field];
  const expiresIn = body.expires_in;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) {
    return { value: token, expiresAt: now + expiresIn * 1000 };
  }
  return { value: token, expiresAt: jwtExpiry(token) ?? now + PISMO_DEFAULT_TOKEN_LIFETIME_MS };
}

/** Error codes whose meaning the body decides (CONTRACT.md section 5; codes from the seed page). */
const PISMO_ERROR_CANONICAL: Readonly<Record<string, ErrorCode>> = {
  WCAC0012: 'ACCOUNT_NOT_FOUND', // Corporate account not found (HTTP 400)
  WCAC0035: 'ACCOUNT_CLOSED', // Account is currently in the final status
  WCAC0034: 'INVALID_TRANSITION', // status is in the account's dormancy config
  WCAC0038: 'INVALID_TRANSITION', // 422: status update blocked for the account
  WCAC0036: 'PROVIDER_REJECTED', // status cannot be final
  WCAC0005: 'PROVIDER_REJECTED', // static validation
  WCAC0013: 'PROVIDER_REJECTED', // invalid JSON payload
  WCAC0020: 'PROVIDER_REJECTED', // Status not found — HTTP 404, but not an unknown account
  WCAC0021: 'PROVIDER_REJECTED', // Reason not found — HTTP 404, but not an unknown account
  ECMN9999: 'PROVIDER_ERROR', // generic internal error (HTTP 500)
};

/**
 * The regular accounts API answers `{"message"}` without a code [inferred], so its message is all there is
 * to tell a final-status or blocked refusal from other validation errors. Wording guessed: change here.
 */
const PISMO_CODELESS_MESSAGES: ReadonlyArray<[RegExp, ErrorCode]> = [
  [/final status/i, 'ACCOUNT_CLOSED'],
  [/update blocked|operation blocked/i, 'INVALID_TRANSITION'],
];

/**
 * Pismo's error body, its own code and message kept. The code decides the canonical code for client
 * errors; 401/403/429 are transport matters and always follow the HTTP status.
 */
export function parsePismoError(httpStatus: number, body: unknown): ParsedProviderError {
  const error: PismoErrorBody = isPlainObject(body) ? body : {};
  const code = typeof error.code === 'string' && error.code !== '' ? error.code : NO_PROVIDER_CODE;
  const message = typeof error.message === 'string' ? error.message : '';
  const transport = httpStatus === 401 || httpStatus === 403 || httpStatus === 429;
  const byMessage =
    code === NO_PROVIDER_CODE
      ? PISMO_CODELESS_MESSAGES.find(([pattern]) => pattern.test(message))?.[1]
      : undefined;
  const canonical = transport ? undefined : (PISMO_ERROR_CANONICAL[code] ?? byMessage);
  return canonical ? { code, message, canonical } : { code, message };
}

/** Pismo status → canonical, for reads: total over the documented values; a custom status reads as none too. */
const PISMO_READ_MAP = {
  NORMAL: 'ACTIVE',
  BLOCKED: 'SUSPENDED',
  CANCELLED: 'CLOSED',
  DEBIT_ONLY: NO_CANONICAL_STATUS,
  INACTIVE: NO_CANONICAL_STATUS,
  DORMANT: NO_CANONICAL_STATUS,
  UNCLAIMED: NO_CANONICAL_STATUS,
} as const satisfies Record<PismoDocumentedStatus, CanonicalStatus | NoCanonicalStatus>;

/**
 * An account read → canonical status. The reason is the account's reason id when that is a canonical
 * reason (and the status is not NORMAL). Undefined when the body has no status (malformed answer).
 */
export function readPismoAccount(body: unknown): StatusReading | undefined {
  if (!isPlainObject(body) || typeof body.status !== 'string') return undefined;
  const providerStatus = body.status;
  const status: CanonicalStatus | NoCanonicalStatus = hasOwn(PISMO_READ_MAP, providerStatus)
    ? PISMO_READ_MAP[providerStatus]
    : NO_CANONICAL_STATUS;
  const rawReason = PISMO_READ_REASON_FIELDS.map((field) => body[field]).find(
    (value) => value !== undefined && value !== null,
  );
  const reason = status !== null && status !== 'ACTIVE' && isCanonicalReason(rawReason) ? rawReason : null;
  return { status, reason, providerStatus };
}

function hasOwn<T extends object>(map: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(map, key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The port's pure side for Pismo, for one account API. */
export function pismoMapping(api: PismoAccountApi): ProviderMapping {
  return {
    translate: (status, reason) => translatePismo(api, status, reason),
    isTerminal: isPismoTerminal,
    validate: (request) => validatePismoRequest(api, request),
  };
}
