import { Body, Delete, Get, Headers, HttpCode, Param, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse } from '@nestjs/swagger';
import type { RouteOptions } from 'fastify';
import { BatchAnswerInterceptor } from '../common/batch-answer.interceptor.js';
import { GatewayError } from '../domain/index.js';
import { Ctx, type RequestContext } from '../observability/request-context.js';
import { BatchService, type BatchAnswer } from '../services/batch.service.js';
import { ApiKeyController, RequireScope } from './auth.guard.js';
import {
  BatchItemsPageDto,
  BatchItemsQueryDto,
  BatchPathDto,
  BatchSummaryDto,
  CreateBatchDto,
  MIXED_BATCH_EXAMPLE,
} from './dto/batch.dto.js';
import { idempotencyKeyFrom } from './idempotency-key.js';
import { responseHeaders } from './openapi-headers.js';
import {
  ApiBatchProblems,
  BATCH_KEY_REUSED,
  BATCH_VALIDATION,
  INTERNAL,
  NOT_FOUND,
  PATH_VALIDATION,
  RATE_LIMITED,
  TOO_LARGE,
  UNAUTHENTICATED,
  UNSUPPORTED_MEDIA,
  forbidden,
} from './batch-problems.js';

/** A batch of 1,000 changes fits in 1 MiB; every other route keeps the gateway's small body limit. */
export const BATCH_BODY_LIMIT_BYTES = 1024 * 1024;

/** Fastify onRoute hook: the larger body limit for `POST /v1/batches` only. */
export function widenBatchBodyLimit(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (route.url === '/v1/batches' && methods.includes('POST')) route.bodyLimit = BATCH_BODY_LIMIT_BYTES;
}

/** `Prefer: wait=N` (RFC 7240), N whole seconds 0–60; other preferences are ignored. */
export function waitFrom(prefer: unknown): number | undefined {
  if (typeof prefer !== 'string') return undefined;
  const match = /(?:^|[,;]\s*)wait\s*=\s*"?([^",;\s]*)"?/i.exec(prefer);
  if (!match) return undefined;
  const seconds = /^\d{1,2}$/.test(match[1]) ? Number(match[1]) : NaN;
  if (!(seconds >= 0 && seconds <= 60)) {
    throw GatewayError.validation([
      { field: 'Prefer', message: 'wait must be a whole number of seconds from 0 to 60' },
    ]);
  }
  return seconds;
}

@ApiKeyController('v1/batches', 'batches')
export class BatchesController {
  constructor(private readonly batches: BatchService) {}

  @Post()
  @RequireScope('status:write')
  @HttpCode(202)
  @UseInterceptors(BatchAnswerInterceptor)
  @ApiOperation({
    operationId: 'createBatch',
    summary: 'Many status changes in one request',
    description:
      '1 to 1,000 items (body up to 1 MiB), each validated like a single change; any structural problem refuses the ' +
      'whole batch (400, `errors[].field` like `items[3].status`). The batch is recorded before the answer (202 + ' +
      'Location) and carried out by the gateway: every item becomes a change with its own audit record carrying ' +
      'batchId. ClearGrid items for one endpoint travel together (≤ 100 accounts per request). Scope status:write; ' +
      'status:close too when any item is CLOSED or a status its provider marks final.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    description:
      'For the whole batch; same key and body → the same batch (Idempotent-Replayed: true); another body → 422',
  })
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description:
      'wait=N (0–60 s): answer 200 with the final summary if every item ends in time (Preference-Applied)',
  })
  @ApiBody({
    type: CreateBatchDto,
    examples: { mixed: { summary: 'A mixed batch over four providers', value: MIXED_BATCH_EXAMPLE } },
  })
  @ApiResponse({
    status: 202,
    type: BatchSummaryDto,
    description: 'Recorded; running (Location: /v1/batches/{batchId})',
    headers: responseHeaders('Location', 'Idempotent-Replayed'),
  })
  @ApiResponse({
    status: 200,
    type: BatchSummaryDto,
    description: 'With Prefer: wait=N, every item ended in time',
    headers: responseHeaders('Location', 'Preference-Applied', 'Idempotent-Replayed'),
  })
  @ApiBatchProblems(
    '/v1/batches',
    BATCH_VALIDATION,
    UNAUTHENTICATED,
    forbidden('status:close', 'for a batch with CLOSED or another final status'),
    BATCH_KEY_REUSED,
    TOO_LARGE,
    UNSUPPORTED_MEDIA,
    RATE_LIMITED,
    INTERNAL,
  )
  create(
    @Body() body: CreateBatchDto,
    @Headers('idempotency-key') key: unknown,
    @Headers('prefer') prefer: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<BatchAnswer> {
    return this.batches.create(
      body,
      { idempotencyKey: idempotencyKeyFrom(key), waitSeconds: waitFrom(prefer) },
      ctx,
    );
  }

  @Get(':batchId')
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'getBatch',
    summary: "A batch's summary",
    description: 'Only the API key that created it sees it (404 otherwise).',
  })
  @ApiResponse({ status: 200, type: BatchSummaryDto, headers: responseHeaders() })
  @ApiBatchProblems('/v1/batches/{batchId}', ...ofOneBatch('status:read', 'for GET /v1/batches/:batchId'))
  summary(@Param() path: BatchPathDto, @Ctx() ctx: RequestContext): Promise<BatchSummaryDto> {
    return this.batches.summary(path.batchId, ctx);
  }

  @Get(':batchId/items')
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'listBatchItems',
    summary: "A batch's items in request order",
    description: 'outcome=FAILED gives the failures only.',
  })
  @ApiResponse({ status: 200, type: BatchItemsPageDto, headers: responseHeaders() })
  @ApiBatchProblems(
    '/v1/batches/{batchId}/items',
    ...ofOneBatch('status:read', 'for GET /v1/batches/:batchId/items'),
  )
  items(
    @Param() path: BatchPathDto,
    @Query() query: BatchItemsQueryDto,
    @Ctx() ctx: RequestContext,
  ): Promise<BatchItemsPageDto> {
    return this.batches.items(path.batchId, query, ctx);
  }

  @Delete(':batchId')
  @RequireScope('status:write')
  @ApiOperation({
    operationId: 'cancelBatch',
    summary: 'Cancel the items not started yet',
    description: 'Items in flight finish; state CANCELLED once nothing runs.',
  })
  @ApiResponse({ status: 200, type: BatchSummaryDto, headers: responseHeaders() })
  @ApiBatchProblems('/v1/batches/{batchId}', ...ofOneBatch('status:write', 'for DELETE /v1/batches/:batchId'))
  cancel(@Param() path: BatchPathDto, @Ctx() ctx: RequestContext): Promise<BatchSummaryDto> {
    return this.batches.cancel(path.batchId, ctx);
  }
}

/** The problems of a request naming one batch: its id, the key, its scope, the batch, the rate. */
function ofOneBatch(scope: string, why: string) {
  return [PATH_VALIDATION, UNAUTHENTICATED, forbidden(scope, why), NOT_FOUND, RATE_LIMITED, INTERNAL];
}
