import { Body, Get, Headers, HttpCode, Param, Put, Query, UseInterceptors } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiOperation,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { Ctx, type RequestContext } from '../observability/request-context.js';
import { AccountStatusService } from '../services/account-status.service.js';
import { ChangeOutcomeInterceptor } from '../common/change-outcome.interceptor.js';
import { ChangeStatusService, type ChangeOutcome } from '../services/change-status.service.js';
import { idempotencyKeyFrom } from './idempotency-key.js';
import { responseHeaders } from './openapi-headers.js';
import { CanopyProviderStatusDto, SpidrProviderStatusDto } from './dto/schema-parts.js';
import { ApiProblems, type ProblemOperation } from './api-problems.decorator.js';
import { ApiKeyController, RequireScope } from './auth.guard.js';
import {
  AccountPathDto,
  ChangeStatusDto,
  ChangeStatusQueryDto,
  HistoryQueryDto,
} from './dto/change-status.dto.js';
import {
  AccountStatusDto,
  ChangeStatusResponseDto,
  DryRunResponseDto,
  HistoryPageDto,
} from './dto/responses.dto.js';
import {
  ACCOUNT_STATUS_EXAMPLES,
  CHANGE_ACCEPTED_EXAMPLES,
  CHANGE_APPLIED_EXAMPLES,
  HISTORY_EXAMPLES,
} from './dto/response-examples.js';

const ACCOUNT_PATH = '/v1/accounts/{provider}/{accountId}';
const CHANGE: ProblemOperation = { method: 'PUT', path: `${ACCOUNT_PATH}/status`, callsProvider: true };
const READ: ProblemOperation = { method: 'GET', path: `${ACCOUNT_PATH}/status`, callsProvider: true };
const HISTORY: ProblemOperation = { method: 'GET', path: `${ACCOUNT_PATH}/history`, callsProvider: false };

const REQUEST_ID_HEADER = {
  name: 'X-Request-Id',
  required: false,
  description: 'Echoed back, generated when absent, sent on to the provider, logged',
};

/** What every account endpoint may refuse before anything else (in the OpenAPI document's order). */
const REQUEST_PROBLEMS = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'PROVIDER_NOT_FOUND'] as const;
/** How a call to the provider may fail, whatever the operation. */
const PROVIDER_CALL_PROBLEMS = [
  'PROVIDER_AUTH_FAILED',
  'PROVIDER_ERROR',
  'PROVIDER_UNAVAILABLE',
  'PROVIDER_TIMEOUT',
] as const;

@ApiExtraModels(
  ChangeStatusResponseDto,
  DryRunResponseDto,
  AccountStatusDto,
  HistoryPageDto,
  CanopyProviderStatusDto,
  SpidrProviderStatusDto,
)
@ApiKeyController('v1/accounts/:provider/:accountId', 'accounts')
export class AccountsController {
  constructor(
    private readonly changes: ChangeStatusService,
    private readonly accounts: AccountStatusService,
  ) {}

