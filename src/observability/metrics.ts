import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const SAFE_LABEL = /^[A-Za-z0-9_.:-]{1,64}$/;
export const UNMAPPED_CODE_CAP = 50;

/** Prometheus metrics of one gateway process (its own registry, so tests can run several gateways). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'statusgate_http_requests_total',
    help: 'HTTP requests answered, by route, method, HTTP status and canonical error code ("" on success)',
    labelNames: ['route', 'method', 'status_code', 'code'] as const,
    registers: [this.registry],
  });

  readonly changes = new Counter({
    name: 'statusgate_status_changes_total',
    help: 'Status change attempts, by provider, canonical status and outcome (APPLIED, ACCEPTED, FAILED, REPLAYED)',
    labelNames: ['provider', 'status', 'outcome', 'code'] as const,
    registers: [this.registry],
  });

  readonly providerLatency = new Histogram({
    name: 'statusgate_provider_call_duration_seconds',
    help: 'Time spent in the provider for one change (all attempts and waits), by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'statusgate_provider_retries_total',
    help: 'Provider calls repeated after a retryable failure, by provider, operation and canonical code',
    labelNames: ['provider', 'operation', 'code'] as const,
    registers: [this.registry],
  });

  readonly circuit = new Gauge({
    name: 'statusgate_provider_circuit_state',
    help: 'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly tokenRefreshes = new Counter({
    name: 'statusgate_provider_token_refreshes_total',
    help:
      'Provider tokens minted, by provider, reason (initial, expiring, rejected: the provider refused the ' +
      'cached one) and result (ok, failed)',
    labelNames: ['provider', 'reason', 'result'] as const,
    registers: [this.registry],
  });

  readonly unmappedErrors = new Counter({
    name: 'statusgate_provider_unmapped_errors_total',
    help:
      'Provider errors no rule recognised (answered as the catch-all PROVIDER_REJECTED), by provider, the ' +
      "provider's HTTP status and its own code",
    labelNames: ['provider', 'http_status', 'provider_code'] as const,
    registers: [this.registry],
  });

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
}
