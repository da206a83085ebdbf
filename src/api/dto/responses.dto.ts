import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { CANONICAL_REASONS, CANONICAL_STATUSES, ERROR_CATALOG, PROVIDER_IDS } from '../../domain/index.js';
import {
  NULLABLE_PROVIDER_STATUS_BRANCHES,
  PROVIDER_STATUS_BRANCHES,
  PROVIDER_STATUS_DESCRIPTION,
  nullableEnum,
} from './schema-parts.js';

const ERROR_CODES = Object.keys(ERROR_CATALOG);

export class ProviderRequestDto {
  @ApiProperty({ enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], example: 'PATCH' })
  method: string;

  @ApiProperty({ example: 'https://api.sb.spidrsrv.com/v1/account/acc-1001', description: 'Absolute URL' })
  url: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { status: 'suspended' },
    description: "The provider's JSON body as it would be sent; never contains credentials",
  })
  body?: Record<string, unknown>;
}

export class DryRunResponseDto {
  @ApiProperty({ type: 'boolean', enum: [true], example: true, description: 'Always true: marks a dry run' })
  dryRun: true;

  @ApiProperty({ type: ProviderRequestDto })
  providerRequest: ProviderRequestDto;
}

export class ChangeStatusResponseDto {
  @ApiProperty({ example: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f', description: 'Id of this change (UUIDv7)' })
  changeId: string;

  @ApiProperty({ enum: PROVIDER_IDS, example: 'spidr' })
  provider: string;

  @ApiProperty({ example: 'acc-1001' })
  accountId: string;

  @ApiProperty({ enum: CANONICAL_STATUSES, example: 'SUSPENDED' })
  status: string;

  @ApiProperty({ ...nullableEnum(CANONICAL_REASONS), example: 'FRAUD' })
  reason: string | null;

  @ApiProperty({
    enum: ['APPLIED', 'ACCEPTED'],
    example: 'APPLIED',
    description:
      'APPLIED (HTTP 200): the provider applied it; ACCEPTED (HTTP 202): queued by the provider (ClearGrid)',
  })
  outcome: string;

  @ApiProperty({
    oneOf: PROVIDER_STATUS_BRANCHES,
    example: 'suspended',
    description: PROVIDER_STATUS_DESCRIPTION,
  })
  providerStatus: unknown;

  @ApiProperty({ example: 'c0ffee00-1234-4abc-8def-000000000001' })
  requestId: string;

  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' })
  completedAt: string;
}

export class AccountStatusDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'canopy' })
  provider: string;

  @ApiProperty({ example: 'acc-1001' })
  accountId: string;

  @ApiProperty({
    ...nullableEnum(CANONICAL_STATUSES),
    example: 'SUSPENDED',
    description: 'null when the provider status has no canonical equivalent (e.g. Pismo DORMANT)',
  })
  status: string | null;

  @ApiProperty({ ...nullableEnum(CANONICAL_REASONS), example: 'FRAUD' })
  reason: string | null;

  @ApiProperty({
    oneOf: PROVIDER_STATUS_BRANCHES,
    example: { status: 'SUSPENDED', substatus: 'FRAUD' },
    description: PROVIDER_STATUS_DESCRIPTION,
  })
  providerStatus: unknown;

  @ApiProperty({
    enum: ['provider', 'gateway'],
    example: 'provider',
    description: 'provider: read live; gateway: the last change the gateway recorded (provider has no read)',
  })
  source: string;

  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' })
  asOf: string;

  @ApiPropertyOptional({
    ...nullableEnum(CANONICAL_STATUSES),
    example: 'SUSPENDED',
    description:
      'Only when source is provider: the last status applied through the gateway (its latest APPLIED ' +
      'change), or null when none was',
  })
  expectedStatus?: string | null;

  @ApiPropertyOptional({
    type: Boolean,
    nullable: true,
    example: true,
    description:
      'Only when source is provider: whether the provider shows expectedStatus; null when there is no ' +
      'expectedStatus. false means the account drifted (changed outside the gateway, see the drift watch)',
  })
  inSync?: boolean | null;
}

