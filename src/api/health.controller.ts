import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ProvidersService } from '../services/providers.service.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly providers: ProvidersService) {}

  @Get('live')
  @ApiOperation({
    summary: 'Liveness: the process answers',
    description: 'Always cheap; no dependency is checked.',
  })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: the gateway can serve',
    description:
      "200 while the gateway can serve; reports each provider's mode and circuit but never fails because a provider is down.",
  })
  @ApiResponse({
    status: 200,
    schema: { example: { status: 'ok', providers: { spidr: { mode: 'sandbox', circuit: 'closed' } } } },
  })
  ready(): { status: 'ok'; providers: Record<string, { mode: string; circuit: string }> } {
    const providers = Object.fromEntries(
      this.providers.list().items.map((p) => [p.id, { mode: p.mode, circuit: p.circuit }]),
    );
    return { status: 'ok', providers };
  }
}
