import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { uuidv7 } from '../common/ids.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Metrics } from '../observability/metrics.js';
import type { DueAccount } from '../persistence/drift.repository.js';
import { Store } from '../persistence/store.js';
import { ProviderRegistry, type ProviderEntry } from '../providers/provider-registry.js';
import { ReadBudget } from './read-budget.js';

export const DRIFT_LOGGER = Symbol('DRIFT_LOGGER');
/** The clock of the read budget (tests pass a minute without waiting for one). */
export const DRIFT_CLOCK = Symbol('DRIFT_CLOCK');

const DAY_MS = 86_400_000;

/** What one run did per provider (for tests and logs). */
export interface DriftRunReport {
  leader: boolean;
  providers: Record<string, { due: number; read: number; drifted: number; skipped: number }>;
}

/**
 * The drift watch (CONTRACT §8). Every RECONCILE_INTERVAL_MS it reads, for each provider with a live read,
 * the accounts whose latest APPLIED change is within RECONCILE_WINDOW_DAYS, oldest check first, spending
 * at most RECONCILE_READS_PER_MINUTE reads per provider per minute (one attempt each: a retry would spend
 * budget too) and none while the provider's circuit refuses calls. A value other than expected is recorded
 * with its `account.status.drifted` event once per newly observed value (DriftRepository.record).
 * With replicas on one PostgreSQL, only the holder of the watch's lease runs it; providers are watched side
 * by side, so a slow one holds back only its own reads; runs never overlap (the next is timed from the end
 * of the last).
 */
@Injectable()
export class DriftWatch implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly budget: ReadBudget;
  private timer?: NodeJS.Timeout;
  private running?: Promise<DriftRunReport>;
  private stopped = false;
  private readonly checks: Counter<'provider' | 'result'>;
  private readonly found: Counter<'provider'>;
  private readonly skipped: Counter<'provider' | 'reason'>;
  private readonly leaderGauge: Gauge;

  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
    @Inject(Metrics) metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DRIFT_LOGGER) private readonly logger: Logger,
    @Optional() @Inject(DRIFT_CLOCK) clock?: () => number,
  ) {
    this.budget = new ReadBudget(config.reconcile.readsPerMinute, clock ?? Date.now);
    const registers = [metrics.registry];
    this.checks = new Counter({
      name: 'statusgate_drift_checks_total',
      help: 'Drift watch reads of watched accounts, by provider and result (in_sync, drifted, failed)',
      labelNames: ['provider', 'result'] as const,
      registers,
    });
    this.found = new Counter({
      name: 'statusgate_drift_found_total',
      help: 'Drifts found: account.status.drifted events recorded (one per newly observed value), by provider',
      labelNames: ['provider'] as const,
      registers,
    });
    this.skipped = new Counter({
      name: 'statusgate_drift_reads_skipped_total',
      help:
        'Watched accounts due in a run but not read, by provider and reason: budget ' +
        '(RECONCILE_READS_PER_MINUTE spent) or circuit_open (the provider circuit refuses calls)',
      labelNames: ['provider', 'reason'] as const,
      registers,
    });
    this.leaderGauge = new Gauge({
      name: 'statusgate_drift_watch_leader',
      help: '1 while this process runs the drift watch (holds its lease), else 0',
      registers,
    });
  }

  /** The providers watched: those with a live read (ClearGrid has none). */
  watched(): ProviderEntry[] {
    return this.registry.list().filter((entry) => entry.adapter?.liveRead === true);
  }

  onApplicationBootstrap(): void {
    if (this.config.reconcile.intervalMs > 0) this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run now (the timer calls this too); a run already going is joined, not doubled. */
  runOnce(): Promise<DriftRunReport> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.runOnce()
        .catch((error: unknown) => this.logger.error({ err: error }, 'drift watch run failed'))
        .finally(() => this.schedule());
    }, this.config.reconcile.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<DriftRunReport> {
    const leader = await this.store.driftLease.tryHold();
    this.leaderGauge.set(leader ? 1 : 0);
    const report: DriftRunReport = { leader, providers: {} };
    if (!leader) return report;
    const since = new Date(Date.now() - this.config.reconcile.windowDays * DAY_MS).toISOString();
    await Promise.all(
      this.watched().map(async (entry) => {
        report.providers[entry.id] = await this.watchProvider(entry, since);
      }),
    );
    return report;
  }

  private async watchProvider(entry: ProviderEntry, since: string) {
    const provider = entry.id;
    const result = { due: 0, read: 0, drifted: 0, skipped: 0 };
    result.due = await this.store.drift.countDue(provider, since);
    if (result.due === 0) return result;
    if (entry.refusing?.()) {
      this.skip(provider, 'circuit_open', result.due, result);
      return result;
    }
    const allowance = this.budget.available(provider);
    const accounts = allowance > 0 ? await this.store.drift.due(provider, since, allowance) : [];
    this.skip(provider, 'budget', result.due - accounts.length, result);
    for (const [index, account] of accounts.entries()) {
      if (this.stopped) break;
      if (entry.refusing?.()) {
        this.skip(provider, 'circuit_open', accounts.length - index, result);
        break;
      }
      if (!this.budget.take(provider)) {
        this.skip(provider, 'budget', accounts.length - index, result);
        break;
      }
      result.read += 1;
      if (await this.check(entry, account)) result.drifted += 1;
    }
    return result;
  }

  /** Reads one account and records what it shows; true when a new drift was recorded. */
  private async check(entry: ProviderEntry, account: DueAccount): Promise<boolean> {
    const provider = entry.id;
    const requestId = `drift-${uuidv7()}`;
    let reading;
    try {
      reading = await entry.adapter!.readStatus(account.accountId, { requestId, maxAttempts: 1 });
    } catch (error) {
      this.checks.inc({ provider, result: 'failed' });
      this.logger.warn(
        { provider, accountId: account.accountId, requestId, err: error },
        'drift watch could not read the account',
      );
      await this.store.drift.touch(provider, account.accountId, account, new Date().toISOString());
      return false;
    }
    const recorded = await this.store.drift.record({
      provider,
      accountId: account.accountId,
      changeId: account.changeId,
      expectedStatus: account.expectedStatus,
      observedStatus: reading.status,
      observedProviderStatus: reading.providerStatus,
      checkedAt: new Date().toISOString(),
    });
    // The expectation moved during the read (a change applied or in flight): the read proves nothing.
    if (recorded.kind === 'stale') return false;
    this.checks.inc({ provider, result: recorded.drifted ? 'drifted' : 'in_sync' });
    if (!recorded.newDrift) return false;
    this.found.inc({ provider });
    this.logger.warn(
      {
        provider,
        accountId: account.accountId,
        expectedStatus: account.expectedStatus,
        observedStatus: reading.status,
        lastChangeId: account.changeId,
      },
      'account status drifted from the last status applied through the gateway',
    );
    return true;
  }

  private skip(
    provider: string,
    reason: 'budget' | 'circuit_open',
    count: number,
    result: { skipped: number },
  ): void {
    if (count <= 0) return;
    this.skipped.inc({ provider, reason }, count);
    result.skipped += count;
  }
}