export class StatusCapabilityDto {
  @ApiProperty({ example: true })
  supported: boolean;

  @ApiProperty({
    oneOf: NULLABLE_PROVIDER_STATUS_BRANCHES,
    example: 'close_with_refund',
    description: 'The provider value sent when no reason is given (null when unsupported without a reason)',
  })
  providerValue: unknown;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { oneOf: NULLABLE_PROVIDER_STATUS_BRANCHES },
    example: { FRAUD: 'close_without_refund', CHARGED_OFF: 'close_charged_off' },
    description:
      'Only where the reason changes the value: reason → provider value, null when unsupported with that reason',
  })
  providerValueByReason?: Record<string, unknown>;

  @ApiProperty({ example: true, description: 'Nothing can follow this status at the provider' })
  terminal: boolean;
}

export class ProviderInfoDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'spidr' })
  id: string;

  @ApiProperty({ example: 'Spidr' })
  name: string;

  @ApiProperty({ enum: ['live', 'sandbox', 'disabled'], example: 'sandbox' })
  mode: string;

  @ApiProperty({ enum: ['closed', 'open', 'half-open'], example: 'closed' })
  circuit: string;

  @ApiProperty({ example: true, description: 'Whether GET …/status reads live from the provider' })
  liveRead: boolean;

  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(StatusCapabilityDto) },
    description: 'One entry per canonical status (empty when the provider is disabled)',
  })
  statuses: Record<string, StatusCapabilityDto>;
}

export class ProvidersResponseDto {
  @ApiProperty({ type: [ProviderInfoDto] })
  items: ProviderInfoDto[];
}

export class ProviderErrorDto {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'pismo' })
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

  @ApiProperty({ example: 'c0ffee00-1234-4abc-8def-000000000001' })
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

export class HistoryItemDto {
  @ApiProperty({ example: '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f' })
  changeId: string;

  @ApiProperty({
    example: '2026-11-21T09:00:00.000Z',
    format: 'date-time',
    description: 'When the attempt was recorded',
  })
  at: string;

  @ApiProperty({
    example: 'billing-service',
    description: 'API key id of the caller (anonymous when auth is off)',
  })
  callerId: string;

  @ApiProperty({ example: 'c0ffee00-1234-4abc-8def-000000000001' })
  requestId: string;

  @ApiProperty({ enum: CANONICAL_STATUSES, example: 'SUSPENDED' })
  status: string;

  @ApiProperty({ ...nullableEnum(CANONICAL_REASONS), example: 'FRAUD' })
  reason: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'Card reported stolen' })
  note: string | null;

  // Inline rather than a nullable $ref: OpenAPI 3.0.3 has no way to say "this $ref or null" that validators agree on.
  @ApiProperty({
    type: 'object',
    nullable: true,
    required: ['method', 'url'],
    properties: {
      method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
      url: { type: 'string', description: 'Absolute URL' },
      body: {
        type: 'object',
        additionalProperties: true,
        description: 'JSON body; never contains credentials',
      },
    },
    description: 'As sent, without credentials; null when none was sent',
  })
  providerRequest: unknown;

  @ApiProperty({
    enum: ['APPLIED', 'ACCEPTED', 'FAILED', 'UNFINISHED'],
    example: 'APPLIED',
    description: 'UNFINISHED: still in flight, or the gateway process died before the provider answered',
  })
  outcome: string;

  @ApiProperty({
    ...nullableEnum(ERROR_CODES),
    example: null,
    description: 'Canonical error code when FAILED',
  })
  errorCode: string | null;

  @ApiProperty({ type: 'integer', nullable: true, example: 200 })
  providerHttpStatus: number | null;

  @ApiProperty({ type: 'number', nullable: true, example: 12.5, description: 'Provider call latency in ms' })
  latencyMs: number | null;

  @ApiProperty({
    nullable: true,
    example: null,
    description: 'The batch the change came from; null for a single change',
  })
  batchId: string | null;
}

export class HistoryPageDto {
  @ApiProperty({ type: [HistoryItemDto] })
  items: HistoryItemDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description: 'Pass as cursor for the next (older) page',
  })
  nextCursor: string | null;
}
