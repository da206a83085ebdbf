import { Get } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProvidersService } from '../services/providers.service.js';
import { ApiProblems } from './api-problems.decorator.js';
import { ApiKeyController, RequireScope } from './auth.guard.js';
import { PROVIDERS_EXAMPLES } from './dto/response-examples.js';
import { ProvidersResponseDto, StatusCapabilityDto } from './dto/providers.dto.js';
import { CanopyProviderStatusDto, SpidrProviderStatusDto } from './dto/schema-parts.js';
import { responseHeaders } from './openapi-headers.js';

@ApiExtraModels(ProvidersResponseDto, StatusCapabilityDto, CanopyProviderStatusDto, SpidrProviderStatusDto)
@ApiKeyController('v1/providers', 'providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @Get()
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'listProviders',
    summary: 'List providers and their capability matrix',
    description:
      'For every provider: its mode (live, sandbox, disabled), circuit state, whether it has a live read, and for ' +
      'every canonical status the provider value it maps to (per reason where the reason changes it), or that it is unsupported.',
  })
  @ApiResponse({
    status: 200,
    description: 'Every provider with its capability matrix',
    headers: responseHeaders(),
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(ProvidersResponseDto) },
        examples: PROVIDERS_EXAMPLES,
      },
    },
  })
  @ApiProblems(
    { method: 'GET', path: '/v1/providers', callsProvider: false },
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'RATE_LIMITED',
  )
  list(): ProvidersResponseDto {
    return this.providers.list();
  }
}
