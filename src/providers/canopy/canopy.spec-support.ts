/**
 * The Canopy column of CONTRACT.md section 5, for its unit and end-to-end specs alike. Not part of the build
 * (`*.spec-*.ts`).
 */
import type { CanonicalReason, CanonicalStatus } from '../../domain/index.js';

/** The substatus each reason is sent as, the same under SUSPENDED and under CLOSED (all but two keep its name). */
export const CANOPY_SUBSTATUS_OF: ReadonlyArray<[CanonicalReason, string]> = [
  ['FRAUD', 'FRAUD'],
  ['RISK_REVIEW', 'RISK_REVIEW'],
  ['BANKRUPTCY', 'BANKRUPTCY'],
  ['DECEASED', 'DECEASED'],
  ['HARDSHIP', 'HARDSHIP/EXEMPTIONS'],
  ['INACTIVITY', 'INACTIVITY'],
  ['CUSTOMER_REQUEST', 'CUSTOMER_REQUEST'],
  ['GRANTOR_REQUEST', 'GRANTOR_REQUEST'],
  ['ADMINISTRATIVE', 'ADMINISTRATIVE'],
  ['CHARGED_OFF', 'CHARGE_OFF'],
  ['PAID_OFF', 'PAID_OFF'],
  ['SETTLEMENT', 'SETTLEMENT'],
];

/** Every supported change: [status, reason, account_status, account_substatus]. */
export type CanopyChange = [CanonicalStatus, CanonicalReason | undefined, string, string | null];

export const CANOPY_CHANGES: readonly CanopyChange[] = [
  ['ACTIVE', undefined, 'ACTIVE', null],
  ['ACTIVE', 'HARDSHIP', 'ACTIVE', 'HARDSHIP/EXEMPTIONS'],
  ['SUSPENDED', undefined, 'SUSPENDED', null],
  ...CANOPY_SUBSTATUS_OF.map(([reason, sub]): CanopyChange => ['SUSPENDED', reason, 'SUSPENDED', sub]),
  ['DELINQUENT', undefined, 'SUSPENDED', 'DELINQUENT'],
  ['CLOSED', undefined, 'CLOSED', null],
  ...CANOPY_SUBSTATUS_OF.map(([reason, sub]): CanopyChange => ['CLOSED', reason, 'CLOSED', sub]),
];
