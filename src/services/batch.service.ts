import { Inject, Injectable } from '@nestjs/common';
import { uuidv7 } from '../common/ids.js';
import { problemOf } from '../common/problem.filter.js';
import { GatewayError, type FieldError } from '../domain/index.js';
import type { RequestContext } from '../observability/request-context.js';
import {
  BatchesRepository,
  type BatchItemTable,
  type BatchTable,
} from '../persistence/batches.repository.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import {
  BATCH_ITEMS_DEFAULT_LIMIT,
  BATCH_OUTCOMES,
  type BatchItemInput,
  type BatchItemResult,
  type BatchItemsPage,
  type BatchOutcome,
  type BatchSummary,
} from './batch.types.js';
import { BatchWorker } from './batch-worker.js';
import { CallerAuthService, type Caller } from './caller-auth.service.js';
import { IDEMPOTENCY_TTL_MS, fingerprintOf } from './idempotency.service.js';

/** What a batch request came to; BatchesController turns it into HTTP. */
export interface BatchAnswer {
  summary: BatchSummary;
  /** 202 while running, 200 when `Prefer: wait` saw it end; replays answer 202 like the first time. */
  status: 200 | 202;
  replayed: boolean;
  waitApplied?: number;
}

export interface CreateBatchOptions {
  idempotencyKey?: string;
  waitSeconds?: number;
}

const WAIT_POLL_MS = 50;

/**
 * Batches (CONTRACT §6): validated whole, recorded (batch and items, one transaction) before the answer,
 * then carried out by the BatchWorker, item by item, through the single-change path.
 */
@Injectable()
export class BatchService {
  readonly repository: BatchesRepository;

  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(BatchWorker) private readonly worker: BatchWorker,
  ) {
    this.repository = worker.repository;
  }

  async create(
    body: { items: BatchItemInput[] },
    options: CreateBatchOptions,
    ctx: RequestContext,
  ): Promise<BatchAnswer> {
    const now = new Date().toISOString();
    const batchId = uuidv7();
    const { rows, needsClose } = this.itemRows(batchId, body.items, now, ctx);
    if (needsClose) {
      const caller: Caller = { id: ctx.callerId, scopes: ctx.scopes as Caller['scopes'] };
      CallerAuthService.require(caller, 'status:close', 'for a batch with CLOSED or another final status');
    }
    const key = options.idempotencyKey;
    const fingerprint = key === undefined ? null : fingerprintOf(['POST /v1/batches', body.items]);
    const batch: BatchTable = {
      batch_id: batchId,
      caller_id: ctx.callerId,
      idempotency_key: key ?? null,
      fingerprint,
      request_id: ctx.requestId,
      total: rows.length,
      created_at: now,
      cancelled_at: null,
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (key !== undefined) {
        const existing = await this.repository.findByKey(ctx.callerId, key);
        if (existing && Date.parse(existing.created_at) + IDEMPOTENCY_TTL_MS <= Date.now()) {
          await this.repository.forgetKey(existing.batch_id);
        } else if (existing) {
          if (existing.fingerprint !== fingerprint) {
            throw new GatewayError(
              'IDEMPOTENCY_KEY_REUSED',
              `Idempotency-Key "${key}" was already used by this caller for a different batch`,
            );
          }
          ctx.log.outcome = 'REPLAYED';
          return { summary: await this.summaryOf(existing), status: 202, replayed: true };
        }
      }
      if ((await this.repository.create(batch, rows)) === 'created') break;
      // Another request took the key between our look and our insert: answer as that key says.
    }
    this.worker.kick();
    const summary = await this.awaitEnd(batch, options.waitSeconds);
    const ended = summary.state !== 'RUNNING';
    return {
      summary,
      status: ended && options.waitSeconds !== undefined ? 200 : 202,
      replayed: false,
      waitApplied: ended ? options.waitSeconds : undefined,
    };
  }

  async summary(batchId: string, ctx: RequestContext): Promise<BatchSummary> {
    return this.summaryOf(await this.visible(batchId, ctx));
  }

  async items(
    batchId: string,
    query: { limit?: number; cursor?: string; outcome?: BatchOutcome },
    ctx: RequestContext,
  ): Promise<BatchItemsPage> {
    const batch = await this.visible(batchId, ctx);
    const limit = query.limit ?? BATCH_ITEMS_DEFAULT_LIMIT;
    const after = query.cursor === undefined ? -1 : decodeCursor(query.cursor);
    const outcomes =
      query.outcome === undefined
        ? undefined
        : query.outcome === 'PENDING'
          ? (['PENDING', 'RUNNING'] as const)
          : [query.outcome];
    const rows = await this.repository.items(
      batch.batch_id,
      after,
      limit + 1,
      outcomes ? [...outcomes] : undefined,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map(itemResult),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].item_index) : null,
    };
  }

  async cancel(batchId: string, ctx: RequestContext): Promise<BatchSummary> {
    const batch = await this.visible(batchId, ctx);
    const before = await this.summaryOf(batch);
    // A batch that already ended stays DONE: there is nothing left to cancel.
    if (before.state === 'RUNNING') await this.repository.cancel(batch.batch_id, new Date().toISOString());
    return this.summaryOf((await this.repository.find(batch.batch_id)) ?? batch);
  }

  async summaryOf(batch: BatchTable): Promise<BatchSummary> {
    const counts = Object.fromEntries(BATCH_OUTCOMES.map((o) => [o, 0])) as Record<BatchOutcome, number>;
    let last: string | null = null;
    for (const row of await this.repository.counts(batch.batch_id)) {
      const name: BatchOutcome = row.outcome === 'RUNNING' ? 'PENDING' : row.outcome;
      counts[name] += row.count;
      if (row.lastCompletedAt && (last === null || row.lastCompletedAt > last)) last = row.lastCompletedAt;
    }
    const running = counts.PENDING > 0;
    return {
      batchId: batch.batch_id,
      state: running ? 'RUNNING' : batch.cancelled_at ? 'CANCELLED' : 'DONE',
      total: Number(batch.total),
      counts,
      createdAt: batch.created_at,
      completedAt: running ? null : (last ?? batch.created_at),
    };
  }

  /** The batch, when it belongs to this caller; NOT_FOUND otherwise (another caller's batch is not shown). */
  private async visible(batchId: string, ctx: RequestContext): Promise<BatchTable> {
    const batch = await this.repository.find(batchId);
    if (!batch || batch.caller_id !== ctx.callerId) {
      throw new GatewayError('NOT_FOUND', `No batch ${batchId}`);
    }
    return batch;
  }

  /** Waits up to `seconds` for every item to end (`Prefer: wait`), polling the database (any replica may run it). */
  private async awaitEnd(batch: BatchTable, seconds: number | undefined): Promise<BatchSummary> {
    const deadline = Date.now() + (seconds ?? 0) * 1000;
    for (;;) {
      const summary = await this.summaryOf(batch);
      if (summary.state !== 'RUNNING' || Date.now() >= deadline) return summary;
      await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, deadline - Date.now())));
    }
  }

  /**
   * The item rows, each checked with its provider's own rules (a structural problem refuses the whole
   * batch, naming `items[i].field`). An item for a disabled provider is recorded as failed on its own.
   */
  private itemRows(
    batchId: string,
    items: BatchItemInput[],
    now: string,
    ctx: RequestContext,
  ): { rows: BatchItemTable[]; needsClose: boolean } {
    const problems: FieldError[] = [];
    let needsClose = false;
    const rows = items.map((item, index): BatchItemTable => {
      let adapter;
      try {
        adapter = this.registry.get(item.provider);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        needsClose ||= item.status === 'CLOSED';
        const problem = problemOf(
          error,
          `/v1/accounts/${item.provider}/${item.accountId}/status`,
          ctx.requestId,
        );
        return row(batchId, index, item, item.provider, {
          outcome: 'FAILED',
          error: JSON.stringify(problem),
          completed_at: now,
        });
      }
      for (const e of adapter.validate(item))
        problems.push({ field: `items[${index}].${e.field}`, message: e.message });
      needsClose ||= item.status === 'CLOSED' || adapter.isTerminal(item.status);
      const lane = adapter.groupKey
        ? `${adapter.id}:${item.status === 'CLOSED' ? 'withdraw' : 'update-status'}`
        : adapter.id;
      return row(batchId, index, item, lane, {});
    });
    if (problems.length > 0) throw GatewayError.validation(problems);
    return { rows, needsClose };
  }
}

