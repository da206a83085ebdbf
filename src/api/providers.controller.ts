import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ProvidersService } from '../services/providers.service.js';
import { ApiProblems } from './api-problems.decorator.js';
import { ApiKeyGuard, RequireScope } from './auth.guard.js';
import { ProvidersResponseDto } from './dto/responses.dto.js';

@ApiTags('providers')
@ApiSecurity('apiKey')
@ApiSecurity('bearer')
@UseGuards(ApiKeyGuard)
@Controller('v1/providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @Get()
  @RequireScope('status:read')
  @ApiOperation({
    summary: 'List providers and their capability matrix',
    description:
      'For every provider: its mode (live, sandbox, disabled), circuit state, whether it has a live read, and for ' +
      'every canonical status the provider value it maps to (per reason where the reason changes it), or that it is unsupported.',
  })
  @ApiResponse({ status: 200, type: ProvidersResponseDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN')
  list(): ProvidersResponseDto {
    return this.providers.list();
  }
}