  @Put('status')
  @RequireScope('status:write')
  @HttpCode(200)
  @UseInterceptors(ChangeOutcomeInterceptor)
  @ApiOperation({
    operationId: 'changeAccountStatus',
    summary: "Change one account's status",
    description:
      "Translates the canonical status (and reason) into the provider's own request and sends it. " +
      '200 when the provider applied it, 202 when it only accepted it for later processing (ClearGrid). ' +
      'A status the provider cannot express is refused with 422 STATUS_NOT_SUPPORTED before any provider call. ' +
      'Scope status:write; CLOSED (and any final status) needs status:close too. ' +
      'With dryRun=true the answer is the provider request that would be sent (credentials never shown).',
  })
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    description:
      'Optional, 1-255 characters, scoped to the caller. The same key with the same request within 24 h replays ' +
      'the first answer (header Idempotent-Replayed: true) without calling the provider; with a different request ' +
      '→ 422 IDEMPOTENCY_KEY_REUSED; while the first is still running → 409 IDEMPOTENCY_IN_PROGRESS. Ignored with dryRun.',
  })
  @ApiBody({
    type: ChangeStatusDto,
    examples: {
      suspendForFraud: {
        summary: 'Suspend for fraud (Spidr, Canopy, Pismo)',
        value: { status: 'SUSPENDED', reason: 'FRAUD', note: 'Card reported stolen' },
      },
      disputeAtClearGrid: {
        summary: 'Dispute (ClearGrid needs customerId)',
        value: { status: 'DISPUTED', customerId: 'customer_001' },
      },
      closeChargedOff: {
        summary: 'Close as charged off (needs status:close)',
        value: { status: 'CLOSED', reason: 'CHARGED_OFF' },
      },
      pismoBlockWithOptions: {
        summary: 'Pismo block with options',
        value: {
          status: 'SUSPENDED',
          reason: 'FRAUD',
          // A reason id the Pismo organisation has configured (the sandbox's organisation knows CREDIT_ONLY).
          providerOptions: { reasonExternalId: 'CREDIT_ONLY', updateChildren: true },
        },
      },
    },
  })
  @ApiResponse({
    status: 200,
    description:
      'Applied by the provider (outcome APPLIED); with dryRun=true, the provider request that would be sent ' +
      '(a dry run is the answer with `dryRun: true`)',
    headers: responseHeaders('Idempotent-Replayed'),
    content: {
      'application/json': {
        schema: {
          oneOf: [
            { $ref: getSchemaPath(ChangeStatusResponseDto) },
            { $ref: getSchemaPath(DryRunResponseDto) },
          ],
        },
        examples: CHANGE_APPLIED_EXAMPLES,
      },
    },
  })
  @ApiResponse({
    status: 202,
    description:
      'Accepted by the provider for asynchronous processing (outcome ACCEPTED; ClearGrid); Location: /v1/changes/{changeId}',
    headers: responseHeaders('Location', 'Idempotent-Replayed'),
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(ChangeStatusResponseDto) },
        examples: CHANGE_ACCEPTED_EXAMPLES,
      },
    },
  })
  @ApiProblems(
    CHANGE,
    ...REQUEST_PROBLEMS,
    'ACCOUNT_NOT_FOUND',
    'ACCOUNT_CLOSED',
    'INVALID_TRANSITION',
    'STATUS_NOT_SUPPORTED',
    'PROVIDER_REJECTED',
    'RATE_LIMITED',
    ...PROVIDER_CALL_PROBLEMS,
    'IDEMPOTENCY_KEY_REUSED',
    'IDEMPOTENCY_IN_PROGRESS',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  change(
    @Param() path: AccountPathDto,
    @Query() query: ChangeStatusQueryDto,
    @Body() body: ChangeStatusDto,
    @Headers('idempotency-key') key: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<ChangeOutcome> {
    const options = { dryRun: query.dryRun === 'true', idempotencyKey: idempotencyKeyFrom(key) };
    return this.changes.change(path.provider, path.accountId, body, options, ctx);
  }

  @Get('status')
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'getAccountStatus',
    summary: "Read one account's current status",
    description:
      'Read live from the provider where it has a read endpoint (source "provider"), with the last status ' +
      'applied through the gateway (expectedStatus) and whether the provider shows it (inSync); otherwise the ' +
      'last change the gateway recorded (source "gateway"). Scope status:read.',
  })
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiResponse({
    status: 200,
    description: 'The current status',
    headers: responseHeaders(),
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(AccountStatusDto) },
        examples: ACCOUNT_STATUS_EXAMPLES,
      },
    },
  })
  @ApiProblems(READ, ...REQUEST_PROBLEMS, 'ACCOUNT_NOT_FOUND', 'RATE_LIMITED', ...PROVIDER_CALL_PROBLEMS)
  read(@Param() path: AccountPathDto, @Ctx() ctx: RequestContext): Promise<AccountStatusDto> {
    return this.accounts.read(path.provider, path.accountId, ctx);
  }

  @Get('history')
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'listAccountHistory',
    summary: "The gateway's audit trail for one account",
    description:
      'Every authenticated, valid change attempt (including those refused as STATUS_NOT_SUPPORTED; not dry runs), ' +
      'newest first, cursor-paginated. Scope status:read.',
  })
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiResponse({
    status: 200,
    description: 'One page of the audit trail, newest first',
    headers: responseHeaders(),
    content: {
      'application/json': { schema: { $ref: getSchemaPath(HistoryPageDto) }, examples: HISTORY_EXAMPLES },
    },
  })
  @ApiProblems(HISTORY, ...REQUEST_PROBLEMS, 'RATE_LIMITED')
  history(
    @Param() path: AccountPathDto,
    @Query() query: HistoryQueryDto,
    @Ctx() ctx: RequestContext,
  ): Promise<HistoryPageDto> {
    return this.accounts.history(path.provider, path.accountId, query.limit, query.cursor, ctx);
  }
}
