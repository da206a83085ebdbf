import {
  GatewayError,
  NO_PROVIDER_CODE,
  type ErrorCode,
  type ProviderErrorInfo,
  type ProviderId,
} from '../domain/index.js';
import type { ProviderHttpResponse } from './http/provider-http.client.js';
import { redactText } from './redact-text.js';

/**
 * What a provider's error body says, as its transformer reads it: its own code and message, and,
 * where the body itself decides it (Pismo `WCAC0012`, Spidr `NOT_FOUND`), the canonical code.
 */
export interface ParsedProviderError {
  code: string;
  message: string;
  canonical?: ErrorCode;
}

/** The canonical code for a provider HTTP status when the body does not decide (CONTRACT.md section 5). */
export function canonicalForHttpStatus(httpStatus: number): ErrorCode {
  if (httpStatus === 401 || httpStatus === 403) return 'PROVIDER_AUTH_FAILED';
  if (httpStatus === 404) return 'ACCOUNT_NOT_FOUND';
  if (httpStatus === 429) return 'RATE_LIMITED';
  if (httpStatus >= 500) return 'PROVIDER_ERROR';
  return 'PROVIDER_REJECTED';
}

/** Seconds from a `Retry-After` header (delta-seconds or HTTP date); undefined when absent or unreadable. */
export function retryAfterSeconds(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Turns a provider's non-success answer into the one GatewayError the rest of the gateway sees.
 * The provider's HTTP status, code and message are always kept under `provider`.
 */
export function providerFailure(
  providerId: ProviderId,
  operation: string,
  response: ProviderHttpResponse,
  parsed: ParsedProviderError | undefined,
): GatewayError {
  const code = parsed?.canonical ?? canonicalForHttpStatus(response.status);
  const provider: ProviderErrorInfo = {
    id: providerId,
    httpStatus: response.status,
    code: parsed?.code || NO_PROVIDER_CODE,
    // The provider's own words are kept (CONTRACT §4), but with personal data and tokens masked; an answer
    // in no documented shape is described, never quoted (it could be anything, e.g. a whole account).
    message: parsed?.message ? redactText(parsed.message) : describeRaw(response),
  };
  // Only the provider's own Retry-After is kept: it sets the least wait before a retry. The caller's
  // Retry-After defaults to 1 s in the problem filter when the provider sent none.
  const retryAfter = code === 'RATE_LIMITED' ? retryAfterSeconds(response.headers['retry-after']) : undefined;
  return new GatewayError(
    code,
    `${providerId} ${operation} failed: HTTP ${response.status} ${provider.code} ${provider.message}`,
    { provider, retryAfter, unmapped: isUnmapped(parsed, code) },
  );
}

/**
 * True when no rule of the gateway recognised the provider's answer, so it fell into the catch-all
 * PROVIDER_REJECTED ("other 4xx", CONTRACT §5): the caller cannot tell it from any other refusal, so
 * operators should see it. 401/403, 404, 429 and 5xx are decided by the HTTP status as the contract says,
 * so they count as mapped whatever their body.
 */
function isUnmapped(parsed: ParsedProviderError | undefined, code: ErrorCode): boolean {
  return code === 'PROVIDER_REJECTED' && parsed?.canonical === undefined;
}

/** A 2xx answer whose body the gateway cannot read is a provider failure, not a success. */
export function malformedAnswer(
  providerId: ProviderId,
  operation: string,
  response: ProviderHttpResponse,
): GatewayError {
  return new GatewayError(
    'PROVIDER_ERROR',
    `${providerId} ${operation} answered HTTP ${response.status} with a body that is not the documented JSON`,
    {
      provider: {
        id: providerId,
        httpStatus: response.status,
        code: NO_PROVIDER_CODE,
        message: 'Malformed response body',
      },
    },
  );
}

function describeRaw(response: ProviderHttpResponse): string {
  const length = response.rawBody.length;
  return length === 0
    ? `HTTP ${response.status} with an empty body`
    : `HTTP ${response.status} with a ${length}-byte body in no documented shape`;
}

/**
 * The same error with the provider's message (and the detail quoting it) cleaned of the given secrets,
 * e.g. the provider's own credentials echoed back in an error. Other errors pass unchanged.
 */
export function withoutSecrets(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof GatewayError) || !error.provider || secrets.length === 0) return error;
  const message = redactText(error.provider.message, secrets);
  const detail = redactText(error.detail, secrets);
  if (message === error.provider.message && detail === error.detail) return error;
  return new GatewayError(error.code, detail, {
    provider: { ...error.provider, message },
    errors: error.errors,
    retryAfter: error.retryAfter,
    extensions: error.extensions,
    noRetry: error.noRetry,
    unmapped: error.unmapped,
    cause: error.cause,
  });
}
