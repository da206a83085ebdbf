/** The body of GET /v1/providers: each provider and what every canonical status becomes there. */
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  NULLABLE_PROVIDER_STATUS_BRANCHES,
  ProviderProperty,
  ProviderValueProperty,
} from './schema-parts.js';

export class StatusCapabilityDto {
  @ApiProperty({ example: true })
  supported: boolean;

  @ProviderValueProperty(
    'close_with_refund',
    'here the value sent when no reason is given, null when the status is unsupported without one',
  )
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
  @ProviderProperty('spidr')
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
