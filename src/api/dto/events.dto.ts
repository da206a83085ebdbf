import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { EVENT_TYPES, type EventType } from '../../events/cloud-events.js';
import { ERROR_CATALOG } from '../../domain/index.js';
import {
  AccountIdProperty,
  ProviderValueProperty,
  nullableEnum,
  OptionalOneOf,
  PageCursor,
  PageLimit,
  NullableStatusProperty,
  ProviderProperty,
  ReasonProperty,
  RequestIdProperty,
  StatusProperty,
} from './schema-parts.js';

export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1000;
const ERROR_CODES = [...Object.keys(ERROR_CATALOG), 'UNFINISHED'];
const CHANGE_ID = '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f';

export class ChangePathDto {
  @ApiProperty({ example: CHANGE_ID })
  @Matches(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: 'changeId is not a change id',
  })
  changeId: string;
}

/** GET /v1/changes/{changeId} (CONTRACT §7). */
export class ChangeRecordDto {
  @ApiProperty({ example: CHANGE_ID }) changeId: string;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'null unless from a batch' })
  batchId: string | null;

  @ProviderProperty('cleargrid') provider: string;
  @AccountIdProperty() accountId: string;
  @StatusProperty('DISPUTED') status: string;
  @ReasonProperty(null) reason: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'Customer called' }) note: string | null;
  @ApiProperty({ example: 'billing-service' }) callerId: string;
  @RequestIdProperty() requestId: string;

  @ApiProperty({
    enum: ['PENDING', 'APPLIED', 'ACCEPTED', 'FAILED', 'UNFINISHED'],
    example: 'ACCEPTED',
    description: 'PENDING while it runs',
  })
  outcome: string;

  @ApiProperty({ ...nullableEnum(ERROR_CODES), example: null, description: 'When FAILED or UNFINISHED' })
  errorCode: string | null;

  @ProviderValueProperty('DISPUTE', 'null until the provider answered')
  providerStatus: unknown;

  @ApiProperty({ type: 'integer', nullable: true, example: 202 }) providerHttpStatus: number | null;

  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' }) requestedAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-11-21T09:00:00.120Z' })
  completedAt: string | null;
}

export class EventsQueryDto {
  @PageCursor({ description: 'The nextCursor of the previous page; absent: from the oldest event kept' })
  after?: string;

  @PageLimit(EVENTS_MAX_LIMIT, { default: EVENTS_DEFAULT_LIMIT })
  limit?: number;

  @OptionalOneOf(EVENT_TYPES, { description: 'Only events of this type' })
  type?: EventType;

  @ApiPropertyOptional({
    example: 'pismo/acc-1001',
    description: 'Only events of this account: <provider>/<accountId>',
  })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  subject?: string;
}

export class ChangeEventDataDto {
  @ApiProperty({ example: CHANGE_ID }) changeId: string;
  @ApiProperty({ type: String, nullable: true, example: null }) batchId: string | null;
  @ProviderProperty('pismo') provider: string;
  @AccountIdProperty() accountId: string;
  @StatusProperty() status: string;
  @ReasonProperty() reason: string | null;
  @ApiProperty({ enum: ['APPLIED', 'ACCEPTED'], example: 'APPLIED' }) outcome: string;

  @ProviderValueProperty('BLOCKED')
  providerStatus: unknown;

  @ApiProperty({ example: 'billing-service' }) callerId: string;
  @RequestIdProperty() requestId: string;
}

export class ChangeFailedEventDataDto extends ChangeEventDataDto {
  @ApiProperty({ enum: ['FAILED', 'UNFINISHED'], example: 'FAILED' }) declare outcome: string;

  @ApiProperty({
    enum: ERROR_CODES,
    example: 'ACCOUNT_NOT_FOUND',
    description: 'The canonical error code (section 4), or UNFINISHED',
  })
  errorCode: string;
}

export class DriftEventDataDto {
  @ProviderProperty('canopy') provider: string;
  @AccountIdProperty() accountId: string;
  @StatusProperty('CLOSED') expectedStatus: string;

  @NullableStatusProperty('ACTIVE', 'null when the provider value has no canonical name')
  observedStatus: string | null;

  @ProviderValueProperty({ status: 'ACTIVE', substatus: null })
  observedProviderStatus: unknown;

  @ApiProperty({ example: CHANGE_ID, description: 'The change that set the expected status' })
  lastChangeId: string;
}

/** The CloudEvents 1.0 envelope (structured JSON mode) every event shares. */
class CloudEventEnvelopeDto {
  @ApiProperty({ enum: ['1.0'], example: '1.0' }) specversion: string;
  @ApiProperty({
    example: '01935a8e-7c4b-7d2a-9f00-aaaaaaaaaaaa',
    description: 'Unique event id; also webhook-id',
  })
  id: string;
  @ApiProperty({ enum: ['statusgate'], example: 'statusgate' }) source: string;
  @ApiProperty({ example: 'pismo/acc-1001', description: '<provider>/<accountId>' }) subject: string;
  @ApiProperty({ example: '2026-11-21T09:00:00.000Z', format: 'date-time' }) time: string;
  @ApiProperty({ enum: ['application/json'], example: 'application/json' }) datacontenttype: string;
}

export class StatusChangedEventDto extends CloudEventEnvelopeDto {
  @ApiProperty({ enum: ['account.status.changed'], example: 'account.status.changed' }) type: string;
  @ApiProperty({ type: ChangeEventDataDto }) data: ChangeEventDataDto;
}

export class StatusChangeFailedEventDto extends CloudEventEnvelopeDto {
  @ApiProperty({ enum: ['account.status.change_failed'], example: 'account.status.change_failed' })
  type: string;
  @ApiProperty({ type: ChangeFailedEventDataDto }) data: ChangeFailedEventDataDto;
}

export class StatusDriftedEventDto extends CloudEventEnvelopeDto {
  @ApiProperty({ enum: ['account.status.drifted'], example: 'account.status.drifted' }) type: string;
  @ApiProperty({ type: DriftEventDataDto }) data: DriftEventDataDto;
}

export const EVENT_DTOS = [StatusChangedEventDto, StatusChangeFailedEventDto, StatusDriftedEventDto];

/** One event of any type: oneOf by `type`. */
export const EVENT_SCHEMA = {
  oneOf: EVENT_DTOS.map((dto) => ({ $ref: getSchemaPath(dto) })),
  discriminator: {
    propertyName: 'type',
    mapping: {
      'account.status.changed': getSchemaPath(StatusChangedEventDto),
      'account.status.change_failed': getSchemaPath(StatusChangeFailedEventDto),
      'account.status.drifted': getSchemaPath(StatusDriftedEventDto),
    },
  },
};

export class EventsPageDto {
  @ApiProperty({ type: 'array', items: EVENT_SCHEMA, description: 'Oldest first, in commit order' })
  items: unknown[];

  @ApiProperty({
    example: 'e1.MTIzNDU2LjQy',
    description: 'Never null: poll again with after=<this> to get the events committed since',
  })
  nextCursor: string;
}
