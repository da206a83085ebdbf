import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Lifecycle } from '../common/lifecycle.js';
import { Store } from '../persistence/store.js';
import { ProvidersService } from '../services/providers.service.js';

/** A database whose probe write has not finished within this long counts as down (a probe must not hang). */
export const DATABASE_PING_TIMEOUT_MS = 2_000;

const READY_EXAMPLE = {
  status: 'ok',
  info: {
    gateway: { status: 'up', draining: false },
    database: { status: 'up', engine: 'sqlite' },
    spidr: { status: 'up', mode: 'sandbox', circuit: 'closed' },
  },
  error: {},
  details: {
    gateway: { status: 'up', draining: false },
    database: { status: 'up', engine: 'sqlite' },
    spidr: { status: 'up', mode: 'sandbox', circuit: 'closed' },
  },
};

/**
 * Liveness and readiness in @nestjs/terminus's format (`status`, `info`, `error`, `details`). Readiness
 * fails (503) only on what the gateway itself needs: the database, and not draining. A provider whose
 * circuit is open or half-open is reported `degraded` (the overall status becomes `degraded`, still
 * 200): restarting or unrouting the gateway would not bring the provider back.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly providers: ProvidersService,
    @Inject(Store) private readonly store: Store,
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
  ) {}

  @Get('live')
  @ApiOperation({
    operationId: 'getLiveness',
    security: [],
    summary: 'Liveness: the process answers',
    description:
      'Always cheap: no dependency is checked, so a slow database never gets the gateway restarted.',
  })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok', info: {}, error: {}, details: {} } } })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({
    operationId: 'getReadiness',
    security: [],
    summary: 'Readiness: the gateway can serve',
    description:
      "200 while the database takes a write (this process's heartbeat row, within 2 s — a full or read-only " +
      'disk fails it, a ping would not) and the gateway is not draining; 503 otherwise (after SIGTERM, or ' +
      'with the database down or unable to write), 200 again as soon as it writes. Reports each provider: `up` with its mode and circuit, or ' +
      '`degraded` (overall status `degraded`, still 200) while its circuit is open or half-open — a provider ' +
      'outage never makes the gateway unready.',
  })
  @ApiResponse({ status: 200, schema: { example: READY_EXAMPLE } })
  @ApiResponse({
    status: 503,
    description:
      'Draining, or the database down or unable to write (same body shape, the failing part under `error`)',
    schema: {
      example: {
        status: 'error',
        info: { gateway: { status: 'up', draining: false } },
        error: { database: { status: 'down', engine: 'postgres', message: 'no answer within 2000 ms' } },
        details: {
          gateway: { status: 'up', draining: false },
          database: { status: 'down', engine: 'postgres', message: 'no answer within 2000 ms' },
        },
      },
    },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.gateway(),
        () => this.database(),
        ...this.providers.list().items.map((p) => () => this.provider(p.id, p.mode, p.circuit)),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.code(503);
      return error.getResponse() as HealthCheckResult;
    }
  }

  private gateway(): HealthIndicatorResult {
    const session = this.indicators.check('gateway');
    return this.lifecycle.draining ? session.down({ draining: true }) : session.up({ draining: false });
  }

  private async database(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('database');
    const engine = this.store.database.engine;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${DATABASE_PING_TIMEOUT_MS} ms`)),
        DATABASE_PING_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.store.probeWrite(), timeout]);
      return session.up({ engine });
    } catch (error) {
      // The driver's message may name the host; the reason class is enough for a probe.
      const message =
        error instanceof Error && error.message.startsWith('no answer') ? error.message : 'unreachable';
      return session.down({ engine, message });
    } finally {
      clearTimeout(timer);
    }
  }

  private provider(id: string, mode: string, circuit: string): HealthIndicatorResult {
    const session = this.indicators.check(id);
    return circuit === 'closed' ? session.up({ mode, circuit }) : session.degraded({ mode, circuit });
  }
}
