import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { problemOf } from '../common/problem.filter.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { GatewayError, type CanonicalReason, type CanonicalStatus } from '../domain/index.js';
import { Metrics } from '../observability/metrics.js';
import type { RequestContext } from '../observability/request-context.js';
import {
  BatchesRepository,
  type BatchItemTable,
  type ItemCompletion,
  type OrphanItem,
} from '../persistence/batches.repository.js';
import { HEARTBEAT_MS, INSTANCE_STALE_MS, Store } from '../persistence/store.js';
import type { ChangeResult, PreparedChange, ProviderAdapter } from '../providers/provider-adapter.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import { ChangeStatusService } from './change-status.service.js';

/** ClearGrid takes at most this many accounts per request (CONTRACT §6). */
export const GROUP_SIZE = 100;
const IDLE_POLL_MS = 250;
const SHUTDOWN_WAIT_MS = 10_000;

interface Lane {
  name: string;
  provider: string;
  /** Claimed items go out together (ClearGrid), one claim at a time. */
  grouped: boolean;
  capacity: number;
  inFlight: number;
  wake?: () => void;
  /** Per account, the last item started: items of one account run in request order. */
  tails: Map<string, Promise<void>>;
}

/**
 * Carries out batch items inside the gateway process. One lane per provider (per endpoint for ClearGrid),
 * each claiming pending items from the database on its own, so a slow provider holds back only its own
 * lane. A claim is one atomic UPDATE … RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL), so replicas
 * sharing a database never run one item twice. Every item becomes a change through ChangeStatusService,
 * with the change id assigned when the batch was recorded: its write-ahead record (primary key) is what
 * tells, after a crash, whether it may have been sent (→ UNFINISHED) or never was (→ run again).
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly repository: BatchesRepository;
  private readonly lanes: Lane[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly active = new Set<Promise<unknown>>();
  private stopped = false;
  private recoveryTimer?: NodeJS.Timeout;
  private readonly itemsCounter: Counter<'provider' | 'outcome'>;

  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
    @Inject(ChangeStatusService) private readonly changes: ChangeStatusService,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.repository = new BatchesRepository(store.database);
    for (const entry of registry.list()) {
      if (!entry.adapter) continue;
      const base = { provider: entry.id, inFlight: 0, tails: new Map<string, Promise<void>>() };
      if (entry.adapter.applyChanges) {
        for (const op of ['update-status', 'withdraw'])
          this.lanes.push({
            ...base,
            name: `${entry.id}:${op}`,
            grouped: true,
            capacity: 1,
            tails: new Map(),
          });
      } else {
        this.lanes.push({ ...base, name: entry.id, grouped: false, capacity: config.guard.maxConcurrent });
      }
    }
    this.itemsCounter = new Counter({
      name: 'statusgate_batch_items_total',
      help: 'Batch items ended, by provider and outcome (APPLIED, ACCEPTED, FAILED, UNFINISHED)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [metrics.registry],
    });
    const repository = this.repository;
    new Gauge({
      name: 'statusgate_batch_items_waiting',
      help: 'Batch items not started yet (all replicas sharing the database)',
      registers: [metrics.registry],
      async collect() {
        this.set(await repository.waiting().catch(() => 0));
      },
    });
    new Gauge({
      name: 'statusgate_batches_running',
      help: 'Batches with items not ended yet (all replicas sharing the database)',
      registers: [metrics.registry],
      async collect() {
        this.set(await repository.running().catch(() => 0));
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const sqlite = this.store.database.engine === 'sqlite';
    await this.recover(sqlite ? { allOthers: true } : { staleBefore: staleBefore() });
    if (!sqlite) {
      this.recoveryTimer = setInterval(() => {
        this.recover({ staleBefore: staleBefore() }).catch(() => undefined);
      }, HEARTBEAT_MS);
      this.recoveryTimer.unref();
    }
    for (const lane of this.lanes) this.loops.push(this.run(lane));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.recoveryTimer);
    this.kick();
    const deadline = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref());
    await Promise.race([Promise.allSettled([...this.loops, ...this.active]), deadline]);
  }

  /** New items were recorded: every lane looks for work now rather than at its next poll. */
  kick(): void {
    for (const lane of this.lanes) lane.wake?.();
  }

  /**
   * Items a dead process had claimed: never recorded as a change → never sent → pending again; recorded
   * but not completed → UNFINISHED (it may have reached the provider; it is never sent again); completed →
   * the change's outcome.
   */
  async recover(scope: { allOthers: true } | { staleBefore: Date }): Promise<number> {
    const orphans = await this.repository.orphans(this.store.instanceId, scope);
    for (const orphan of orphans) {
      if (orphan.attempt === null) await this.repository.release(orphan.item);
      else await this.repository.complete(orphan.item.batch_id, orphan.item.item_index, recovered(orphan));
    }
    return orphans.length;
  }

  private async run(lane: Lane): Promise<void> {
    while (!this.stopped) {
      const free = lane.capacity - lane.inFlight;
      let claimed: BatchItemTable[] = [];
      if (free > 0) {
        try {
          const limit = lane.grouped ? GROUP_SIZE : free;
          claimed = await this.repository.claim(
            lane.name,
            this.store.instanceId,
            limit,
            new Date().toISOString(),
          );
        } catch {
          claimed = [];
        }
      }
      if (claimed.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, IDLE_POLL_MS);
          function done() {
            clearTimeout(timer);
            lane.wake = undefined;
            resolve();
          }
          lane.wake = done;
        });
        continue;
      }
      if (lane.grouped) {
        // runGroup settles every item itself; a throw here would be a bug, and must not stop the lane.
        await this.track(this.runGroup(claimed)).catch(() => undefined);
        continue;
      }
      for (const item of claimed) {
        lane.inFlight += 1;
        const key = item.account_id;
        const previous = lane.tails.get(key) ?? Promise.resolve();
        const next = previous.then(() => this.runOne(item));
        lane.tails.set(key, next);
        void this.track(
          next.finally(() => {
            lane.inFlight -= 1;
            if (lane.tails.get(key) === next) lane.tails.delete(key);
            lane.wake?.();
          }),
        );
      }
    }
  }

  private readonly batches = new Map<string, { caller_id: string; request_id: string }>();

  /** The batch's caller and request id (cached: every item of a batch needs them). */
  private async batchOf(batchId: string): Promise<{ caller_id: string; request_id: string } | undefined> {
    let batch = this.batches.get(batchId);
    if (!batch) {
      batch = await this.repository.find(batchId).catch(() => undefined);
      if (batch) {
        if (this.batches.size >= 1000) this.batches.clear();
        this.batches.set(batchId, { caller_id: batch.caller_id, request_id: batch.request_id });
      }
    }
    return batch;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work);
    void work.finally(() => this.active.delete(work)).catch(() => undefined);
    return work;
  }

  /** One item as one change; `send` set when it travels in a shared request. */
  private async runOne(
    item: BatchItemTable,
    send?: (p: PreparedChange, requestId: string) => Promise<ChangeResult>,
  ): Promise<void> {
    const ctx = itemContext(item, await this.batchOf(item.batch_id));
    let completion: ItemCompletion;
    let adapter: ProviderAdapter;
    try {
      adapter = this.registry.get(item.provider);
    } catch (error) {
      await this.end(item, failedCompletion(item, error, ctx), ctx);
      return;
    }
    try {
      const response = await this.changes.changeInBatch(
        adapter,
        item.account_id,
        inputOf(item),
        { batchId: item.batch_id, changeId: item.change_id, send: send && ((p) => send(p, ctx.requestId)) },
        ctx,
      );
      completion = {
        outcome: response.outcome,
        providerStatus: response.providerStatus,
        completedAt: response.completedAt,
      };
    } catch (error) {
      ctx.log.outcome = 'FAILED';
      completion = failedCompletion(item, error, ctx);
    }
    await this.end(item, completion, ctx);
  }

  private async end(item: BatchItemTable, completion: ItemCompletion, ctx: RequestContext): Promise<void> {
    await this.repository.complete(item.batch_id, item.item_index, completion).catch(() => undefined);
    this.itemsCounter.inc({ provider: item.provider, outcome: completion.outcome });
    // The same change counters and latency a single change feeds (observability/request-logging.ts).
    const code = ctx.log.errorCode ?? '';
    this.metrics.changes.inc({
      provider: item.provider,
      status: item.status,
      outcome: completion.outcome,
      code,
    });
    if (ctx.log.providerSeconds !== undefined) {
      this.metrics.providerLatency.observe(
        { provider: item.provider, outcome: completion.outcome },
        ctx.log.providerSeconds,
      );
    }
  }

  /**
   * Items for one ClearGrid endpoint: each runs the single-change path, but its provider call joins one
   * shared request, sent once every item has either joined or ended before sending (refused, say, as
   * STATUS_NOT_SUPPORTED). Accounts ClearGrid names in its per-account errors fail on their own; the
   * rest of a refused request were not processed and are sent again without them.
   */
  private async runGroup(items: BatchItemTable[]): Promise<void> {
    let adapter: ProviderAdapter;
    try {
      adapter = this.registry.get(items[0].provider);
    } catch {
      await Promise.all(items.map((item) => this.runOne(item)));
      return;
    }
    const joined: Joined[] = [];
    let ended = 0;
    let sent = false;
    const flush = () => {
      if (sent || joined.length + ended < items.length) return;
      sent = true;
      void this.sendGroup(adapter, joined);
    };
    await Promise.all(
      items.map(async (item) => {
        let didJoin = false;
        const send = (prepared: PreparedChange, requestId: string) =>
          new Promise<ChangeResult>((resolve, reject) => {
            didJoin = true;
            joined.push({ prepared, requestId, resolve, reject });
            flush();
          });
        try {
          await this.runOne(item, send);
        } finally {
          if (!didJoin) {
            ended += 1;
            flush();
          }
        }
      }),
    );
  }

  private async sendGroup(adapter: ProviderAdapter, joined: Joined[]): Promise<void> {
    const byEndpoint = new Map<string, typeof joined>();
    for (const entry of joined) {
      const key = adapter.groupKey!(entry.prepared);
      byEndpoint.set(key, [...(byEndpoint.get(key) ?? []), entry]);
    }
    for (const group of byEndpoint.values()) {
      let remaining = group;
      while (remaining.length > 0) {
        let results;
        try {
          results = await adapter.applyChanges!(
            remaining.map((e) => e.prepared),
            { requestId: remaining[0].requestId },
          );
        } catch (error) {
          for (const entry of remaining) entry.reject(error);
          break;
        }
        const next: typeof joined = [];
        results.forEach((result, i) => {
          const entry = remaining[i];
          if (result.kind === 'done') entry.resolve(result.result);
          else if (result.kind === 'failed') entry.reject(result.error);
          else next.push(entry);
        });
        if (next.length === remaining.length) {
          const stuck = new GatewayError(
            'PROVIDER_REJECTED',
            'cleargrid refused the request without naming these accounts',
          );
          for (const entry of next) entry.reject(stuck);
          break;
        }
        remaining = next;
      }
    }
  }
}

