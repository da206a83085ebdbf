import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, Matches, ValidateNested } from 'class-validator';
import { PROVIDER_IDS } from '../../domain/index.js';
import {
  BATCH_ITEMS_DEFAULT_LIMIT,
  BATCH_ITEMS_MAX_LIMIT,
  BATCH_MAX_ITEMS,
  BATCH_OUTCOMES,
  type BatchOutcome,
} from '../../services/batch.types.js';
import { ChangeStatusDto, ID_PATTERN, ID_RULE } from './change-status.dto.js';
import {
  ProviderValueProperty,
  OneOf,
  OptionalOneOf,
  PageCursor,
  PageLimit,
  ProviderProperty,
  ReasonProperty,
  StatusProperty,
} from './schema-parts.js';

/**
 * One change of a batch: the body of `PUT …/status` (the same fields, rules and messages) plus the provider and
 * account of its path.
 */
export class BatchItemDto extends ChangeStatusDto {
  @OneOf(PROVIDER_IDS, { example: 'spidr' })
  provider: string;

  @ApiProperty({ example: 'acc-1001', pattern: ID_PATTERN.source, description: `The account id; ${ID_RULE}` })
  @IsString({ message: `accountId ${ID_RULE}` })
  @Matches(ID_PATTERN, { message: `accountId ${ID_RULE}` })
  accountId: string;
}

export class CreateBatchDto {
  @ApiProperty({ type: [BatchItemDto], minItems: 1, maxItems: BATCH_MAX_ITEMS })
  @IsArray({ message: 'items must be an array' })
  @ArrayMinSize(1, { message: 'items must hold at least 1 item' })
  @ArrayMaxSize(BATCH_MAX_ITEMS, { message: `items must hold at most ${BATCH_MAX_ITEMS} items` })
  @ValidateNested({ each: true })
  @Type(() => BatchItemDto)
  items: BatchItemDto[];
}

export const MIXED_BATCH_EXAMPLE = {
  items: [
    { provider: 'cleargrid', accountId: 'acc-2001', customerId: 'customer_001', status: 'DO_NOT_CONTACT' },
    { provider: 'cleargrid', accountId: 'acc-2002', customerId: 'customer_002', status: 'DISPUTED' },
    {
      provider: 'spidr',
      accountId: 'acc-3001',
      status: 'SUSPENDED',
      reason: 'FRAUD',
      note: 'Fraud ring 2026-12',
    },
    { provider: 'canopy', accountId: 'acc-4001', status: 'SUSPENDED', reason: 'RISK_REVIEW' },
    { provider: 'pismo', accountId: 'EXT-5001', status: 'SUSPENDED', reason: 'FRAUD' },
  ],
};

export class BatchPathDto {
  @ApiProperty({ example: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f' })
  @Matches(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: 'batchId is not a batch id',
  })
  batchId: string;
}

export class BatchItemsQueryDto {
  @PageLimit(BATCH_ITEMS_MAX_LIMIT, { default: BATCH_ITEMS_DEFAULT_LIMIT })
  limit?: number;

  @PageCursor({ description: 'nextCursor of the previous page' })
  cursor?: string;

  @OptionalOneOf(BATCH_OUTCOMES, { description: 'Only items with this outcome, e.g. FAILED' })
  outcome?: BatchOutcome;
}

class BatchCountsDto {
  @ApiProperty({ example: 0 }) PENDING: number;
  @ApiProperty({ example: 3 }) APPLIED: number;
  @ApiProperty({ example: 2 }) ACCEPTED: number;
  @ApiProperty({ example: 0 }) FAILED: number;
  @ApiProperty({ example: 0 }) UNFINISHED: number;
  @ApiProperty({ example: 0 }) CANCELLED: number;
}

export class BatchSummaryDto {
  @ApiProperty({ example: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f' })
  batchId: string;

  @ApiProperty({ enum: ['RUNNING', 'DONE', 'CANCELLED'], example: 'DONE' })
  state: 'RUNNING' | 'DONE' | 'CANCELLED';

  @ApiProperty({ example: 5 })
  total: number;

  @ApiProperty({ type: BatchCountsDto, description: 'Every count present, zeros included' })
  counts: Record<BatchOutcome, number>;

  @ApiProperty({ format: 'date-time', example: '2026-12-04T18:00:00.000Z' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-12-04T18:00:00.412Z' })
  completedAt: string | null;
}

export class BatchItemResultDto {
  @ApiProperty({ example: 2 }) index: number;
  @ProviderProperty('spidr') provider: string;
  @ApiProperty({ example: 'acc-3001' }) accountId: string;
  @StatusProperty() status: string;
  @ReasonProperty() reason: string | null;
  @ApiProperty({ enum: BATCH_OUTCOMES, example: 'APPLIED' }) outcome: BatchOutcome;
  @ApiProperty({ type: String, nullable: true, example: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e70' }) changeId:
    string | null;
  @ProviderValueProperty('suspended', 'the value sent, null when none was')
  providerStatus: unknown;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: true,
    description: 'problem+json body (CONTRACT §4) when the item failed',
  })
  error: unknown;
}

export class BatchItemsPageDto {
  @ApiProperty({ type: [BatchItemResultDto] }) items: BatchItemResultDto[];
  @ApiProperty({ type: String, nullable: true, example: null }) nextCursor: string | null;
}
