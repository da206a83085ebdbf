import { Inject, Injectable } from '@nestjs/common';
import { uuidv7 } from '../common/ids.js';
import {
  GatewayError,
  changeHttpStatus,
  type CanonicalReason,
  type CanonicalStatus,
  type ProviderId,
} from '../domain/index.js';
import { callContextOf, type RequestContext } from '../observability/request-context.js';
import type { NewAttempt } from '../persistence/audit.repository.js';
import { Store } from '../persistence/store.js';
import type {
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderRequest,
  ProviderStatusValue,
  TranslatedChange,
} from '../providers/provider-adapter.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import { translateChange } from '../providers/translation.js';
import { AccountLocks } from './account-locks.js';
import { endEvent, failure, round, storeFailed } from './attempt-records.js';
import { CallerAuthService, type Caller } from './caller-auth.service.js';
import { UnfinishedChanges } from './unfinished-changes.js';
import {
  IdempotencyService,
  KeyHold,
  answerForFailure,
  fingerprintOf,
  type Replay,
} from './idempotency.service.js';

export interface ChangeStatusInput {
  status: CanonicalStatus;
  reason?: CanonicalReason;
  customerId?: string;
  note?: string;
  providerOptions?: Record<string, unknown>;
}

export interface ChangeStatusResponse {
  changeId: string;
  provider: ProviderId;
  accountId: string;
  status: CanonicalStatus;
  reason: CanonicalReason | null;
  outcome: 'APPLIED' | 'ACCEPTED';
  providerStatus: ProviderStatusValue;
  requestId: string;
  completedAt: string;
}

export interface DryRunResponse {
  dryRun: true;
  providerRequest: ProviderRequest;
}

/**
 * What a change request came to; common/change-outcome.interceptor.ts turns it into HTTP (200 or 202,
 * a dry run's 200, or the first answer again with `Idempotent-Replayed`). Refusals are thrown.
 */
export type ChangeOutcome =
  | { kind: 'changed'; response: ChangeStatusResponse }
  | { kind: 'dry-run'; response: DryRunResponse }
  | Replay;

/**
 * A change made as one item of a batch (CONTRACT §6): its change id was assigned when the batch was
 * recorded (so the item can be recorded, and so sent, once only), and its record carries the batch id.
 * `send` replaces the adapter's own call where items travel together (ClearGrid's batch endpoints).
 */
export interface BatchItemChange {
  batchId: string;
  changeId: string;
  send?: (prepared: PreparedChange) => Promise<ChangeResult>;
}

export interface ChangeOptions {
  dryRun: boolean;
  idempotencyKey?: string;
}

/**
 * Changes one account's status: checks, idempotency, a write-ahead audit record, the provider call,
 * and the record's completion — in that order, so an accepted change is recorded before it is answered.
 * About 300 lines: applyRecorded is that one ordered sequence, kept in one place to be read top to bottom.
 */