interface Joined {
  prepared: PreparedChange;
  requestId: string;
  resolve: (result: ChangeResult) => void;
  reject: (error: unknown) => void;
}

function staleBefore(): Date {
  return new Date(Date.now() - INSTANCE_STALE_MS);
}

/** A batch item's change context: the batch's caller and request id; authorization was checked at creation. */
function itemContext(
  item: BatchItemTable,
  batch: { caller_id: string; request_id: string } | undefined,
): RequestContext {
  return {
    requestId: batch?.request_id ?? item.batch_id,
    callerId: batch?.caller_id ?? 'unknown',
    scopes: new Set(),
    startedAt: process.hrtime.bigint(),
    log: {},
  };
}

function inputOf(item: BatchItemTable) {
  return {
    status: item.status as CanonicalStatus,
    reason: (item.reason ?? undefined) as CanonicalReason | undefined,
    customerId: item.customer_id ?? undefined,
    note: item.note ?? undefined,
    providerOptions:
      item.provider_options === null
        ? undefined
        : (JSON.parse(item.provider_options) as Record<string, unknown>),
  };
}

function instanceOf(item: BatchItemTable): string {
  return `/v1/accounts/${item.provider}/${item.account_id}/status`;
}

function failedCompletion(item: BatchItemTable, error: unknown, ctx: RequestContext): ItemCompletion {
  const gatewayError =
    error instanceof GatewayError
      ? error
      : new GatewayError('INTERNAL', 'The batch item failed unexpectedly', { cause: error });
  ctx.log.errorCode = gatewayError.code;
  return {
    outcome: 'FAILED',
    error: problemOf(gatewayError, instanceOf(item), ctx.requestId),
    completedAt: new Date().toISOString(),
  };
}

