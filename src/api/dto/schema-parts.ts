/**
 * Schema pieces shared by several DTOs. The document is OpenAPI 3.0.3, where `nullable: true` is only honoured next
 * to a `type`, so a provider value that may be null carries `nullable` on its string branch (the branches stay
 * mutually exclusive: null matches only that one).
 */
import { ApiProperty, getSchemaPath } from '@nestjs/swagger';

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

/** A provider's own status value: a string (Pismo, Spidr), an integer (ClearGrid) or Canopy's pair. */
export const PROVIDER_STATUS_BRANCHES = [
  { type: 'string' },
  { type: 'integer' },
  { $ref: getSchemaPath(CanopyProviderStatusDto) },
];

/** The same, or null. */
export const NULLABLE_PROVIDER_STATUS_BRANCHES = [
  { type: 'string', nullable: true },
  ...PROVIDER_STATUS_BRANCHES.slice(1),
];

export const PROVIDER_STATUS_DESCRIPTION =
  "The provider's own value: a string (Pismo 'BLOCKED', Spidr 'close_with_refund'), an integer (ClearGrid 5), " +
  'or for Canopy {status, substatus}';

/** `enum` for a nullable enum: the values and null, as OpenAPI 3.0.3 requires for null to be allowed. */
export function nullableEnum<T extends string>(
  values: readonly T[],
): { type: 'string'; nullable: true; enum: Array<T | null> } {
  return { type: 'string', nullable: true, enum: [...values, null] };
}
