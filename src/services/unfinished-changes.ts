import { Inject, Injectable } from '@nestjs/common';
import { changeHttpStatus } from '../domain/index.js';
import { callContextOf, type RequestContext } from '../observability/request-context.js';
import { factsOfRow } from '../persistence/audit.repository.js';
import { Store } from '../persistence/store.js';
import type { ProviderAdapter, TranslatedChange } from '../providers/provider-adapter.js';
import { endEvent, storeFailed } from './attempt-records.js';
import type { ChangeOutcome, ChangeStatusResponse } from './change-status.service.js';
import type { KeyHold } from './idempotency.service.js';

/** Settles what a process that died mid-change left under an idempotency key. */
@Injectable()
export class UnfinishedChanges {
  constructor(@Inject(Store) private readonly store: Store) {}

  /**
   * A key taken over from a process that died mid-change: its attempt (UNFINISHED) may have reached the
   * provider. Where the provider has a live read and the account already shows the requested status, that
   * attempt is the change: it is completed as APPLIED, and that is the key's answer — nothing is sent again.
   * Otherwise (no live read, another status) the change is sent as usual.
   */
  async resolve(
    adapter: ProviderAdapter,
    change: TranslatedChange,
    ctx: RequestContext,
    hold: KeyHold,
  ): Promise<ChangeOutcome | undefined> {
    if (!hold.takenOver || !adapter.liveRead || hold.key === undefined) return undefined;
    const { request } = change;
    const cut = await this.store.audit.unfinishedUnderKey(
      adapter.id,
      request.accountId,
      ctx.callerId,
      hold.key,
    );
    if (!cut) return undefined;
    const reading = await adapter.readStatus(request.accountId, callContextOf(ctx));
    if (reading.status !== request.status) return undefined;
    const completedAt = new Date().toISOString();
    const response: ChangeStatusResponse = {
      changeId: cut.change_id,
      provider: adapter.id,
      accountId: request.accountId,
      status: request.status,
      reason: request.reason ?? null,
      outcome: 'APPLIED',
      // The provider's value for the requested status, as a fresh change would have answered it.
      providerStatus: change.providerStatus,
      requestId: ctx.requestId,
      completedAt,
    };
    const completion = { outcome: 'APPLIED' as const, providerStatus: reading.providerStatus, completedAt };
    Object.assign(ctx.log, { outcome: 'APPLIED', resolvedUnfinished: cut.change_id });
    await hold
      .settle(
        [
          { kind: 'completeAttempt', changeId: cut.change_id, completion },
          endEvent(factsOfRow(cut), completion),
        ],
        {
          status: changeHttpStatus(response),
          body: response,
          changeId: cut.change_id,
        },
      )
      .catch(storeFailed('the provider shows the change applied but the gateway could not record it'));
    return { kind: 'changed', response };
  }
}
