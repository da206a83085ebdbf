/**
 * Example problem+json bodies for the OpenAPI document, one or more per error code. They are built with the
 * same `problemOf` the error filter uses, and their details are what the gateway and the sandboxes really
 * answer, so Swagger UI shows bodies a caller will actually meet.
 * Over 300 lines because VARIANTS is one data table (every error code's examples); split, one lookup
 * would be spread over several files.
 */
import { problemOf } from '../../common/problem.filter.js';
import {
  CANONICAL_STATUSES,
  GatewayError,
  type ErrorCode,
  type ProviderId,
  type GatewayErrorOptions,
} from '../../domain/index.js';
import { ID_RULE } from './change-status.dto.js';
import { EXAMPLE_REQUEST_ID } from './schema-parts.js';

/** The operation a problem example is for: its method, OpenAPI path and whether it calls a provider. */
export interface ProblemOperation {
  method: 'GET' | 'PUT';
  path: string;
  callsProvider: boolean;
}

/** An OpenAPI Example Object, named in the `examples` map (Swagger UI lists them in a drop-down). */
export interface NamedExample {
  summary: string;
  value: Record<string, unknown>;
}

const STATUSES = CANONICAL_STATUSES.join(', ');

interface Variant {
  name: string;
  summary: string;
  /** The example's path values (the instance is the operation's path with them filled in). */
  provider?: string;
  accountId?: string;
  detail: string;
  options?: GatewayErrorOptions;
}

type VariantsOf = (op: ProblemOperation) => Variant[];

const hasAccount = (op: ProblemOperation) => op.path.includes('{accountId}');
const isChange = (op: ProblemOperation) => op.method === 'PUT';

