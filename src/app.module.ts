import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { Logger } from 'pino';
import { AccountsController } from './api/accounts.controller.js';
import { ApiKeyGuard } from './api/auth.guard.js';
import { HealthController } from './api/health.controller.js';
import { ProvidersController } from './api/providers.controller.js';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { ProviderRegistry } from './providers/provider-registry.js';
import type { ProviderRuntime } from './runtime/provider-runtime.js';
import { CallerAuthService } from './services/caller-auth.service.js';
import { RateLimiter } from './services/rate-limiter.js';
import { ProvidersService } from './services/providers.service.js';
import { AccountStatusService } from './services/account-status.service.js';
import { ChangeStatusService } from './services/change-status.service.js';
import { IdempotencyService } from './services/idempotency.service.js';
import { UnfinishedChanges } from './services/unfinished-changes.js';
import { Store } from './persistence/store.js';
import { Lifecycle } from './common/lifecycle.js';
import { Metrics } from './observability/metrics.js';
import { MetricsController } from './api/metrics.controller.js';
import { BatchesController } from './api/batches.controller.js';
import { BatchService } from './services/batch.service.js';
import { BatchWorker } from './services/batch-worker.js';
import { DRIFT_CLOCK, DRIFT_LOGGER, DriftWatch } from './services/drift-watch.js';
import { LOGGER_TOKEN } from './services/tokens.js';
import { EventsService } from './services/events.service.js';
import { WEBHOOK_CLOCK, WebhookDispatcher } from './services/webhook-dispatcher.js';
import { ChangesController, EventsController } from './api/events.controller.js';

export const LOGGER = LOGGER_TOKEN;
const RUNTIME = Symbol('PROVIDER_RUNTIME');

/** Closes the provider sandboxes and the store when the application shuts down. */
class RuntimeCloser implements OnApplicationShutdown {
  constructor(
    private readonly runtime: ProviderRuntime,
    private readonly store: Store,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
    await this.store.close();
  }
}

@Module({})
export class AppModule {
  static forRoot(
    config: AppConfig,
    runtime: ProviderRuntime,
    store: Store,
    logger: Logger,
    lifecycle: Lifecycle,
    metrics: Metrics,
    /** Test clocks (the drift watch's read budget, webhook scheduling); the real clock when absent. */
    clocks: { driftClock?: () => number; webhookClock?: () => number } = {},
  ): DynamicModule {
    const { driftClock, webhookClock } = clocks;
    return {
      module: AppModule,
      // Terminus's own error log is off: every probe already gets the gateway's one request log line.
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [
        AccountsController,
        ProvidersController,
        HealthController,
        MetricsController,
        BatchesController,
        ChangesController,
        EventsController,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: RUNTIME, useValue: runtime },
        { provide: ProviderRegistry, useValue: runtime.registry },
        { provide: Store, useValue: store },
        { provide: Lifecycle, useValue: lifecycle },
        { provide: Metrics, useValue: metrics },
        { provide: DRIFT_LOGGER, useValue: logger },
        ...(driftClock ? [{ provide: DRIFT_CLOCK, useValue: driftClock }] : []),
        ...(webhookClock ? [{ provide: WEBHOOK_CLOCK, useValue: webhookClock }] : []),
        {
          provide: RuntimeCloser,
          useFactory: (r: ProviderRuntime, s: Store) => new RuntimeCloser(r, s),
          inject: [RUNTIME, Store],
        },
        CallerAuthService,
        // One limiter for the process: every guard instance must draw on the same buckets.
        { provide: RateLimiter, useValue: new RateLimiter(config.rateLimitPerMinute) },
        ApiKeyGuard,
        IdempotencyService,
        UnfinishedChanges,
        ChangeStatusService,
        AccountStatusService,
        ProvidersService,
        BatchWorker,
        BatchService,
        DriftWatch,
        EventsService,
        WebhookDispatcher,
      ],
    };
  }
}
