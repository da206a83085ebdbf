import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  setCircuit(provider: string, state: 'closed' | 'half-open' | 'open'): void {
    this.circuit.set({ provider }, state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
  }
}