/** An orphan's end, from its change record. */
function recovered({ item, attempt }: OrphanItem): ItemCompletion {
  const a = attempt!;
  const completedAt = a.completed_at ?? new Date().toISOString();
  if (a.outcome === 'APPLIED' || a.outcome === 'ACCEPTED') {
    return {
      outcome: a.outcome,
      providerStatus: a.provider_status === null ? undefined : JSON.parse(a.provider_status),
      completedAt,
    };
  }
  if (a.outcome === 'FAILED') {
    const code = (a.error_code ?? 'INTERNAL') as GatewayError['code'];
    const error = new GatewayError(code, `${item.provider} change of ${item.account_id} failed`, {
      provider:
        a.provider_code === null
          ? undefined
          : {
              id: item.provider as never,
              httpStatus: a.provider_http_status ?? undefined,
              code: a.provider_code,
              message: a.provider_message ?? '',
            },
    });
    return { outcome: 'FAILED', error: problemOf(error, instanceOf(item), item.batch_id), completedAt };
  }
  return {
    outcome: 'UNFINISHED',
    error: unfinishedProblem(item),
    completedAt,
  };
}

/**
 * UNFINISHED is not an error code of CONTRACT §4: the gateway does not know whether the provider made the
 * change. The item's error says so in the same problem+json shape (not retryable: repeating it blindly
 * could apply a change twice; read the account first).
 */
function unfinishedProblem(item: BatchItemTable): Record<string, unknown> {
  return {
    type: 'urn:problem:UNFINISHED',
    title: 'Outcome unknown',
    status: 500,
    detail: `The gateway process stopped while the ${item.provider} call for ${item.account_id} may have been in flight; it is not sent again`,
    instance: instanceOf(item),
    code: 'UNFINISHED',
    retryable: false,
    requestId: item.batch_id,
  };
}
