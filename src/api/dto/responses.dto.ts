/** The bodies the accounts endpoints answer with: a change, a dry run, a status reading, the history. */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_CODES } from './problem.dto.js';
import {
  AccountIdProperty,
  nullableEnum,
  NullableStatusProperty,
  ProviderStatusProperty,
  ProviderProperty,
  ReasonProperty,
  RequestIdProperty,
  StatusProperty,
} from './schema-parts.js';

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

  @ProviderProperty('spidr')
  provider: string;

  @AccountIdProperty()
  accountId: string;

  @StatusProperty()
  status: string;

  @ReasonProperty()
  reason: string | null;

  @ApiProperty({
    enum: ['APPLIED', 'ACCEPTED'],
    example: 'APPLIED',
    description:
      'APPLIED (HTTP 200): the provider applied it; ACCEPTED (HTTP 202): queued by the provider (ClearGrid)',
  })
  outcome: string;

  @ProviderStatusProperty('suspended')
  providerStatus: unknown;

  @RequestIdProperty()
  requestId: string;

  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' })
  completedAt: string;
}

export class AccountStatusDto {
  @ProviderProperty('canopy')
  provider: string;

  @AccountIdProperty()
  accountId: string;

  @NullableStatusProperty(
    'SUSPENDED',
    'null when the provider status has no canonical equivalent (e.g. Pismo DORMANT)',
  )
  status: string | null;

  @ReasonProperty()
  reason: string | null;

  @ProviderStatusProperty({ status: 'SUSPENDED', substatus: 'FRAUD' })
  providerStatus: unknown;

  @ApiProperty({
    enum: ['provider', 'gateway'],
    example: 'provider',
    description: 'provider: read live; gateway: the last change the gateway recorded (provider has no read)',
  })
  source: string;

  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' })
  asOf: string;

  @NullableStatusProperty(
    'SUSPENDED',
    'Only when source is provider: the last status applied through the gateway (its latest APPLIED ' +
      'change), or null when none was',
    { optional: true },
  )
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

  @RequestIdProperty()
  requestId: string;

  @StatusProperty()
  status: string;

  @ReasonProperty()
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
