/**
 * Schema pieces shared by several DTOs. The document is OpenAPI 3.0.3, where `nullable: true` is only honoured next
 * to a `type`, so a provider value that may be null carries `nullable` on its string branch (the branches stay
 * mutually exclusive: null matches only that one).
 */
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, getSchemaPath, type ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  CANONICAL_REASONS,
  CANONICAL_STATUSES,
  PROVIDER_IDS,
  type CanonicalReason,
  type CanonicalStatus,
  type ProviderId,
} from '../../domain/index.js';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

/** Canopy's provider value: its status with the substatus the reason chose (null when none). */
export class CanopyProviderStatusDto {
  @ApiProperty({ example: 'SUSPENDED', description: "Canopy's account_status" })
  status: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'FRAUD',
    description: "Canopy's account_substatus (null when none)",
  })
  substatus: string | null;
}

/** Spidr's value as read back: its status with the close type (close_* writes read as `closed` + statusReason). */
export class SpidrProviderStatusDto {
  @ApiProperty({ example: 'closed', description: "Spidr's status" })
  status: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'close_with_refund',
    description: "Spidr's statusReason (null unless closed)",
  })
  statusReason: string | null;
}

/**
 * A provider's own status value: a string (Pismo, Spidr when written), an integer (ClearGrid), Canopy's pair, or
 * Spidr's pair as read back.
 */
export const PROVIDER_STATUS_BRANCHES = [
  { type: 'string' },
  { type: 'integer' },
  { $ref: getSchemaPath(CanopyProviderStatusDto) },
  { $ref: getSchemaPath(SpidrProviderStatusDto) },
];

/** The same, or null. */
export const NULLABLE_PROVIDER_STATUS_BRANCHES = [
  { type: 'string', nullable: true },
  ...PROVIDER_STATUS_BRANCHES.slice(1),
];

export const PROVIDER_STATUS_DESCRIPTION =
  "The provider's own value: a string (Pismo 'BLOCKED', Spidr 'close_with_refund'), an integer (ClearGrid 5), " +
  'for Canopy {status, substatus}; a live Spidr read gives {status, statusReason}';

/** `enum` for a nullable enum: the values and null, as OpenAPI 3.0.3 requires for null to be allowed. */
export function nullableEnum<T extends string>(
  values: readonly T[],
): { type: 'string'; nullable: true; enum: Array<T | null> } {
  return { type: 'string', nullable: true, enum: [...values, null] };
}

/**
 * A page size query value, a whole number from 1 to `max` (every failure names that rule). The decorators are
 * listed bottom-up, the order in which stacked ones apply.
 */
export function PageLimit(max: number, doc: ApiPropertyOptions = {}): PropertyDecorator {
  const rule = `limit must be a whole number from 1 to ${max}`;
  return applyDecorators(
    Max(max, { message: rule }),
    Min(1, { message: rule }),
    IsInt({ message: rule }),
    Type(() => Number),
    IsOptional(),
    ApiPropertyOptional({ minimum: 1, maximum: max, ...doc }),
  );
}

/** An opaque cursor query value (a page's nextCursor, an event id): a string of at most 200 characters. */
export function PageCursor(doc: ApiPropertyOptions): PropertyDecorator {
  return applyDecorators(MaxLength(200), IsString(), IsOptional(), ApiPropertyOptional(doc));
}

/**
 * A value from a fixed list: `enum` in the document, and a failure that names the property and every allowed
 * value (`status must be one of ACTIVE, …`), so each list is spelled once.
 */
export function OneOf(values: readonly string[], doc: ApiPropertyOptions = {}): PropertyDecorator {
  return (target, key) =>
    applyDecorators(
      IsIn(values, { message: `${String(key)} must be one of ${values.join(', ')}` }),
      ApiProperty({ enum: values, ...doc }),
    )(target, key);
}

/** The same, for a property that may be absent. */
export function OptionalOneOf(values: readonly string[], doc: ApiPropertyOptions = {}): PropertyDecorator {
  return (target, key) =>
    applyDecorators(
      IsIn(values, { message: `${String(key)} must be one of ${values.join(', ')}` }),
      IsOptional(),
      ApiPropertyOptional({ enum: values, ...doc }),
    )(target, key);
}

/** The request id every example answer carries (problem bodies, audit rows, events). */
export const EXAMPLE_REQUEST_ID = 'c0ffee00-1234-4abc-8def-000000000001';

/*
 * Answer properties that several response bodies carry and document alike; the provider's example differs per
 * body so each one reads as a plausible answer on its own.
 */
export const RequestIdProperty = (): PropertyDecorator => ApiProperty({ example: EXAMPLE_REQUEST_ID });
export const AccountIdProperty = (): PropertyDecorator => ApiProperty({ example: 'acc-1001' });
export const ProviderProperty = (example: ProviderId): PropertyDecorator =>
  ApiProperty({ enum: PROVIDER_IDS, example });
export const StatusProperty = (example: CanonicalStatus = 'SUSPENDED'): PropertyDecorator =>
  ApiProperty({ enum: CANONICAL_STATUSES, example });
export const ReasonProperty = (example: CanonicalReason | null = 'FRAUD'): PropertyDecorator =>
  ApiProperty({ ...nullableEnum(CANONICAL_REASONS), example });

/** A canonical status or null; `description` says when it is null. `optional`: the property may be absent. */
export const NullableStatusProperty = (
  example: CanonicalStatus,
  description: string,
  { optional = false } = {},
): PropertyDecorator =>
  (optional ? ApiPropertyOptional : ApiProperty)({
    ...nullableEnum(CANONICAL_STATUSES),
    example,
    description,
  });

/** A provider's own value (never null); the description says what one can be. */
export const ProviderStatusProperty = (example: unknown): PropertyDecorator =>
  ApiProperty({ oneOf: PROVIDER_STATUS_BRANCHES, example, description: PROVIDER_STATUS_DESCRIPTION });

/** A provider's own value or null; `note` adds which value of which body it is, and when it is null. */
export const ProviderValueProperty = (example: unknown, note?: string): PropertyDecorator =>
  ApiProperty({
    oneOf: NULLABLE_PROVIDER_STATUS_BRANCHES,
    example,
    description: note === undefined ? PROVIDER_STATUS_DESCRIPTION : `${PROVIDER_STATUS_DESCRIPTION}; ${note}`,
  });
