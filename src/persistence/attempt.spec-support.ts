/** The change attempt the persistence specs (here and in test/) start from. */
import { uuidv7 } from '../common/ids.js';
import type { NewAttempt } from './audit.repository.js';

/** A Spidr SUSPENDED change of acc-1 by caller `svc`, made now, with no provider request; `overrides` win. */
export function newAttempt(overrides: Partial<NewAttempt> = {}): NewAttempt {
  return {
    changeId: uuidv7(),
    provider: 'spidr',
    accountId: 'acc-1',
    customerId: null,
    callerId: 'svc',
    requestId: 'req-1',
    status: 'SUSPENDED',
    reason: null,
    note: null,
    idempotencyKey: null,
    providerRequest: null,
    instanceId: 'i-1',
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}
