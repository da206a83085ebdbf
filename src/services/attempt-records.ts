import { ERROR_CATALOG, GatewayError } from '../domain/index.js';
import { changeEvent, type ChangeFacts } from '../events/cloud-events.js';
import type { AttemptCompletion } from '../persistence/audit.repository.js';
import type { ChangeWrite } from '../persistence/change-writes.js';
import { LostClaim } from './idempotency.service.js';

/** How a change attempt ended, for its audit record, when it failed. */
export function failure(error: unknown, latencyMs: number): AttemptCompletion {
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

/**
 * The event of an attempt that ended (CONTRACT §7), as a write to commit right after the attempt's own
 * write: same transaction, and on PostgreSQL the same statement (see change-writes.ts).
 */
export function endEvent(change: ChangeFacts, completion: AttemptCompletion): ChangeWrite {
  return {
    kind: 'insertEvent',
    event: changeEvent(change, {
      outcome: completion.outcome,
      providerStatus: completion.providerStatus,
      errorCode: completion.errorCode,
      completedAt: completion.completedAt,
    }),
  };
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * A failed write of the audit trail or the key (database down, disk full): answered INTERNAL (500,
 * retryable) saying what happened to the change. A lost key claim is not a failure and passes through.
 */
export function storeFailed(what: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof LostClaim) throw error;
    throw new GatewayError('INTERNAL', `The gateway's database failed: ${what}`, { cause: error });
  };
}
