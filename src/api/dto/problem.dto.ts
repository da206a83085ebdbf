/** The problem+json body every error answers with (CONTRACT §4), as the OpenAPI document describes it. */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_CATALOG } from '../../domain/index.js';
import { ProviderProperty, RequestIdProperty } from './schema-parts.js';

export const ERROR_CODES = Object.keys(ERROR_CATALOG);

export class ProviderErrorDto {
  @ProviderProperty('pismo')
  id: string;

  @ApiPropertyOptional({ type: 'integer', example: 400, description: 'Absent when no answer arrived' })
  httpStatus?: number;

  @ApiProperty({
    example: 'WCAC0012',
    description: "The provider's own code (NO_CODE when its body has none)",
  })
  code: string;

  @ApiProperty({ example: 'Corporate account not found' })
  message: string;
}

export class FieldErrorDto {
  @ApiProperty({ example: 'status' })
  field: string;

  @ApiProperty({ example: 'status must be one of ACTIVE, SUSPENDED, …' })
  message: string;
}

export class ProblemDto {
  @ApiProperty({ example: 'urn:problem:ACCOUNT_NOT_FOUND' })
  type: string;

  @ApiProperty({ example: 'Account not found' })
  title: string;

  @ApiProperty({ type: 'integer', example: 404 })
  status: number;

  @ApiProperty({ example: 'pismo change status failed: HTTP 400 WCAC0012 Corporate account not found' })
  detail: string;

  @ApiProperty({ example: '/v1/accounts/pismo/EXT-1/status' })
  instance: string;

  @ApiProperty({ enum: ERROR_CODES, example: 'ACCOUNT_NOT_FOUND', description: 'The canonical error code' })
  code: string;

  @ApiProperty({ example: false, description: 'True when the same request may succeed later unchanged' })
  retryable: boolean;

  @RequestIdProperty()
  requestId: string;

  @ApiPropertyOptional({ type: ProviderErrorDto, description: 'Present whenever a provider answered' })
  provider?: ProviderErrorDto;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present on VALIDATION_FAILED' })
  errors?: FieldErrorDto[];

  @ApiPropertyOptional({
    type: [String],
    example: ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'CLOSED'],
    description: 'Present on STATUS_NOT_SUPPORTED: the statuses this provider can express',
  })
  supportedStatuses?: string[];

  @ApiPropertyOptional({
    enum: ['status:read', 'status:write', 'status:close', 'events:read'],
    example: 'status:write',
    description: 'Present on FORBIDDEN: the scope the key lacks',
  })
  requiredScope?: string;

  @ApiPropertyOptional({
    enum: ['closed', 'open', 'half-open'],
    example: 'open',
    description: "Present on PROVIDER_UNAVAILABLE when the provider's circuit is open",
  })
  circuit?: string;
}