function row(
  batchId: string,
  index: number,
  item: BatchItemInput,
  lane: string,
  end: Partial<Pick<BatchItemTable, 'outcome' | 'error' | 'completed_at'>>,
): BatchItemTable {
  return {
    batch_id: batchId,
    item_index: index,
    provider: item.provider,
    lane,
    account_id: item.accountId,
    customer_id: item.customerId ?? null,
    status: item.status,
    reason: item.reason ?? null,
    note: item.note ?? null,
    provider_options: item.providerOptions === undefined ? null : JSON.stringify(item.providerOptions),
    outcome: end.outcome ?? 'PENDING',
    change_id: uuidv7(),
    provider_status: null,
    error: end.error ?? null,
    claimed_by: null,
    claimed_at: null,
    completed_at: end.completed_at ?? null,
  };
}

function itemResult(item: BatchItemTable): BatchItemResult {
  const error = item.error === null ? null : (JSON.parse(item.error) as { code?: string });
  const outcome: BatchOutcome = item.outcome === 'RUNNING' ? 'PENDING' : item.outcome;
  // A change record exists once the item ran; a disabled provider's item never became one.
  const recorded = outcome !== 'PENDING' && outcome !== 'CANCELLED' && error?.code !== 'PROVIDER_NOT_FOUND';
  return {
    index: Number(item.item_index),
    provider: item.provider,
    accountId: item.account_id,
    status: item.status,
    reason: item.reason,
    outcome,
    changeId: recorded ? item.change_id : null,
    providerStatus: item.provider_status === null ? null : JSON.parse(item.provider_status),
    error,
  };
}

const CURSOR_PREFIX = 'b1.';

function encodeCursor(index: number): string {
  return CURSOR_PREFIX + Buffer.from(String(index), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = cursor.startsWith(CURSOR_PREFIX)
    ? Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8')
    : '';
  if (!/^\d{1,4}$/.test(text)) {
    throw GatewayError.validation([{ field: 'cursor', message: 'cursor is not one this API returned' }]);
  }
  return Number(text);
}
