import { Inject, Injectable } from '@nestjs/common';
import {
  GatewayError,
  type CanonicalReason,
  type CanonicalStatus,
  type ProviderId,
} from '../domain/index.js';
import { callContextOf, type RequestContext } from '../observability/request-context.js';
import type { AttemptRow } from '../persistence/audit.repository.js';
import { Store } from '../persistence/store.js';
import { ProviderRegistry } from '../providers/provider-registry.js';

export interface AccountStatusResponse {
  provider: ProviderId;
  accountId: string;
  status: CanonicalStatus | null;
  reason: CanonicalReason | null;
  providerStatus: unknown;
  source: 'provider' | 'gateway';
  asOf: string;
  /** Live reads only (CONTRACT §8): the last status applied through the gateway, or null. */
  expectedStatus?: CanonicalStatus | null;
  /** Live reads only: whether the provider shows the expected status; null when there is no expectation. */
  inSync?: boolean | null;
}

export interface HistoryItem {
  changeId: string;
  at: string;
  callerId: string;
  requestId: string;
  status: string;
  reason: string | null;
  note: string | null;
  providerRequest: unknown;
  outcome: 'APPLIED' | 'ACCEPTED' | 'FAILED' | 'UNFINISHED';
  errorCode: string | null;
  providerHttpStatus: number | null;
  latencyMs: number | null;
  /** The batch the change came from (CONTRACT §6); null for a single change. */
  batchId: string | null;
}

export interface HistoryPage {
  items: HistoryItem[];
  nextCursor: string | null;
}

export const HISTORY_DEFAULT_LIMIT = 20;
export const HISTORY_MAX_LIMIT = 100;

/** Reads one account's status (live where the provider can, else the gateway's record) and its history. */
@Injectable()
export class AccountStatusService {
  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
  ) {}

  async read(providerId: string, accountId: string, ctx: RequestContext): Promise<AccountStatusResponse> {
    const adapter = this.registry.get(providerId);
    Object.assign(ctx.log, { provider: adapter.id, accountId });
    if (adapter.liveRead) {
      // The expectation is read beside the provider, not after it: it adds no latency to the answer.
      const [reading, expectation] = await Promise.all([
        adapter.readStatus(accountId, callContextOf(ctx)),
        this.store.drift.expectation(adapter.id, accountId),
      ]);
      ctx.log.status = reading.status ?? undefined;
      const expectedStatus = (expectation?.status ?? null) as CanonicalStatus | null;
      return {
        provider: adapter.id,
        accountId,
        status: reading.status,
        reason: reading.reason,
        providerStatus: reading.providerStatus,
        source: 'provider',
        asOf: new Date().toISOString(),
        expectedStatus,
        inSync: expectedStatus === null ? null : reading.status === expectedStatus,
      };
    }
    const last = await this.store.audit.lastApplied(adapter.id, accountId);
    if (!last) {
      throw new GatewayError(
        'ACCOUNT_NOT_FOUND',
        `${adapter.id} has no read endpoint and the gateway has recorded no applied or accepted change for ${accountId}`,
      );
    }
    ctx.log.status = last.status;
    return {
      provider: adapter.id,
      accountId,
      status: last.status as CanonicalStatus,
      reason: last.reason as CanonicalReason | null,
      providerStatus: parse(last.provider_status),
      source: 'gateway',
      asOf: last.completed_at ?? last.created_at,
    };
  }

  async history(
    providerId: string,
    accountId: string,
    limit: number | undefined,
    cursor: string | undefined,
    ctx: RequestContext,
  ): Promise<HistoryPage> {
    const adapter = this.registry.get(providerId);
    Object.assign(ctx.log, { provider: adapter.id, accountId });
    const size = limit ?? HISTORY_DEFAULT_LIMIT;
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.store.audit.history(adapter.id, accountId, size + 1, before);
    const page = rows.slice(0, size);
    const more = rows.length > size;
    return {
      items: page.map(toItem),
      nextCursor: more && page.length > 0 ? encodeCursor(page[page.length - 1].change_id) : null,
    };
  }
}

function toItem(row: AttemptRow): HistoryItem {
  return {
    changeId: row.change_id,
    at: row.created_at,
    callerId: row.caller_id,
    requestId: row.request_id,
    status: row.status,
    reason: row.reason,
    note: row.note,
    providerRequest: parse(row.provider_request),
    // A PENDING row is a change still in flight; to a reader it is not finished yet.
    outcome: row.outcome === 'PENDING' ? 'UNFINISHED' : row.outcome,
    errorCode: row.error_code,
    providerHttpStatus: row.provider_http_status,
    latencyMs: row.latency_ms,
    batchId: row.batch_id ?? null,
  };
}

function parse(json: string | null): unknown {
  return json === null ? null : JSON.parse(json);
}

const CURSOR_PREFIX = 'c1.';

function encodeCursor(changeId: string): string {
  return CURSOR_PREFIX + Buffer.from(changeId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const invalid = () =>
    GatewayError.validation([{ field: 'cursor', message: 'cursor is not one this API returned' }]);
  if (!cursor.startsWith(CURSOR_PREFIX)) throw invalid();
  const id = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw invalid();
  return id;
}
