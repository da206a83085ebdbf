import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const SAFE_LABEL = /^[A-Za-z0-9_.:-]{1,64}$/;
export const UNMAPPED_CODE_CAP = 50;

/** Prometheus metrics of one gateway process (its own registry, so tests can run several gateways). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = this.counter(
    'statusgate_http_requests_total',
    'HTTP requests answered, by route, method, HTTP status and canonical error code ("" on success)',
    ['route', 'method', 'status_code', 'code'],
  );

  readonly changes = this.counter(
    'statusgate_status_changes_total',
    'Status change attempts, by provider, canonical status and outcome (APPLIED, ACCEPTED, FAILED, REPLAYED)',
    ['provider', 'status', 'outcome', 'code'],
  );

  readonly providerLatency = this.histogram(
    'statusgate_provider_call_duration_seconds',
    'Time spent in the provider for one change (all attempts and waits), by provider and outcome',
    ['provider', 'outcome'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );

  readonly retries = this.counter(
    'statusgate_provider_retries_total',
    'Provider calls repeated after a retryable failure, by provider, operation and canonical code',
    ['provider', 'operation', 'code'],
  );

  readonly circuit = this.gauge(
    'statusgate_provider_circuit_state',
    'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open',
    ['provider'],
  );

  readonly tokenRefreshes = this.counter(
    'statusgate_provider_token_refreshes_total',
    'Provider tokens minted, by provider, reason (initial, expiring, rejected: the provider refused the ' +
      'cached one) and result (ok, failed)',
    ['provider', 'reason', 'result'],
  );

  readonly unmappedErrors = this.counter(
    'statusgate_provider_unmapped_errors_total',
    'Provider errors no rule recognised (answered as the catch-all PROVIDER_REJECTED), by provider, the ' +
      "provider's HTTP status and its own code",
    ['provider', 'http_status', 'provider_code'],
  );

  /** Distinct provider codes seen per provider; past the cap they are counted as "other". */
  private readonly unmappedCodes = new Map<string, Set<string>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Counts an unrecognised provider error. The provider's code is a label, so it is limited to a safe
   * token and to UNMAPPED_CODE_CAP distinct values per provider: a provider cannot blow up the series.
   */
  countUnmapped(provider: string, httpStatus: number | undefined, providerCode: string | undefined): void {
    let code = providerCode && SAFE_LABEL.test(providerCode) ? providerCode : 'other';
    const seen = this.unmappedCodes.get(provider) ?? new Set<string>();
    this.unmappedCodes.set(provider, seen);
    if (!seen.has(code)) {
      if (seen.size >= UNMAPPED_CODE_CAP) code = 'other';
      else seen.add(code);
    }
    this.unmappedErrors.inc({ provider, http_status: String(httpStatus ?? ''), provider_code: code });
  }

  setCircuit(provider: string, state: 'closed' | 'half-open' | 'open'): void {
    this.circuit.set({ provider }, state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
  }

  // Every metric lives in this process's registry.
  private counter<const L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<const L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<const L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
