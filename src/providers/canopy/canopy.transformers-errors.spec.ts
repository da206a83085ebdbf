/** Canopy error bodies → the provider's own code and message, and the canonical code they end in. */
import { NO_PROVIDER_CODE } from '../../domain/index.js';
import type { ProviderHttpResponse } from '../http/provider-http.client.js';
import { providerFailure } from '../provider-errors.js';
import { isCanopyTokenRejected, parseCanopyError } from './canopy.transformers.js';

describe(parseCanopyError.name, () => {
  it.each([
    [401, 'authentication_error', 'invalid_client', 'Invalid client credentials'],
    [403, 'authorization_error', 'not_authorized', 'Not authorized'],
    [403, 'authorization_error', 'forbidden', 'Client is not permitted to access this account'],
    [404, 'not_found', 'account_not_found', 'Account not found'],
    [429, 'rate_limit_error', 'too_many_requests', 'Too many requests'],
    [500, 'api_error', 'internal_server_error', 'Internal server error'],
  ])('should keep HTTP %s code and message (%s/%s)', (status, type, code, message) => {
    expect(parseCanopyError(status, { error: { type, code, message } })).toStrictEqual({ code, message });
  });

  it('should add validation details to the message of a 400', () => {
    const parsed = parseCanopyError(400, {
      error: {
        type: 'invalid_request_error',
        code: 'validation_error',
        message: 'Invalid request',
        details: [{ field: 'account_substatus', message: 'not allowed' }],
      },
    });
    expect(parsed.code).toBe('validation_error');
    expect(parsed.message).toBe('Invalid request ({"field":"account_substatus","message":"not allowed"})');
    expect(parsed.canonical).toBeUndefined();
  });

  it('should use error.type as the code when error.code is absent', () => {
    expect(
      parseCanopyError(404, { error: { type: 'not_found', message: 'Account not found' } }),
    ).toStrictEqual({
      code: 'not_found',
      message: 'Account not found',
    });
  });

  it('should answer NO_PROVIDER_CODE for a body without a code', () => {
    expect(parseCanopyError(429, { message: 'Too many requests' })).toStrictEqual({
      code: NO_PROVIDER_CODE,
      message: 'Too many requests',
    });
    expect(parseCanopyError(502, undefined)).toStrictEqual({ code: NO_PROVIDER_CODE, message: '' });
    expect(parseCanopyError(500, 'oops')).toStrictEqual({ code: NO_PROVIDER_CODE, message: '' });
  });
});

describe(isCanopyTokenRejected.name, () => {
  it('should treat 401 and 403 not_authorized as a rejected token', () => {
    expect(isCanopyTokenRejected(401, undefined)).toBe(true);
    expect(
      isCanopyTokenRejected(403, { error: { type: 'authorization_error', code: 'not_authorized' } }),
    ).toBe(true);
  });

  it('should not treat any other 403 or status as a rejected token', () => {
    expect(isCanopyTokenRejected(403, { error: { type: 'authorization_error', code: 'forbidden' } })).toBe(
      false,
    );
    expect(isCanopyTokenRejected(403, undefined)).toBe(false);
    expect(isCanopyTokenRejected(404, { error: { code: 'not_authorized' } })).toBe(false);
  });
});

describe(providerFailure.name, () => {
  const response = (
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): ProviderHttpResponse => ({
    status,
    headers,
    body,
    malformed: false,
    rawBody: JSON.stringify(body),
  });

  it.each([
    [401, 'authentication_error', 'token_expired', 'Access token expired', 'PROVIDER_AUTH_FAILED'],
    [403, 'authorization_error', 'not_authorized', 'Not authorized', 'PROVIDER_AUTH_FAILED'],
    [403, 'authorization_error', 'forbidden', 'Client is not permitted', 'PROVIDER_AUTH_FAILED'],
    [404, 'not_found', 'account_not_found', 'Account not found', 'ACCOUNT_NOT_FOUND'],
    [429, 'rate_limit_error', 'too_many_requests', 'Too many requests', 'RATE_LIMITED'],
    [400, 'invalid_request_error', 'validation_error', 'Invalid substatus', 'PROVIDER_REJECTED'],
    [500, 'api_error', 'internal_server_error', 'Internal server error', 'PROVIDER_ERROR'],
    [503, 'api_error', 'service_unavailable', 'Unavailable', 'PROVIDER_ERROR'],
  ])(
    'should turn a Canopy %s %s/%s into %s keeping code and message',
    (status, type, code, message, canonical) => {
      const body = { error: { type, code, message } };
      const error = providerFailure(
        'canopy',
        'change status',
        response(status, body),
        parseCanopyError(status, body),
      );
      expect(error.code).toBe(canonical);
      expect(error.provider).toStrictEqual({ id: 'canopy', httpStatus: status, code, message });
    },
  );

  it('should pass on Retry-After of a 429', () => {
    const body = {
      error: { type: 'rate_limit_error', code: 'too_many_requests', message: 'Too many requests' },
    };
    const error = providerFailure(
      'canopy',
      'read status',
      response(429, body, { 'retry-after': '7' }),
      parseCanopyError(429, body),
    );
    expect(error.retryAfter).toBe(7);
  });

  // A refused token request (401 → PROVIDER_AUTH_FAILED, 500 → PROVIDER_ERROR) is checked where the rule
  // now lives: ProviderHttpClient.call with `tokenEndpoint` (provider-http.client.spec.ts).
});
