import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { uuidv7 } from '../common/ids.js';
import { problemOf } from '../common/problem.filter.js';
import { stableJson } from '../common/stable-json.js';
import {
  ERROR_CATALOG,
  GatewayError,
  type CanonicalReason,
  type CanonicalStatus,
  type ProviderId,
} from '../domain/index.js';
import { callContextOf, type RequestContext } from '../observability/request-context.js';
import type { AttemptCompletion, NewAttempt } from '../persistence/audit.repository.js';
import type { ChangeWrite } from '../persistence/change-writes.js';
import type { BeginRequest } from '../persistence/idempotency.repository.js';
import { Store } from '../persistence/store.js';
import type {
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderRequest,
  ProviderStatusValue,
} from '../providers/provider-adapter.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import { CallerAuthService, type Caller } from './caller-auth.service.js';

/** How long an idempotency key is remembered, and how long a running request holds it. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_LOCK_MS = 5 * 60 * 1000;

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

/** What the controller sends: a fresh answer, or the stored first answer of an idempotent request. */
export interface ChangeAnswer {
  httpStatus: number;
  body: ChangeStatusResponse | DryRunResponse | Record<string, unknown>;
  replayed: boolean;
}

export interface ChangeOptions {
  dryRun: boolean;
  idempotencyKey?: string;
}

/**
 * Changes one account's status: checks, idempotency, a write-ahead audit record, the provider call,
 * and the record's completion — in that order, so an accepted change is recorded before it is answered.
 */
@Injectable()
export class ChangeStatusService {
  constructor(
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(Store) private readonly store: Store,
  ) {}

  async change(
    providerId: string,
    accountId: string,
    input: ChangeStatusInput,
    options: ChangeOptions,
    ctx: RequestContext,
  ): Promise<ChangeAnswer> {
    const adapter = this.registry.get(providerId);
    Object.assign(ctx.log, { provider: adapter.id, accountId, status: input.status, dryRun: options.dryRun });
    const request: ChangeRequest = {
      accountId,
      status: input.status,
      reason: input.reason,
      customerId: input.customerId,
      providerOptions: input.providerOptions,
    };
    authorize(ctx, adapter, input.status);
    const invalid = adapter.validate(request);
    if (invalid.length > 0) throw GatewayError.validation(invalid);

    if (options.dryRun) {
      ensureSupported(adapter, request);
      const prepared = await adapter.prepareChange(request, callContextOf(ctx));
      return {
        httpStatus: 200,
        body: { dryRun: true, providerRequest: prepared.providerRequest },
        replayed: false,
      };
    }

    const key = options.idempotencyKey;
    const hold: KeyHold = { claim: undefined, held: false };
    if (key !== undefined) {
      const claim: BeginRequest = {
        callerId: ctx.callerId,
        key,
        fingerprint: fingerprint(adapter.id, accountId, input),
        now: new Date(),
        ttlMs: IDEMPOTENCY_TTL_MS,
        lockMs: IDEMPOTENCY_LOCK_MS,
      };
      const writes = this.store.writes;
      if (writes.claimWithFirstRecord && !(await writes.hasKey(ctx.callerId, key))) {
        // A new key: claimed in the same commit as the change's first record (see recordFirst).
        hold.claim = claim;
      } else {
        const replay = await this.beginIdempotent(ctx, claim, writes.claimWithFirstRecord);
        if (replay) return replay;
        hold.held = true;
      }
    }
    for (;;) {
      try {
        const body = await this.applyRecorded(adapter, request, input, key, ctx, hold);
        return { httpStatus: body.outcome === 'ACCEPTED' ? 202 : 200, body, replayed: false };
      } catch (error) {
        if (error instanceof LostClaim) {
          // Another request claimed the key after we looked: answer as if it had been there all along.
          const replay = await this.beginIdempotent(ctx, error.claim, true);
          if (replay) return replay;
          Object.assign(hold, { claim: undefined, held: true });
          continue;
        }
        if (key !== undefined && hold.held && !(error instanceof RecordedFailure)) {
          // Failed before anything was recorded (e.g. the store itself): never leave the key held.
          await this.store.writes
            .commit([{ kind: 'releaseKey', callerId: ctx.callerId, key }])
            .catch(() => undefined);
        }
        throw error instanceof RecordedFailure ? error.error : error;
      }
    }
  }

  /**
   * The first record of a change. When a new key is still to be claimed, the claim and the record are one
   * transaction: the record is written only if this request won the key (LostClaim otherwise).
   */
  private async recordFirst(writes: ChangeWrite[], hold: KeyHold): Promise<void> {
    const claim = hold.claim;
    if (claim === undefined) return this.store.writes.commit(writes);
    if (!(await this.store.writes.claimKey(claim, writes))) throw new LostClaim(claim);
    Object.assign(hold, { claim: undefined, held: true });
  }