const VARIANTS: Record<ErrorCode, VariantsOf> = {
  VALIDATION_FAILED: (op) => [
    ...(isChange(op)
      ? [
          {
            name: 'VALIDATION_FAILED_body',
            summary: 'Unknown field and a status outside the vocabulary',
            detail: `colour: colour is not a known field; status: status must be one of ${STATUSES}`,
            options: {
              errors: [
                { field: 'colour', message: 'colour is not a known field' },
                { field: 'status', message: `status must be one of ${STATUSES}` },
              ],
            },
          },
        ]
      : []),
    ...(op.path.endsWith('/history')
      ? [
          {
            name: 'VALIDATION_FAILED_limit',
            summary: 'limit out of range',
            detail: 'limit: limit must be a whole number from 1 to 100',
            options: { errors: [{ field: 'limit', message: 'limit must be a whole number from 1 to 100' }] },
          },
        ]
      : []),
    ...(hasAccount(op)
      ? [
          {
            name: 'VALIDATION_FAILED_accountId',
            summary: 'accountId with a character outside the allowed set',
            accountId: 'bad%20id',
            detail: `accountId: accountId ${ID_RULE}`,
            options: { errors: [{ field: 'accountId', message: `accountId ${ID_RULE}` }] },
          },
        ]
      : []),
  ],
  UNAUTHENTICATED: () => [
    {
      name: 'UNAUTHENTICATED_missing',
      summary: 'No API key sent',
      detail: 'Send an API key as X-API-Key or Authorization: Bearer',
    },
    { name: 'UNAUTHENTICATED_unknown', summary: 'Unknown API key', detail: 'The API key is not known' },
  ],
  FORBIDDEN: (op) => [
    {
      name: 'FORBIDDEN',
      summary: 'The key lacks the scope',
      detail: `API key "reporting" lacks scope ${isChange(op) ? 'status:write' : 'status:read'}, needed for ${op.method} ${nestPath(op.path)}`,
      options: { extensions: { requiredScope: isChange(op) ? 'status:write' : 'status:read' } },
    },
    ...(isChange(op)
      ? [
          {
            name: 'FORBIDDEN_close',
            summary: 'CLOSED needs status:close as well',
            detail:
              'API key "billing-service" lacks scope status:close, needed to set CLOSED, a final status',
            options: { extensions: { requiredScope: 'status:close' } },
          },
        ]
      : []),
  ],
  PROVIDER_NOT_FOUND: () => [
    {
      name: 'PROVIDER_NOT_FOUND',
      summary: 'Unknown provider',
      provider: 'acme',
      detail: 'Unknown provider "acme"; known: cleargrid, canopy, pismo, spidr',
    },
    {
      name: 'PROVIDER_NOT_FOUND_disabled',
      summary: 'Provider disabled (no base URL and SANDBOX=false)',
      provider: 'pismo',
      detail: 'Provider "pismo" is disabled: it has no PISMO_BASE_URL and SANDBOX is false',
    },
  ],
  ACCOUNT_NOT_FOUND: (op) =>
    isChange(op)
      ? [
          providerFailure(
            'ACCOUNT_NOT_FOUND',
            'Pismo has no such account (WCAC0012)',
            ['pismo', 400, 'WCAC0012', 'Corporate account not found'],
            { accountId: 'EXT-404' },
          ),
        ]
      : [
          providerFailure(
            'ACCOUNT_NOT_FOUND',
            'Spidr has no such account',
            ['spidr', 404, 'NOT_FOUND', 'Account acc-404 not found'],
            { accountId: 'acc-404', read: true },
          ),
          {
            name: 'ACCOUNT_NOT_FOUND_gateway',
            summary: 'ClearGrid (no read endpoint) with no recorded change',
            provider: 'cleargrid',
            accountId: 'acc-404',
            detail:
              'cleargrid has no read endpoint and the gateway has recorded no applied or accepted change for acc-404',
          },
        ],
  NOT_FOUND: () => [{ name: 'NOT_FOUND', summary: 'No such route', detail: 'No such route' }],
  STATUS_NOT_SUPPORTED: () => [
    {
      name: 'STATUS_NOT_SUPPORTED',
      summary: 'Spidr cannot express DISPUTED',
      detail:
        'Spidr cannot express DISPUTED: its account statuses are active, suspended, delinquent and the close_* statuses',
      options: { extensions: { supportedStatuses: ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'CLOSED'] } },
    },
    {
      name: 'STATUS_NOT_SUPPORTED_reason',
      summary: 'Canopy has no substatus for this reason',
      provider: 'canopy',
      detail: 'canopy has no account substatus for reason COMPLIANCE (SUSPENDED with reason COMPLIANCE)',
      options: { extensions: { supportedStatuses: ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'CLOSED'] } },
    },
  ],
  ACCOUNT_CLOSED: () => [
    providerFailure(
      'ACCOUNT_CLOSED',
      'Spidr account already closed',
      [
        'spidr',
        400,
        'ACCOUNT_CLOSED',
        'Account acc-closed is closed (close_with_refund); a closed account cannot be changed',
      ],
      { accountId: 'acc-closed' },
    ),
  ],
  INVALID_TRANSITION: () => [
    providerFailure('INVALID_TRANSITION', 'Pismo refuses the change (WCAC0038)', [
      'pismo',
      422,
      'WCAC0038',
      'Account status update blocked: operation blocked for account.',
    ]),
  ],
  PROVIDER_REJECTED: () => [
    providerFailure('PROVIDER_REJECTED', "Spidr's own validation refused it", [
      'spidr',
      400,
      'REQUEST_REJECTED',
      'The request was rejected',
    ]),
  ],
  IDEMPOTENCY_KEY_REUSED: () => [
    {
      name: 'IDEMPOTENCY_KEY_REUSED',
      summary: 'Same Idempotency-Key, different request',
      detail: 'Idempotency-Key "change-4711" was already used by this caller for a different request',
    },
  ],
  IDEMPOTENCY_IN_PROGRESS: () => [
    {
      name: 'IDEMPOTENCY_IN_PROGRESS',
      summary: 'The first request with this key is still running',
      detail: 'A request with Idempotency-Key "change-4711" is still running',
    },
  ],
  RATE_LIMITED: (op) => [
    {
      name: 'RATE_LIMITED_caller',
      summary: "The caller's key exceeded RATE_LIMIT_PER_MINUTE (no provider member)",
      detail: 'Caller "billing-service" exceeded RATE_LIMIT_PER_MINUTE (6000); retry after 1 s',
      options: { retryAfter: 1 },
    },
    ...(op.callsProvider
      ? [
          providerFailure(
            'RATE_LIMITED',
            'Canopy kept answering 429 through the retries',
            ['canopy', 429, 'too_many_requests', 'Too many requests'],
            { read: !isChange(op) },
          ),
        ]
      : []),
  ],
  PROVIDER_AUTH_FAILED: (op) => [
    providerFailure(
      'PROVIDER_AUTH_FAILED',
      "Spidr refused the gateway's API key",
      ['spidr', 401, 'UNAUTHORIZED', 'Invalid or missing API key'],
      { read: !isChange(op) },
    ),
  ],
  PROVIDER_ERROR: (op) => [
    isChange(op)
      ? providerFailure('PROVIDER_ERROR', 'ClearGrid answered 500 through the retries', [
          'cleargrid',
          500,
          'NO_CODE',
          'Something went wrong. Please try again later.',
        ])
      : providerFailure(
          'PROVIDER_ERROR',
          'Spidr answered 500 through the retries',
          ['spidr', 500, 'LOOKUP_FAILED', 'Could not look up the account'],
          { read: true },
        ),
  ],
  PROVIDER_UNAVAILABLE: (op) => [
    {
      name: 'PROVIDER_UNAVAILABLE',
      summary: 'Connection refused',
      detail: `spidr ${isChange(op) ? 'PATCH' : 'GET'} /v1/account/acc-1001: ECONNREFUSED`,
    },
    {
      name: 'PROVIDER_UNAVAILABLE_circuit',
      summary: 'Circuit open after repeated failures',
      detail: 'spidr circuit is open after repeated failures; calls are refused until a probe succeeds',
      options: { extensions: { circuit: 'open' } },
    },
  ],
  PROVIDER_TIMEOUT: (op) => [
    {
      name: 'PROVIDER_TIMEOUT',
      summary: 'No answer within SPIDR_TIMEOUT_MS',
      detail: `spidr ${isChange(op) ? 'PATCH' : 'GET'} /v1/account/acc-1001: no answer within 10000 ms`,
    },
  ],
  INTERNAL: () => [
    {
      name: 'INTERNAL',
      summary: 'Unexpected failure (logged server-side, never a stack trace)',
      detail: 'The gateway failed unexpectedly; the error has been logged',
    },
  ],
  METHOD_NOT_ALLOWED: (op) => [
    {
      name: 'METHOD_NOT_ALLOWED',
      summary: 'Another method',
      detail: `${nestPath(op.path)} takes GET, HEAD, PUT`,
    },
  ],
  REQUEST_TIMEOUT: () => [
    { name: 'REQUEST_TIMEOUT', summary: 'A stalled client', detail: 'The request was not received in time' },
  ],
  PAYLOAD_TOO_LARGE: () => [
    {
      name: 'PAYLOAD_TOO_LARGE',
      summary: 'A body over 16 KiB',
      detail: 'The request body is larger than 16384 bytes',
    },
  ],
  UNSUPPORTED_MEDIA_TYPE: () => [
    {
      name: 'UNSUPPORTED_MEDIA_TYPE',
      summary: 'A form-encoded body',
      detail: 'The body must be application/json (UTF-8); got application/x-www-form-urlencoded',
    },
  ],
  HEADERS_TOO_LARGE: () => [
    {
      name: 'HEADERS_TOO_LARGE',
      summary: 'Headers over 16 KiB',
      detail: 'The request headers are too large',
    },
  ],
};

