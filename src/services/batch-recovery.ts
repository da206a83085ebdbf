import { problemOf } from '../common/problem.filter.js';
import { GatewayError } from '../domain/index.js';
import {
  BatchClaimsRepository,
  type ItemCompletion,
  type OrphanItem,
  type OrphanScope,
} from '../persistence/batches-claims.repository.js';
import type { BatchItemTable } from '../persistence/batches.repository.js';

/**
 * Settles items left RUNNING without an end: claimed by a process that died, or by this one when the
 * database failed under them. Their change record tells: never recorded → never sent → pending again;
 * recorded but not completed → UNFINISHED (it may have reached the provider; it is never sent again);
 * completed → the change's outcome.
 */
export class BatchRecovery {
  constructor(
    private readonly claims: BatchClaimsRepository,
    private readonly instanceId: string,
  ) {}

  /** Returns how many items were settled. */
  async recover(scope: OrphanScope): Promise<number> {
    const orphans = await this.claims.orphans(this.instanceId, scope);
    const ends = [];
    for (const orphan of orphans) {
      if (orphan.attempt === null) await this.claims.release(orphan.item);
      else
        ends.push({
          batchId: orphan.item.batch_id,
          index: orphan.item.item_index,
          completion: recovered(orphan),
        });
    }
    await this.claims.complete(ends);
    return orphans.length;
  }
}

export function instanceOf(item: BatchItemTable): string {
  return `/v1/accounts/${item.provider}/${item.account_id}/status`;
}

/** An orphan's end, from its change record. */
function recovered({ item, attempt }: OrphanItem): ItemCompletion {
  const a = attempt!;
  const completedAt = a.completed_at ?? new Date().toISOString();
  if (a.outcome === 'APPLIED' || a.outcome === 'ACCEPTED') {
    return {
      outcome: a.outcome,
      providerStatus: a.provider_status === null ? undefined : JSON.parse(a.provider_status),
      completedAt,
    };
  }
  if (a.outcome === 'FAILED') {
    const code = (a.error_code ?? 'INTERNAL') as GatewayError['code'];
    const error = new GatewayError(code, `${item.provider} change of ${item.account_id} failed`, {
      provider:
        a.provider_code === null
          ? undefined
          : {
              id: item.provider as never,
              httpStatus: a.provider_http_status ?? undefined,
              code: a.provider_code,
              message: a.provider_message ?? '',
            },
    });
    return { outcome: 'FAILED', error: problemOf(error, instanceOf(item), item.batch_id), completedAt };
  }
  return {
    outcome: 'UNFINISHED',
    error: unfinishedProblem(item),
    completedAt,
  };
}

/**
 * UNFINISHED is not an error code of CONTRACT §4: the gateway does not know whether the provider made the
 * change. The item's error says so in the same problem+json shape (not retryable: repeating it blindly
 * could apply a change twice; read the account first).
 */
function unfinishedProblem(item: BatchItemTable): Record<string, unknown> {
  return {
    type: 'urn:problem:UNFINISHED',
    title: 'Outcome unknown',
    status: 500,
    detail: `The gateway process stopped, or its database failed, while the ${item.provider} call for ${item.account_id} may have been in flight; it is not sent again`,
    instance: instanceOf(item),
    code: 'UNFINISHED',
    retryable: false,
    requestId: item.batch_id,
  };
}
