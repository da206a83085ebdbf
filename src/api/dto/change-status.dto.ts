import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import {
  CANONICAL_REASONS,
  CANONICAL_STATUSES,
  PROVIDER_IDS,
  type CanonicalReason,
  type CanonicalStatus,
} from '../../domain/index.js';
import { OneOf, OptionalOneOf, PageCursor, PageLimit } from './schema-parts.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../../services/account-status.service.js';

/** Ids that reach provider URLs: a conservative character set so no value can steer a path. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,127}$/;
export const ID_RULE =
  'must be 1-128 characters: letters, digits and . _ ~ : @ + - (starting with a letter or digit)';

export class AccountPathDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'spidr', description: 'Provider id' })
  @IsString()
  provider: string;

  @ApiProperty({
    example: 'acc-1001',
    description: `The account id at that provider (Pismo: the external account id); ${ID_RULE}`,
    pattern: ID_PATTERN.source,
  })
  @Matches(ID_PATTERN, { message: `accountId ${ID_RULE}` })
  accountId: string;
}

export class ChangeStatusQueryDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'true: answer with the provider request that would be sent, without sending it',
    example: 'false',
  })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'dryRun must be true or false' })
  dryRun?: 'true' | 'false';
}

export class ChangeStatusDto {
  @OneOf(CANONICAL_STATUSES, { example: 'SUSPENDED', description: 'The canonical status to set' })
  status: CanonicalStatus;

  @OptionalOneOf(CANONICAL_REASONS, {
    example: 'FRAUD',
    description: 'Why; some providers encode it (Canopy substatus, Pismo reason, Spidr close type)',
  })
  reason?: CanonicalReason;

  @ApiPropertyOptional({
    example: 'customer_001',
    description: `The customer id; required for every ClearGrid change (its debtorCompanyId); ${ID_RULE}`,
  })
  @IsOptional()
  @Matches(ID_PATTERN, { message: `customerId ${ID_RULE}` })
  customerId?: string;

  @ApiPropertyOptional({
    example: 'Card reported stolen (ticket 4711)',
    maxLength: 500,
    description: 'Free text kept in the audit trail; never sent to the provider',
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { reasonExternalId: 'CREDIT_ONLY', updateChildren: true },
    description:
      'Provider-specific options, validated per provider; unknown keys are refused. ' +
      'pismo: {updateChildren: boolean, reasonExternalId: string (≤120), metadata: object}; ' +
      'spidr: {ztmSessionKey: string, bypassZtm: boolean}; cleargrid and canopy: none.',
  })
  @IsOptional()
  @IsObject()
  providerOptions?: Record<string, unknown>;
}

export class HistoryQueryDto {
  @PageLimit(HISTORY_MAX_LIMIT, {
    type: 'integer',
    default: HISTORY_DEFAULT_LIMIT,
    example: HISTORY_DEFAULT_LIMIT,
    description: 'Page size',
  })
  limit?: number;

  // No example on purpose: Swagger UI's Try it out pre-fills parameters with their example, and a made-up cursor
  // would silently skip the account's real history.
  @PageCursor({ description: 'nextCursor of the previous page (leave empty for the newest page)' })
  cursor?: string;
}