@Injectable()
export class ChangeStatusService {
  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
    @Inject(IdempotencyService) private readonly idempotency: IdempotencyService,
    @Inject(UnfinishedChanges) private readonly unfinished: UnfinishedChanges,
  ) {
    this.locks = new AccountLocks(store.accountLocks);
  }

  /** One change at a time per account: in this process, and across replicas on PostgreSQL (see AccountLocks). */
  private readonly locks: AccountLocks;

  async change(
    providerId: string,
    accountId: string,
    input: ChangeStatusInput,
    options: ChangeOptions,
    ctx: RequestContext,
  ): Promise<ChangeOutcome> {
    const adapter = this.registry.get(providerId);
    Object.assign(ctx.log, { provider: adapter.id, accountId, status: input.status, dryRun: options.dryRun });
    const request = changeRequestOf(accountId, input);
    authorize(ctx, adapter, input.status);
    const invalid = adapter.validate(request);
    if (invalid.length > 0) throw GatewayError.validation(invalid);

    if (options.dryRun) {
      const prepared = await adapter.prepareChange(translateChange(adapter, request), callContextOf(ctx));
      return { kind: 'dry-run', response: { dryRun: true, providerRequest: prepared.providerRequest } };
    }
    const key = options.idempotencyKey;
    const keyed =
      key === undefined
        ? undefined
        : { callerId: ctx.callerId, key, fingerprint: fingerprint(adapter.id, accountId, input) };
    // The key is opened before the account's lock is awaited, so a retry of a running request is still
    // answered IDEMPOTENCY_IN_PROGRESS at once rather than queued behind it.
    const outcome = await this.idempotency.run(keyed, (hold) =>
      this.locks.run(`${adapter.id}/${accountId}`, () =>
        this.applyRecorded(adapter, request, input, ctx, hold),
      ),
    );
    if (outcome.kind === 'replayed') ctx.log.outcome = 'REPLAYED';
    return outcome;
  }

  /**
   * One item of a batch, made exactly as a single change is (write-ahead record, provider call, completion),
   * without an idempotency key; the batch was authorized and validated when it was accepted. Throws the
   * change's GatewayError when it failed.
   */
  async changeInBatch(
    adapter: ProviderAdapter,
    accountId: string,
    input: ChangeStatusInput,
    batch: BatchItemChange,
    ctx: RequestContext,
  ): Promise<ChangeStatusResponse> {
    Object.assign(ctx.log, { provider: adapter.id, accountId, status: input.status });
    const request = changeRequestOf(accountId, input);
    const noKey = new KeyHold(this.store, undefined, false);
    const outcome = await this.applyRecorded(adapter, request, input, ctx, noKey, batch);
    if (outcome.kind !== 'changed') throw new GatewayError('INTERNAL', 'a batch item came to no change');
    return outcome.response;
  }

  /**
   * The write-ahead record is committed before the provider is called; the outcome, and the idempotency
   * key's final answer, are committed together in one transaction afterwards.
   */
  private async applyRecorded(
    adapter: ProviderAdapter,
    request: ChangeRequest,
    input: ChangeStatusInput,
    ctx: RequestContext,
    hold: KeyHold,
    batch?: BatchItemChange,
  ): Promise<ChangeOutcome> {
    const changeId = batch?.changeId ?? uuidv7();
    const attempt = (providerRequest: ProviderRequest | null): NewAttempt => ({
      changeId,
      provider: adapter.id,
      accountId: request.accountId,
      customerId: request.customerId ?? null,
      callerId: ctx.callerId,
      requestId: ctx.requestId,
      status: input.status,
      reason: input.reason ?? null,
      note: input.note ?? null,
      idempotencyKey: hold.key ?? null,
      providerRequest,
      instanceId: this.store.instanceId,
      createdAt: new Date().toISOString(),
      batchId: batch?.batchId ?? null,
    });

    // Refused before any status call (unsupported, or the provider's login failed): recorded as failed.
    const refuse = async (error: unknown): Promise<never> => {
      const refused = attempt(null);
      const completion = failure(error, 0);
      await hold
        .recordFirst(
          [{ kind: 'insertAttempt', attempt: refused, completion }, endEvent(refused, completion)],
          answerForFailure(error, ctx.requestId),
        )
        .catch(storeFailed('the refusal could not be recorded'));
      throw error;
    };
    let change: TranslatedChange;
    try {
      change = translateChange(adapter, request);
    } catch (error) {
      return refuse(error);
    }
    const resolved = await this.unfinished.resolve(adapter, change, ctx, hold);
    if (resolved) return resolved;
    let prepared: PreparedChange;
    try {
      prepared = await adapter.prepareChange(change, callContextOf(ctx));
    } catch (error) {
      return refuse(error);
    }

    await hold
      .recordFirst([{ kind: 'insertAttempt', attempt: attempt(prepared.providerRequest) }])
      .catch(storeFailed('the change was not sent: its audit record could not be written'));
    const started = performance.now();
    let result: ChangeResult;
    try {
      result = await (batch?.send ? batch.send(prepared) : adapter.applyChange(prepared, callContextOf(ctx)));
    } catch (error) {
      ctx.log.outcome = 'FAILED';
      ctx.log.providerSeconds = (performance.now() - started) / 1000;
      if (error instanceof GatewayError && error.provider?.httpStatus !== undefined) {
        ctx.log.providerHttpStatus = error.provider.httpStatus;
      }
      const completion = failure(error, performance.now() - started);
      await hold
        .settle(
          [{ kind: 'completeAttempt', changeId, completion }, endEvent(attempt(null), completion)],
          answerForFailure(error, ctx.requestId),
        )
        .catch(storeFailed(`the provider refused the change but that could not be recorded`));
      throw error;
    }
    const completedAt = new Date().toISOString();
    Object.assign(ctx.log, {
      outcome: result.outcome,
      providerHttpStatus: result.providerHttpStatus,
      providerSeconds: (performance.now() - started) / 1000,
    });
    const response: ChangeStatusResponse = {
      changeId,
      provider: adapter.id,
      accountId: request.accountId,
      status: input.status,
      reason: input.reason ?? null,
      outcome: result.outcome,
      providerStatus: result.providerStatus,
      requestId: ctx.requestId,
      completedAt,
    };
    const completion = {
      outcome: result.outcome,
      providerHttpStatus: result.providerHttpStatus,
      providerStatus: result.providerStatus,
      latencyMs: round(performance.now() - started),
      completedAt,
    };
    const outcome: ChangeOutcome = { kind: 'changed', response };
    // The key keeps the status common/ answers with, beside the body it replays.
    await hold
      .settle([{ kind: 'completeAttempt', changeId, completion }, endEvent(attempt(null), completion)], {
        status: changeHttpStatus(response),
        body: response,
        changeId,
      })
      .catch(
        storeFailed(
          `the provider answered ${result.outcome} but the gateway could not record it; read the account's status before retrying`,
        ),
      );
    return outcome;
  }
}

function changeRequestOf(accountId: string, input: ChangeStatusInput): ChangeRequest {
  const { status, reason, customerId, providerOptions } = input;
  return { accountId, status, reason, customerId, providerOptions };
}

/** CLOSED, and any status the provider treats as final, needs `status:close` on top of `status:write`. */
function authorize(ctx: RequestContext, adapter: ProviderAdapter, status: CanonicalStatus): void {
  if (status === 'CLOSED' || adapter.isTerminal(status)) {
    const caller: Caller = { id: ctx.callerId, scopes: ctx.scopes as Caller['scopes'] };
    CallerAuthService.require(caller, 'status:close', `to set ${status}, a final status`);
  }
}

/** The request's identity for idempotency: same provider, account and body (key order ignored). */
function fingerprint(provider: string, accountId: string, input: ChangeStatusInput): string {
  const body = {
    status: input.status,
    reason: input.reason ?? null,
    customerId: input.customerId ?? null,
    note: input.note ?? null,
    providerOptions: input.providerOptions ?? null,
  };
  return fingerprintOf(['PUT', provider, accountId, body]);
}