/** A failure the provider answered: the detail repeats its HTTP status, code and message, as the gateway does. */
function providerFailure(
  code: ErrorCode,
  summary: string,
  [provider, httpStatus, providerCode, message]: [ProviderId, number, string, string],
  more: { accountId?: string; read?: boolean } = {},
): Variant {
  return {
    name: code,
    summary,
    provider,
    accountId: more.accountId,
    detail: `${provider} ${more.read ? 'read' : 'change'} status failed: HTTP ${httpStatus} ${providerCode} ${message}`,
    options: { provider: { id: provider, httpStatus, code: providerCode, message } },
  };
}

/** `/v1/accounts/{provider}/{accountId}/status` → `/v1/accounts/:provider/:accountId/status` (Fastify's form). */
function nestPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** The named examples of one error code for one operation. */
export function problemExamples(code: ErrorCode, op: ProblemOperation): Record<string, NamedExample> {
  return Object.fromEntries(
    VARIANTS[code](op).map((v) => {
      const instance = op.path
        .replace('{provider}', v.provider ?? 'spidr')
        .replace('{accountId}', v.accountId ?? 'acc-1001');
      const error = new GatewayError(code, v.detail, v.options);
      return [
        v.name,
        { summary: `${code}: ${v.summary}`, value: { ...problemOf(error, instance, EXAMPLE_REQUEST_ID) } },
      ];
    }),
  );
}
