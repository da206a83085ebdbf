import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Metrics } from '../observability/metrics.js';
import { BatchClaimsRepository, type OrphanScope } from '../persistence/batches-claims.repository.js';
import { BatchesRepository, type BatchItemTable } from '../persistence/batches.repository.js';
import { HEARTBEAT_MS, INSTANCE_STALE_MS, Store } from '../persistence/store.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import { GROUP_SIZE, runGroup } from './batch-group.js';
import { BatchItemRunner, type Unsettled } from './batch-item-runner.js';
import { BatchRecovery } from './batch-recovery.js';
import { ChangeStatusService } from './change-status.service.js';
import { LOGGER_TOKEN } from './tokens.js';
import { pollOrWake } from './poll-or-wake.js';

const IDLE_POLL_MS = 250;
const SHUTDOWN_WAIT_MS = 10_000;
/** How often items a database failure left unsettled are looked at again. */
const UNSETTLED_RETRY_MS = 1000;
/** ClearGrid groups in flight at once per endpoint: one, so ClearGrid sees a batch's requests in its order. */
const GROUPS_IN_FLIGHT = 1;

interface Lane {
  name: string;
  /** Claimed items go out together (ClearGrid), one group per claim. */
  grouped: boolean;
  /** Items in flight at once (groups, for a grouped lane). */
  capacity: number;
  inFlight: number;
  wake?: () => void;
  /** Per account, the last item (or group) started: items of one account run in request order. */
  tails: Map<string, Promise<void>>;
}

