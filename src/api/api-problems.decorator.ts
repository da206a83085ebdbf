import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ERROR_CATALOG, type ErrorCode } from '../domain/index.js';
import { ProblemDto } from './dto/responses.dto.js';

const EXAMPLE_PROVIDER: Partial<Record<ErrorCode, unknown>> = {
  ACCOUNT_NOT_FOUND: {
    id: 'pismo',
    httpStatus: 400,
    code: 'WCAC0012',
    message: 'Corporate account not found',
  },
  ACCOUNT_CLOSED: { id: 'spidr', httpStatus: 400, code: 'ACCOUNT_CLOSED', message: 'Account is closed' },
  INVALID_TRANSITION: {
    id: 'pismo',
    httpStatus: 422,
    code: 'WCAC0038',
    message: 'Account status update blocked: operation blocked for account.',
  },
  PROVIDER_REJECTED: { id: 'canopy', httpStatus: 400, code: 'invalid_request', message: 'Invalid substatus' },
  RATE_LIMITED: { id: 'canopy', httpStatus: 429, code: 'rate_limited', message: 'Too many requests' },
  PROVIDER_AUTH_FAILED: { id: 'cleargrid', httpStatus: 401, code: 'NO_CODE', message: 'Unauthorized' },
  PROVIDER_ERROR: {
    id: 'cleargrid',
    httpStatus: 500,
    code: 'NO_CODE',
    message: 'Something went wrong. Please try again later.',
  },
};

const EXAMPLE_EXTRA: Partial<Record<ErrorCode, Record<string, unknown>>> = {
  VALIDATION_FAILED: { errors: [{ field: 'status', message: 'status must be one of ACTIVE, SUSPENDED, …' }] },
  STATUS_NOT_SUPPORTED: { supportedStatuses: ['DISPUTED', 'DO_NOT_CONTACT', 'CLOSED'] },
};

function example(code: ErrorCode): Record<string, unknown> {
  const entry = ERROR_CATALOG[code];
  return {
    type: `urn:problem:${code}`,
    title: entry.title,
    status: entry.status,
    detail: `Example ${code} problem`,
    instance: '/v1/accounts/pismo/EXT-1/status',
    code,
    retryable: entry.retryable,
    requestId: 'c0ffee00-1234-4abc-8def-000000000001',
    ...(EXAMPLE_PROVIDER[code] ? { provider: EXAMPLE_PROVIDER[code] } : {}),
    ...EXAMPLE_EXTRA[code],
  };
}

/** Documents the problem+json responses an operation can give, one example per canonical code. */
export function ApiProblems(...codes: ErrorCode[]): MethodDecorator {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus.entries()].map(([status, group]) =>
      ApiResponse({
        status,
        description: group.map((c) => `\`${c}\`: ${ERROR_CATALOG[c].title}`).join('; '),
        content: {
          'application/problem+json': {
            schema: { $ref: '#/components/schemas/ProblemDto' },
            examples: Object.fromEntries(group.map((c) => [c, { value: example(c) }])),
          },
        },
      }),
    ),
    ApiResponse({
      status: 500,
      description: '`INTERNAL`: unexpected failure (no stack trace)',
      type: ProblemDto,
    }),
  );
}
