/**
 * The canonical error codes of CONTRACT.md section 4 and the one error class that carries them.
 * HTTP responses are produced from these only by the global filter in common/.
 */
import type { ProviderId } from './vocabulary.js';

export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', retryable: false },
  UNAUTHENTICATED: { status: 401, title: 'Unauthenticated', retryable: false },
  FORBIDDEN: { status: 403, title: 'Forbidden', retryable: false },
  PROVIDER_NOT_FOUND: { status: 404, title: 'Provider not found', retryable: false },
  ACCOUNT_NOT_FOUND: { status: 404, title: 'Account not found', retryable: false },
  NOT_FOUND: { status: 404, title: 'Not found', retryable: false },
  STATUS_NOT_SUPPORTED: { status: 422, title: 'Status not supported', retryable: false },
  ACCOUNT_CLOSED: { status: 409, title: 'Account closed', retryable: false },
  INVALID_TRANSITION: { status: 409, title: 'Invalid transition', retryable: false },
  PROVIDER_REJECTED: { status: 422, title: 'Provider rejected the request', retryable: false },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused', retryable: false },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'Idempotent request in progress', retryable: true },
  RATE_LIMITED: { status: 429, title: 'Rate limited', retryable: true },
  PROVIDER_AUTH_FAILED: { status: 502, title: 'Provider authentication failed', retryable: false },
  PROVIDER_ERROR: { status: 502, title: 'Provider error', retryable: true },
  PROVIDER_UNAVAILABLE: { status: 503, title: 'Provider unavailable', retryable: true },
  PROVIDER_TIMEOUT: { status: 504, title: 'Provider timeout', retryable: true },
  INTERNAL: { status: 500, title: 'Internal error', retryable: true },
  // HTTP-level refusals (issue 14): the status HTTP defines for them, rather than a 400 or a 404 that would
  // send a caller looking in the wrong place. Never retryable unchanged, except a request that arrived too slowly.
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', retryable: false },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', retryable: true },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', retryable: false },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large', retryable: false },
} as const satisfies Record<string, { status: number; title: string; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Used as the provider code when a provider's error body carries none (e.g. ClearGrid's `{error}`). */
export const NO_PROVIDER_CODE = 'NO_CODE';

/** What a provider said, kept verbatim under `provider` in the problem body. */
export interface ProviderErrorInfo {
  id: ProviderId;
  /** The provider's HTTP status; absent when no answer arrived (timeout, reset). */
  httpStatus?: number;
  code: string;
  message: string;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface GatewayErrorOptions {
  provider?: ProviderErrorInfo;
  errors?: FieldError[];
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Extra problem members, e.g. the statuses a provider supports. */
  extensions?: Record<string, unknown>;
  /** Never repeat the call within this request (e.g. the provider's circuit is open). */
  noRetry?: boolean;
  /**
   * The provider's answer was not recognised: a code no table maps, or a body in no documented shape, so
   * the canonical code fell back to the HTTP status. Counted in /metrics so new provider codes get noticed.
   */
  unmapped?: boolean;
  cause?: unknown;
}

/** The one error the gateway raises on purpose; the filter turns it into problem+json. */
export class GatewayError extends Error {
  readonly provider?: ProviderErrorInfo;
  readonly errors?: FieldError[];
  readonly retryAfter?: number;
  readonly extensions?: Record<string, unknown>;
  readonly noRetry: boolean;
  readonly unmapped: boolean;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    options: GatewayErrorOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.provider = options.provider;
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
    this.extensions = options.extensions;
    this.noRetry = options.noRetry ?? false;
    this.unmapped = options.unmapped ?? false;
  }

  get httpStatus(): number {
    return ERROR_CATALOG[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CATALOG[this.code].retryable;
  }

  static validation(errors: FieldError[]): GatewayError {
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new GatewayError('VALIDATION_FAILED', detail || 'The request is invalid', { errors });
  }
}
