import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from '../common/problem.filter.js';
import { ERROR_CATALOG, type ErrorCode } from '../domain/index.js';
import { problemExamples, type ProblemOperation } from './dto/problem-examples.js';
import { ProblemDto } from './dto/problem.dto.js';
import { responseHeaders, type ResponseHeaderName } from './openapi-headers.js';

export type { ProblemOperation } from './dto/problem-examples.js';

/** When each code happens, in the words of CONTRACT.md section 4 (shown in Swagger UI under each status). */
const WHEN: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'bad body, query, header or path value; `errors` names each field',
  UNAUTHENTICATED: 'no or unknown API key',
  FORBIDDEN: 'the key lacks the scope; `requiredScope` names it',
  PROVIDER_NOT_FOUND: 'unknown provider, or disabled (no base URL and SANDBOX=false)',
  ACCOUNT_NOT_FOUND: 'the provider has no such account',
  NOT_FOUND: 'no such route',
  STATUS_NOT_SUPPORTED:
    'the provider cannot express this status/reason; refused before any call; `supportedStatuses` lists what it can',
  ACCOUNT_CLOSED: 'the account is in a final status at the provider',
  INVALID_TRANSITION: 'the provider refuses this change from the current status',
  PROVIDER_REJECTED: "the provider's own validation refused the request",
  IDEMPOTENCY_KEY_REUSED: 'the same Idempotency-Key with a different request',
  IDEMPOTENCY_IN_PROGRESS: 'the same Idempotency-Key while the first request is still running',
  RATE_LIMITED:
    "the caller's key exceeded RATE_LIMIT_PER_MINUTE (no `provider` member), or the provider kept answering 429 through the retries",
  PROVIDER_AUTH_FAILED: "the provider refused the gateway's own credentials after one re-authentication",
  PROVIDER_ERROR: 'the provider failed (5xx, malformed answer) through the retries',
  PROVIDER_UNAVAILABLE: 'connection refused or reset, or the circuit for that provider is open',
  PROVIDER_TIMEOUT: 'no answer within <PROVIDER>_TIMEOUT_MS on every attempt',
  INTERNAL: 'anything else; logged server-side, never a stack trace',
  METHOD_NOT_ALLOWED: 'the path exists but not with this method; `Allow` lists the methods it takes',
  REQUEST_TIMEOUT: 'the client did not send the whole request in time',
  PAYLOAD_TOO_LARGE: 'the body is over 16 KiB',
  UNSUPPORTED_MEDIA_TYPE:
    'the body is not application/json in UTF-8 (no other content type or charset is taken)',
  HEADERS_TOO_LARGE: 'the request headers are over 16 KiB',
};

const HEADERS: Partial<Record<number, ResponseHeaderName[]>> = {
  401: ['WWW-Authenticate'],
  429: ['Retry-After'],
};

/**
 * Documents the problem+json responses an operation can give: per HTTP status, each code with when it happens
 * and at least one named example body. `INTERNAL` (500) is added to every operation.
 */
export function ApiProblems(op: ProblemOperation, ...codes: ErrorCode[]): MethodDecorator {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...new Set<ErrorCode>([...codes, 'INTERNAL'])]) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...[...byStatus.entries()].map(([status, group]) =>
      ApiResponse({
        status,
        description: group.map((c) => `\`${c}\`: ${WHEN[c]}`).join('. '),
        // A change's answer, errors included, is what an Idempotency-Key replays.
        headers: responseHeaders(
          ...(HEADERS[status] ?? []),
          ...(op.method === 'PUT' ? (['Idempotent-Replayed'] as const) : []),
        ),
        content: {
          [PROBLEM_CONTENT_TYPE]: {
            schema: { $ref: '#/components/schemas/ProblemDto' },
            examples: Object.fromEntries(group.flatMap((c) => Object.entries(problemExamples(c, op)))),
          },
        },
      }),
    ),
  );
}
