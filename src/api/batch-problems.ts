import { ApiResponse } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../common/problem.filter.js';
import { ERROR_CATALOG, GatewayError, type ErrorCode, type GatewayErrorOptions } from '../domain/index.js';
import { EXAMPLE_REQUEST_ID } from './dto/schema-parts.js';

const BATCH_ID = '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f';

interface BatchProblem {
  code: ErrorCode;
  summary: string;
  detail: string;
  options?: GatewayErrorOptions;
}

/** The problem+json answers of a batch route, one response per HTTP status, with named real examples. */
export function ApiBatchProblems(instance: string, ...problems: BatchProblem[]): MethodDecorator {
  const byStatus = new Map<number, BatchProblem[]>();
  for (const p of problems) {
    const status = ERROR_CATALOG[p.code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), p]);
  }
  const decorators = [...byStatus].map(([status, list]) =>
    ApiResponse({
      status,
      description: list.map((p) => `${p.code}: ${p.summary}`).join('; '),
      content: {
        [PROBLEM_CONTENT_TYPE]: {
          schema: { $ref: '#/components/schemas/ProblemDto' },
          examples: Object.fromEntries(
            list.map((p) => [
              p.code,
              {
                summary: p.summary,
                value: problemOf(
                  new GatewayError(p.code, p.detail, p.options),
                  instance.replace('{batchId}', BATCH_ID),
                  EXAMPLE_REQUEST_ID,
                ),
              },
            ]),
          ),
        },
      },
    }),
  );
  return (target, key, descriptor) => {
    for (const decorate of decorators) decorate(target, key, descriptor);
  };
}

export const UNAUTHENTICATED: BatchProblem = {
  code: 'UNAUTHENTICATED',
  summary: 'no or unknown API key',
  detail: 'Send an API key as X-API-Key or Authorization: Bearer',
};

export const NOT_FOUND: BatchProblem = {
  code: 'NOT_FOUND',
  summary: 'no such batch, or one created by another API key',
  detail: `No batch ${BATCH_ID}`,
};

export const forbidden = (scope: string, why: string): BatchProblem => ({
  code: 'FORBIDDEN',
  summary: `the key lacks ${scope}`,
  detail: `API key "reporting" lacks scope ${scope}, needed ${why}`,
  options: { extensions: { requiredScope: scope } },
});

export const RATE_LIMITED: BatchProblem = {
  code: 'RATE_LIMITED',
  summary: "the caller's key exceeded RATE_LIMIT_PER_MINUTE",
  detail: 'Caller "ops" exceeded RATE_LIMIT_PER_MINUTE (6000); retry after 1 s',
  options: { retryAfter: 1 },
};

export const BATCH_VALIDATION: BatchProblem = {
  code: 'VALIDATION_FAILED',
  summary: 'a structural problem in any item refuses the whole batch; nothing is recorded or sent',
  detail:
    'items[3].status: status must be one of ACTIVE, SUSPENDED, DELINQUENT, DISPUTED, DO_NOT_CONTACT, CLOSED',
  options: {
    errors: [
      {
        field: 'items[3].status',
        message: 'status must be one of ACTIVE, SUSPENDED, DELINQUENT, DISPUTED, DO_NOT_CONTACT, CLOSED',
      },
    ],
  },
};

export const BATCH_KEY_REUSED = plain(
  'IDEMPOTENCY_KEY_REUSED',
  'the same Idempotency-Key with a different batch body',
  'Idempotency-Key "dnc-2026-12-04" was already used by this caller for a different batch',
);

export const PATH_VALIDATION: BatchProblem = {
  code: 'VALIDATION_FAILED',
  summary: 'a batch id, limit, cursor or outcome that is not valid',
  detail: 'batchId: batchId is not a batch id',
  options: { errors: [{ field: 'batchId', message: 'batchId is not a batch id' }] },
};

export const TOO_LARGE = plain(
  'PAYLOAD_TOO_LARGE',
  'a body over 1 MiB',
  'The request body is larger than 1048576 bytes',
);

export const UNSUPPORTED_MEDIA = plain(
  'UNSUPPORTED_MEDIA_TYPE',
  'a body that is not application/json',
  'The body must be application/json (UTF-8); got text/csv',
);

export const INTERNAL = plain(
  'INTERNAL',
  'unexpected failure (logged server-side, never a stack trace)',
  'The gateway failed unexpectedly; the error has been logged',
);

/** A problem with no errors, headers or extensions of its own. */
function plain(code: BatchProblem['code'], summary: string, detail: string): BatchProblem {
  return { code, summary, detail };
}
