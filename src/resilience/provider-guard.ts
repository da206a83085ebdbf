import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  bulkhead,
  circuitBreaker,
  handleWhen,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { GatewayError, type ErrorCode, type ProviderId } from '../domain/index.js';

export type CircuitName = 'closed' | 'open' | 'half-open';

export interface GuardOptions {
  /** Consecutive failed calls that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe is let through. */
  halfOpenAfterMs: number;
  /** Calls in flight to this provider at once (the bulkhead); more wait in a queue of `maxQueue`. */
  maxConcurrent: number;
  maxQueue: number;
}

export const DEFAULT_GUARD_OPTIONS: GuardOptions = {
  failureThreshold: 5,
  halfOpenAfterMs: 10_000,
  maxConcurrent: 64,
  maxQueue: 256,
};

/**
 * Failures that say the provider is unwell (5xx, malformed answers, network errors): the circuit counts them and
 * the retry policy repeats them. A 429 or a refusal says nothing about its health.
 */
export const PROVIDER_UNWELL: ReadonlySet<ErrorCode> = new Set([
  'PROVIDER_ERROR',
  'PROVIDER_UNAVAILABLE',
  'PROVIDER_TIMEOUT',
]);

/**
 * One provider's circuit breaker and bulkhead (cockatiel). Every attempt toward the provider passes
 * through it: while the circuit is open, or the provider already has its fill of calls in flight, the
 * call is refused at once with PROVIDER_UNAVAILABLE, so one provider's outage cannot slow the others.
 */
export class ProviderGuard {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly bulkhead: BulkheadPolicy;
  /** When the open circuit lets its next probe through (cockatiel changes state only on the next call). */
  private probeAt = 0;

  constructor(
    private readonly providerId: ProviderId,
    options: GuardOptions,
    onStateChange?: (state: CircuitName) => void,
  ) {
    this.breaker = circuitBreaker(
      handleWhen((error) => error instanceof GatewayError && PROVIDER_UNWELL.has(error.code)),
      { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.failureThreshold) },
    );
    this.bulkhead = bulkhead(options.maxConcurrent, options.maxQueue);
    this.breaker.onBreak(() => {
      this.probeAt = Date.now() + options.halfOpenAfterMs;
    });
    if (onStateChange) this.breaker.onStateChange((state) => onStateChange(circuitName(state)));
  }

  get circuit(): CircuitName {
    return circuitName(this.breaker.state);
  }

  /**
   * Whether a call now would be refused: the circuit is open and its probe is not due yet, or half-open
   * with its one probe in flight. Background work (the drift watch) pauses on it rather than fail.
   */
  get refusing(): boolean {
    const circuit = this.circuit;
    return circuit === 'half-open' || (circuit === 'open' && Date.now() < this.probeAt);
  }

  /**
   * Refuses at once while the circuit is open, without counting the call either way: for steps that may
   * make no provider call at all (preparing a change), whose success says nothing about the provider.
   */
  async passIfClosed<T>(operation: () => Promise<T>): Promise<T> {
    if (this.circuit === 'open' && Date.now() < this.probeAt) throw this.openError();
    return operation();
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await this.bulkhead.execute(() => this.breaker.execute(operation));
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw this.openError();
      if (error instanceof BulkheadRejectedError) {
        throw new GatewayError(
          'PROVIDER_UNAVAILABLE',
          `${this.providerId} already has the most calls in flight the gateway allows; try again shortly`,
          { noRetry: true },
        );
      }
      throw error;
    }
  }

  private openError(): GatewayError {
    return new GatewayError(
      'PROVIDER_UNAVAILABLE',
      `${this.providerId} circuit is open after repeated failures; calls are refused until a probe succeeds`,
      { noRetry: true, extensions: { circuit: this.circuit } },
    );
  }
}

function circuitName(state: CircuitState): CircuitName {
  switch (state) {
    case CircuitState.Closed:
      return 'closed';
    case CircuitState.HalfOpen:
      return 'half-open';
    case CircuitState.Open:
    case CircuitState.Isolated:
      return 'open';
  }
}