  /**
   * The write-ahead record is committed before the provider is called; the outcome, and the idempotency
   * key's final answer, are committed together in one transaction afterwards.
   */
  private async applyRecorded(
    adapter: ProviderAdapter,
    request: ChangeRequest,
    input: ChangeStatusInput,
    key: string | undefined,
    ctx: RequestContext,
    hold: KeyHold,
  ): Promise<ChangeStatusResponse> {
    const changeId = uuidv7();
    const instance = `/v1/accounts/${adapter.id}/${request.accountId}/status`;
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
      idempotencyKey: key ?? null,
      providerRequest,
      instanceId: this.store.instanceId,
      createdAt: new Date().toISOString(),
    });

    let prepared: PreparedChange;
    try {
      ensureSupported(adapter, request);
      prepared = await adapter.prepareChange(request, callContextOf(ctx));
    } catch (error) {
      // Refused before any status call (unsupported, or the provider's login failed): recorded as failed.
      await this.recordFirst(
        [
          { kind: 'insertAttempt', attempt: attempt(null), completion: failure(error, 0) },
          ...settleFailedKey(ctx, key, error, instance),
        ],
        hold,
      );
      throw new RecordedFailure(error);
    }

    await this.recordFirst([{ kind: 'insertAttempt', attempt: attempt(prepared.providerRequest) }], hold);
    const started = performance.now();
    let result: ChangeResult;
    try {
      result = await adapter.applyChange(prepared, callContextOf(ctx));
    } catch (error) {
      ctx.log.outcome = 'FAILED';
      ctx.log.providerSeconds = (performance.now() - started) / 1000;
      if (error instanceof GatewayError && error.provider?.httpStatus !== undefined) {
        ctx.log.providerHttpStatus = error.provider.httpStatus;
      }
      await this.store.writes.commit([
        { kind: 'completeAttempt', changeId, completion: failure(error, performance.now() - started) },
        ...settleFailedKey(ctx, key, error, instance),
      ]);
      throw new RecordedFailure(error);
    }
    const completedAt = new Date().toISOString();
    Object.assign(ctx.log, {
      outcome: result.outcome,
      providerHttpStatus: result.providerHttpStatus,
      providerSeconds: (performance.now() - started) / 1000,
    });
    const body: ChangeStatusResponse = {
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
    const status = result.outcome === 'ACCEPTED' ? 202 : 200;
    await this.store.writes.commit(
      key === undefined
        ? [{ kind: 'completeAttempt', changeId, completion }]
        : [
            { kind: 'completeAttempt', changeId, completion },
            { kind: 'completeKey', callerId: ctx.callerId, key, status, body, changeId },
          ],
    );
    return body;
  }

  /** Claims the key, or settles a request whose key is already there: replay, conflict, or take-over. */
  private async beginIdempotent(
    ctx: RequestContext,
    claim: BeginRequest,
    known: boolean,
  ): Promise<ChangeAnswer | undefined> {
    const key = claim.key;
    const result = await this.store.beginKey(claim, known);
    switch (result.kind) {
      case 'started':
        return undefined;
      case 'replay':
        ctx.log.outcome = 'REPLAYED';
        return { httpStatus: result.status, body: result.body as Record<string, unknown>, replayed: true };
      case 'reused':
        throw new GatewayError(
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key "${key}" was already used by this caller for a different request`,
        );
      case 'in-progress':
        throw new GatewayError(
          'IDEMPOTENCY_IN_PROGRESS',
          `A request with Idempotency-Key "${key}" is still running`,
        );
    }
  }
}

/** A request's hold on its idempotency key: still to be claimed (with the first record), or held. */
interface KeyHold {
  claim: BeginRequest | undefined;
  held: boolean;
}

/** The key was claimed by another request between our look and our claim; nothing of ours was written. */
class LostClaim extends Error {
  constructor(readonly claim: BeginRequest) {
    super('idempotency key claimed by another request');
  }
}

/** A failure already recorded (audit and key settled in the same transaction); carries the original error. */
class RecordedFailure extends Error {
  constructor(readonly error: unknown) {
    super('recorded failure');
  }
}

/**
 * A failure the caller could fix only by retrying (5xx, 429, anything retryable) releases the key;
 * a final refusal (unknown account, unsupported status …) is stored and replayed like a success.
 */
function settleFailedKey(
  ctx: RequestContext,
  key: string | undefined,
  error: unknown,
  instance: string,
): ChangeWrite[] {
  if (key === undefined) return [];
  const callerId = ctx.callerId;
  const final = error instanceof GatewayError && !error.retryable && error.httpStatus < 500;
  if (!final) return [{ kind: 'releaseKey', callerId, key }];
  const body = problemOf(error, instance, ctx.requestId);
  return [{ kind: 'completeKey', callerId, key, status: error.httpStatus, body, changeId: null }];
}

/** CLOSED, and any status the provider treats as final, needs `status:close` on top of `status:write`. */
function authorize(ctx: RequestContext, adapter: ProviderAdapter, status: CanonicalStatus): void {
  if (status === 'CLOSED' || adapter.isTerminal(status)) {
    const caller: Caller = { id: ctx.callerId, scopes: ctx.scopes as Caller['scopes'] };
    CallerAuthService.require(caller, 'status:close', `to set ${status}, a final status`);
  }
}

function ensureSupported(adapter: ProviderAdapter, request: ChangeRequest): void {
  const translation = adapter.translate(request.status, request.reason);
  if (translation.supported) return;
  throw new GatewayError('STATUS_NOT_SUPPORTED', translation.why, {
    extensions: { supportedStatuses: ProviderRegistry.supportedStatuses(adapter) },
  });
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
  return createHash('sha256')
    .update(stableJson(['PUT', provider, accountId, body]))
    .digest('hex');
}

function failure(error: unknown, latencyMs: number): AttemptCompletion {
  const gatewayError = error instanceof GatewayError ? error : undefined;
  const code = gatewayError?.code ?? 'INTERNAL';
  return {
    outcome: 'FAILED',
    errorCode: code in ERROR_CATALOG ? code : 'INTERNAL',
    providerHttpStatus: gatewayError?.provider?.httpStatus,
    providerCode: gatewayError?.provider?.code,
    providerMessage: gatewayError?.provider?.message,
    latencyMs: round(latencyMs),
    completedAt: new Date().toISOString(),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