/**
 * Carries out batch items inside the gateway process. One lane per provider (per endpoint for ClearGrid),
 * each claiming pending items from the database on its own, so a slow provider holds back only its own
 * lane. A claim is one atomic UPDATE … RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL), so replicas
 * sharing a database never run one item twice. Every item becomes a change through ChangeStatusService
 * (BatchItemRunner), with the change id assigned when the batch was recorded: its write-ahead record
 * (primary key) is what tells, after a crash, whether it may have been sent (→ UNFINISHED) or never was
 * (→ run again; BatchRecovery).
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly repository: BatchesRepository;
  private readonly claims: BatchClaimsRepository;
  private readonly runner: BatchItemRunner;
  private readonly recovery: BatchRecovery;
  private readonly unsettled: Unsettled = new Set();
  private readonly lanes: Lane[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly active = new Set<Promise<unknown>>();
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Set while claims fail (database down): the failure is logged once, and the recovery once. */
  private claimsFailing = false;

  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
    @Inject(ChangeStatusService) changes: ChangeStatusService,
    @Inject(Metrics) metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER_TOKEN) private readonly logger: Logger,
  ) {
    this.repository = new BatchesRepository(store.database);
    this.claims = new BatchClaimsRepository(store.database);
    this.recovery = new BatchRecovery(this.claims, store.instanceId);
    this.runner = new BatchItemRunner(
      registry,
      changes,
      this.claims,
      this.repository,
      metrics,
      logger,
      this.unsettled,
    );
    for (const entry of registry.list()) {
      if (!entry.adapter) continue;
      const lane = (name: string, grouped: boolean, capacity: number) =>
        this.lanes.push({ name, grouped, capacity, inFlight: 0, tails: new Map() });
      if (entry.adapter.applyChanges) {
        for (const op of ['update-status', 'withdraw']) lane(`${entry.id}:${op}`, true, GROUPS_IN_FLIGHT);
      } else lane(entry.id, false, config.guard.maxConcurrent);
    }
    const repository = this.repository;
    const gauge = (name: string, help: string, read: () => Promise<number>) =>
      new Gauge({
        name,
        help,
        registers: [metrics.registry],
        async collect() {
          this.set(await read().catch(() => 0));
        },
      });
    gauge(
      'statusgate_batch_items_waiting',
      'Batch items not started yet (all replicas sharing the database)',
      () => repository.waiting(),
    );
    gauge(
      'statusgate_batches_running',
      'Batches with items not ended yet (all replicas sharing the database)',
      () => repository.running(),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    const sqlite = this.store.database.engine === 'sqlite';
    await this.recover(sqlite ? { allOthers: true } : { staleBefore: staleBefore() });
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work().catch(() => undefined), ms);
      timer.unref();
      this.timers.push(timer);
    };
    if (!sqlite) every(HEARTBEAT_MS, () => this.recover({ staleBefore: staleBefore() }));
    every(UNSETTLED_RETRY_MS, () => this.settleUnsettled());
    for (const lane of this.lanes) this.loops.push(this.run(lane));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.kick();
    const deadline = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref());
    await Promise.race([Promise.allSettled([...this.loops, ...this.active]), deadline]);
  }

  /** New items were recorded: every lane looks for work now rather than at its next poll. */
  kick(): void {
    for (const lane of this.lanes) lane.wake?.();
  }

  /** Settles items left RUNNING by processes that died (see BatchRecovery); returns how many. */
  recover(scope: OrphanScope): Promise<number> {
    return this.recovery.recover(scope);
  }

  private async settleUnsettled(): Promise<void> {
    if (this.unsettled.size === 0) return;
    const items = [...this.unsettled];
    await this.recover({ mine: items });
    for (const item of items) this.unsettled.delete(item);
    this.kick();
  }

  /** Claims a lane's next items; a failure (database down) is logged once per outage, and no items. */
  private async claim(lane: Lane, limit: number): Promise<BatchItemTable[]> {
    try {
      const claimed = await this.claims.claim(
        lane.name,
        this.store.instanceId,
        limit,
        new Date().toISOString(),
      );
      if (this.claimsFailing) {
        this.claimsFailing = false;
        this.logger.info({ lane: lane.name }, 'batch worker claims batch items again');
      }
      return claimed;
    } catch (error) {
      if (!this.claimsFailing) {
        this.claimsFailing = true;
        this.logger.error(
          { err: error, lane: lane.name },
          'batch worker could not claim batch items; pending items wait until the database answers',
        );
      }
      return [];
    }
  }

  private async run(lane: Lane): Promise<void> {
    while (!this.stopped) {
      const free = lane.capacity - lane.inFlight;
      // A per-item lane claims in chunks (a quarter of its capacity at least), not once per ended item.
      const worth = free > 0 && (lane.grouped || lane.inFlight === 0 || free >= Math.ceil(lane.capacity / 4));
      const claimed = worth ? await this.claim(lane, lane.grouped ? GROUP_SIZE : free) : [];
      if (claimed.length === 0) {
        await pollOrWake(lane, IDLE_POLL_MS);
        continue;
      }
      if (lane.grouped) this.start(lane, claimed, () => runGroup(this.registry, this.runner, claimed));
      else for (const item of claimed) this.start(lane, [item], () => this.runner.runOne(item));
    }
  }

  /**
   * Starts `work` once every earlier item (or group) sharing an account with it has ended. The runner
   * settles every item itself; a throw would be a bug, and must neither stop the lane nor its accounts.
   */
  private start(lane: Lane, items: readonly BatchItemTable[], work: () => Promise<void>): void {
    lane.inFlight += 1;
    const accounts = [...new Set(items.map((item) => item.account_id))];
    const next = Promise.all(accounts.map((a) => lane.tails.get(a) ?? Promise.resolve()))
      .then(work)
      .catch(() => undefined);
    for (const account of accounts) lane.tails.set(account, next);
    this.active.add(next);
    void next.finally(() => {
      this.active.delete(next);
      lane.inFlight -= 1;
      for (const account of accounts) if (lane.tails.get(account) === next) lane.tails.delete(account);
      lane.wake?.();
    });
  }
}

function staleBefore(): Date {
  return new Date(Date.now() - INSTANCE_STALE_MS);
}
