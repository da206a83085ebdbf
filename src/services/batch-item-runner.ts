import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { problemOf } from '../common/problem.filter.js';
import { GatewayError, type CanonicalReason, type CanonicalStatus } from '../domain/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestContext } from '../observability/request-context.js';
import type {
  BatchClaimsRepository,
  ItemCompletion,
  ItemEnd,
} from '../persistence/batches-claims.repository.js';
import type { BatchesRepository, BatchItemTable } from '../persistence/batches.repository.js';
import type { ChangeResult, PreparedChange, ProviderAdapter } from '../providers/provider-adapter.js';
import type { ProviderRegistry } from '../providers/provider-registry.js';
import { instanceOf } from './batch-recovery.js';
import type { ChangeStatusService } from './change-status.service.js';

const END_RETRY_MS = 1000;

/** Items a failure left without a known end, for BatchRecovery to settle from their change records. */
export type Unsettled = Set<BatchItemTable>;

/**
 * One batch item as one change, through the single-change path (audit record, history, events and
 * metrics), then its end. Ends are written many in one statement: the ends of items finishing while one
 * statement runs go together in the next (a few lines of group commit; no library does this over a Kysely
 * connection shared with the rest of the store).
 */
export class BatchItemRunner {
  private readonly itemsCounter: Counter<'provider' | 'outcome'>;
  private queue: Array<{ end: ItemEnd; written: () => void }> = [];
  private writing = false;
  private readonly batches = new Map<string, { caller_id: string; request_id: string }>();

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly changes: ChangeStatusService,
    private readonly claims: BatchClaimsRepository,
    private readonly repository: BatchesRepository,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    readonly unsettled: Unsettled,
  ) {
    this.itemsCounter = new Counter({
      name: 'statusgate_batch_items_total',
      help: 'Batch items ended, by provider and outcome (APPLIED, ACCEPTED, FAILED, UNFINISHED)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [metrics.registry],
    });
  }

  /** One item as one change; `send` set when it travels in a shared request. */
  async runOne(
    item: BatchItemTable,
    send?: (p: PreparedChange, requestId: string) => Promise<ChangeResult>,
  ): Promise<void> {
    const ctx = itemContext(item, await this.batchOf(item.batch_id));
    let adapter: ProviderAdapter;
    try {
      adapter = this.registry.get(item.provider);
    } catch (error) {
      return this.end(item, failedCompletion(item, error, ctx), ctx);
    }
    let completion: ItemCompletion;
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
      if (error instanceof GatewayError && error.code === 'INTERNAL') {
        // The database (or a bug) failed the change: whether it was recorded, and so maybe sent, is
        // read back from its change record once the database answers again.
        this.unsettled.add(item);
        return;
      }
      ctx.log.outcome = 'FAILED';
      completion = failedCompletion(item, error, ctx);
    }
    await this.end(item, completion, ctx);
  }

  private async end(item: BatchItemTable, completion: ItemCompletion, ctx: RequestContext): Promise<void> {
    await this.write({ batchId: item.batch_id, index: item.item_index, completion });
    this.itemsCounter.inc({ provider: item.provider, outcome: completion.outcome });
    // The same change counters and latency a single change feeds (observability/request-logging.ts).
    this.metrics.changes.inc({
      provider: item.provider,
      status: item.status,
      outcome: completion.outcome,
      code: ctx.log.errorCode ?? '',
    });
    if (ctx.log.providerSeconds !== undefined) {
      this.metrics.providerLatency.observe(
        { provider: item.provider, outcome: completion.outcome },
        ctx.log.providerSeconds,
      );
    }
  }

  /** Resolves once the end is written; while the database fails, it is tried again every second. */
  private write(end: ItemEnd): Promise<void> {
    return new Promise((written) => {
      this.queue.push({ end, written });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const taken = this.queue;
      this.queue = [];
      try {
        await this.claims.complete(taken.map((t) => t.end));
        for (const t of taken) t.written();
      } catch (error) {
        this.logger.warn({ err: error, items: taken.length }, 'batch item ends not written; trying again');
        this.queue = [...taken, ...this.queue];
        await new Promise((resolve) => setTimeout(resolve, END_RETRY_MS));
      }
    }
    this.writing = false;
  }

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
