import { GatewayError } from '../domain/index.js';
import type {
  CallContext,
  ChangeResult,
  GroupedChangeResult,
  PreparedChange,
  ProviderAdapter,
  StatusReading,
  TranslatedChange,
} from '../providers/provider-adapter.js';
import { MappedAdapter } from '../providers/mapped-adapter.js';
import { withoutSecrets } from '../providers/provider-errors.js';
import type { ProviderGuard } from './provider-guard.js';
import { withRetries, type RetryPolicy } from './retry-policy.js';

/**
 * Wraps an adapter with the gateway's resilience, in one place for every provider: each attempt passes
 * the provider's circuit breaker and bulkhead (ProviderGuard), attempts are retried by the retry policy.
 * Writes are repeated
 * only where repeating is safe: setting the same status again is harmless, except a terminal change (a
 * close at Spidr) that may already have happened — there the account is read first and the write is
 * repeated only while the account is not yet in the target status.
 */
export class ResilientAdapter extends MappedAdapter implements ProviderAdapter {
  readonly id: ProviderAdapter['id'];
  readonly name: string;
  readonly liveRead: boolean;

  constructor(
    private readonly inner: ProviderAdapter,
    private readonly policy: RetryPolicy,
    readonly guard: ProviderGuard,
    private readonly onRetry?: (operation: string, code: string, attempt: number, delayMs: number) => void,
    /** The provider's configured credentials, masked in any error text the provider echoes them in. */
    private readonly secrets: readonly string[] = [],
    /** Told once per failed operation whose provider error no rule recognised. */
    private readonly onUnmapped?: (error: GatewayError) => void,
  ) {
    super(inner);
    this.id = inner.id;
    this.name = inner.name;
    this.liveRead = inner.liveRead;
    if (inner.groupKey && inner.applyChanges) {
      const groupKey = inner.groupKey.bind(inner);
      const applyChanges = inner.applyChanges.bind(inner);
      this.groupKey = groupKey;
      // Only a request the provider refused as a whole is repeated (ClearGrid's are not terminal-guarded:
      // a refused request changed nothing); per-account answers come back as values.
      this.applyChanges = (prepared, ctx) =>
        this.cleanEach(
          withRetries(
            this.policy,
            () => this.guard.run(() => applyChanges(prepared, ctx)),
            this.hooks('change status'),
          ),
        );
    }
  }

  readonly groupKey?: (prepared: PreparedChange) => string;
  readonly applyChanges?: (prepared: PreparedChange[], ctx: CallContext) => Promise<GroupedChangeResult[]>;

  prepareChange(change: TranslatedChange, ctx: CallContext): Promise<PreparedChange> {
    return this.clean(
      withRetries(
        this.policy,
        // Preparing may make no provider call (Spidr, Pismo): it must not count as a success that resets the
        // breaker's run of failures, so it only checks that the circuit is not open.
        () => this.guard.passIfClosed(() => this.inner.prepareChange(change, ctx)),
        this.hooks('prepare'),
      ),
    );
  }

  applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const guarded = this.inner.isTerminal(prepared.request.status) && this.inner.liveRead;
    return this.clean(
      withRetries(this.policy, () => this.guard.run(() => this.inner.applyChange(prepared, ctx)), {
        ...this.hooks('change status'),
        beforeRepeat: guarded ? () => this.alreadyApplied(prepared, ctx) : undefined,
      }),
    );
  }

  readStatus(accountId: string, ctx: CallContext): Promise<StatusReading> {
    const policy = ctx.maxAttempts ? { ...this.policy, maxAttempts: ctx.maxAttempts } : this.policy;
    return this.clean(
      withRetries(
        policy,
        () => this.guard.run(() => this.inner.readStatus(accountId, ctx)),
        this.hooks('read status'),
      ),
    );
  }

  /** As `clean`, for the per-account refusals a grouped request answers with (returned, not thrown). */
  private async cleanEach(work: Promise<GroupedChangeResult[]>): Promise<GroupedChangeResult[]> {
    const results = await this.clean(work);
    return results.map((result) => {
      if (result.kind !== 'failed') return result;
      const cleaned = withoutSecrets(result.error, this.secrets);
      if (cleaned instanceof GatewayError && cleaned.unmapped) this.onUnmapped?.(cleaned);
      return { kind: 'failed', error: cleaned as Error };
    });
  }

  private clean<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      const cleaned = withoutSecrets(error, this.secrets);
      if (cleaned instanceof GatewayError && cleaned.unmapped) this.onUnmapped?.(cleaned);
      throw cleaned;
    });
  }

  /** Did the failed attempt reach the provider after all? Then the change is done and must not be repeated. */
  private async alreadyApplied(
    prepared: PreparedChange,
    ctx: CallContext,
  ): Promise<{ settled: true; value: ChangeResult } | { settled: false }> {
    const reading = await this.guard.run(() => this.inner.readStatus(prepared.request.accountId, ctx));
    if (reading.status !== prepared.request.status) return { settled: false };
    return {
      settled: true,
      value: { outcome: 'APPLIED', providerStatus: prepared.providerStatus, providerHttpStatus: 200 },
    };
  }

  private hooks(operation: string) {
    return {
      onRetry: (error: { code: string }, attempt: number, delayMs: number) =>
        this.onRetry?.(operation, error.code, attempt, delayMs),
    };
  }
}
