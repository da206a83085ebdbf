import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Lifecycle } from '../common/lifecycle.js';
import { Store } from '../persistence/store.js';
import { ProvidersService } from '../services/providers.service.js';

interface Readiness {
  status: 'ok' | 'draining' | 'unavailable';
  database: 'up' | 'down';
  providers: Record<string, { mode: string; circuit: string }>;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly providers: ProvidersService,
    @Inject(Store) private readonly store: Store,
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
  ) {}

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
      "200 while the database answers; 503 when it does not or while the gateway drains after SIGTERM. Reports each provider's " +
      'mode and circuit state but never fails because a provider is down.',
  })
  @ApiResponse({
    status: 200,
    schema: {
      example: { status: 'ok', database: 'up', providers: { spidr: { mode: 'sandbox', circuit: 'closed' } } },
    },
  })
  @ApiResponse({ status: 503, description: 'Draining or database down (same body shape)' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const database = await this.store.database.ping().then(
      () => 'up' as const,
      () => 'down' as const,
    );
    const providers = Object.fromEntries(
      this.providers.list().items.map((p) => [p.id, { mode: p.mode, circuit: p.circuit }]),
    );
    const status = this.lifecycle.draining ? 'draining' : database === 'up' ? 'ok' : 'unavailable';
    if (status !== 'ok') void reply.code(503);
    return { status, database, providers };
  }
}
