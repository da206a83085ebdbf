import {
  CANONICAL_REASONS,
  CANONICAL_STATUSES,
  type CanonicalReason,
  type CanonicalStatus,
} from '../../domain/index.js';
import { expectRefusalNaming } from '../transformers.spec-support.js';
import { CANOPY_CHANGES } from './canopy.spec-support.js';
import {
  appliedCanopyStatus,
  canopyReading,
  canopyStatusBody,
  canopyStatusOf,
  translateCanopy,
} from './canopy.transformers.js';

/** CONTRACT.md section 5, Canopy column. */
const SUPPORTED = CANOPY_CHANGES;

const ACTIVE_REFUSED: CanonicalReason[] = CANONICAL_REASONS.filter((r) => r !== 'HARDSHIP');

const UNSUPPORTED: Array<[CanonicalStatus, CanonicalReason | undefined]> = [
  ['DISPUTED', undefined],
  ...CANONICAL_REASONS.map((r): [CanonicalStatus, CanonicalReason] => ['DISPUTED', r]),
  ['DO_NOT_CONTACT', undefined],
  ...CANONICAL_REASONS.map((r): [CanonicalStatus, CanonicalReason] => ['DO_NOT_CONTACT', r]),
  ['SUSPENDED', 'COMPLIANCE'],
  ['CLOSED', 'COMPLIANCE'],
  // Decision: DELINQUENT takes no reason (its substatus slot holds DELINQUENT).
  ...CANONICAL_REASONS.map((r): [CanonicalStatus, CanonicalReason] => ['DELINQUENT', r]),
  ...ACTIVE_REFUSED.map((r): [CanonicalStatus, CanonicalReason] => ['ACTIVE', r]),
];

describe(translateCanopy.name, () => {
  it.each(SUPPORTED)('should send %s (reason %s) as %s / %s', (status, reason, account, sub) => {
    expect(translateCanopy(status, reason)).toEqual({
      supported: true,
      providerStatus: { status: account, substatus: sub },
    });
  });

  it.each(UNSUPPORTED)(
    'should refuse %s with reason %s, naming provider, status and reason',
    (status, reason) => {
      expectRefusalNaming(translateCanopy(status, reason), 'canopy', status, reason);
    },
  );

  it('should cover every canonical status and reason pair exactly once in the tables above', () => {
    const pairs = [...SUPPORTED, ...UNSUPPORTED].map(([status, reason]) => `${status}/${reason ?? '-'}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs).toHaveLength(CANONICAL_STATUSES.length * (CANONICAL_REASONS.length + 1));
  });
});

describe(canopyStatusBody.name, () => {
  it('should omit account_substatus when there is none', () => {
    expect(canopyStatusBody({ status: 'ACTIVE', substatus: null })).toStrictEqual({
      account_status: 'ACTIVE',
    });
  });

  it('should carry the substatus when there is one', () => {
    expect(canopyStatusBody({ status: 'SUSPENDED', substatus: 'DELINQUENT' })).toStrictEqual({
      account_status: 'SUSPENDED',
      account_substatus: 'DELINQUENT',
    });
  });
});

const account = (status: unknown, subtype: unknown) => ({
  account_id: 'can_1',
  account_overview: { account_status: status, account_status_subtype: subtype, is_active_scra: 'false' },
  customers: [{ ssn: '900-00-0000', email: 'x@example.invalid' }],
});

describe(canopyStatusOf.name, () => {
  it('should keep only the status and substatus of an account', () => {
    expect(canopyStatusOf(account('SUSPENDED', 'FRAUD'))).toStrictEqual({
      status: 'SUSPENDED',
      substatus: 'FRAUD',
    });
  });

  it('should read an empty or missing subtype as no substatus', () => {
    expect(canopyStatusOf(account('ACTIVE', ''))).toStrictEqual({ status: 'ACTIVE', substatus: null });
    expect(canopyStatusOf({ account_overview: { account_status: 'ACTIVE' } })).toStrictEqual({
      status: 'ACTIVE',
      substatus: null,
    });
  });

  it('should return undefined for a body without a readable account_status', () => {
    expect(canopyStatusOf(undefined)).toBeUndefined();
    expect(canopyStatusOf({ account_id: 'x' })).toBeUndefined();
    expect(canopyStatusOf(account(7, null))).toBeUndefined();
  });
});

describe(appliedCanopyStatus.name, () => {
  it('should prefer the applied values from account_overview', () => {
    expect(
      appliedCanopyStatus(account('CLOSED', 'CHARGE_OFF'), { status: 'CLOSED', substatus: null }),
    ).toStrictEqual({
      status: 'CLOSED',
      substatus: 'CHARGE_OFF',
    });
  });

  it('should fall back to what was sent when the body has no account_overview', () => {
    expect(appliedCanopyStatus({}, { status: 'ACTIVE', substatus: null })).toStrictEqual({
      status: 'ACTIVE',
      substatus: null,
    });
  });
});

type Reading = [string, string | null, CanonicalStatus | null, CanonicalReason | null];

/** A substatus named as a canonical reason reads as that reason, under its own status. */
const readsAsItsName = (status: CanonicalStatus, substatuses: CanonicalReason[]) =>
  substatuses.map((sub): Reading => [status, sub, status, sub]);

/** [account_status, substatus, canonical status, canonical reason] */
const READINGS: Reading[] = [
  ['ACTIVE', null, 'ACTIVE', null],
  ['ACTIVE', 'HARDSHIP/EXEMPTIONS', 'ACTIVE', 'HARDSHIP'],
  ['SUSPENDED', null, 'SUSPENDED', null],
  ['SUSPENDED', 'DELINQUENT', 'DELINQUENT', null],
  ...readsAsItsName('SUSPENDED', ['FRAUD', 'BANKRUPTCY', 'RISK_REVIEW', 'INACTIVITY', 'DECEASED']),
  ['SUSPENDED', 'RISK', 'SUSPENDED', null],
  ['SUSPENDED', 'INELIGIBLE', 'SUSPENDED', null],
  ['CLOSED', null, 'CLOSED', null],
  ['CLOSED', 'CHARGE_OFF', 'CLOSED', 'CHARGED_OFF'],
  ...readsAsItsName('CLOSED', [
    'PAID_OFF',
    'SETTLEMENT',
    'CUSTOMER_REQUEST',
    'GRANTOR_REQUEST',
    'ADMINISTRATIVE',
  ]),
  ['CLOSED', 'HARDSHIP/EXEMPTIONS', 'CLOSED', 'HARDSHIP'],
  ['CLOSED', 'DELINQUENT', 'CLOSED', null],
  ['CLOSED', 'CUSTOMER_REQUEST_PENDING_PAYOFF', 'CLOSED', null],
  ['CLOSED', 'GRANTOR_REQUEST_PENDING_PAYOFF', 'CLOSED', null],
  ['CLOSED', 'SOMETHING_NEW', 'CLOSED', null],
  ['CHARGED_OFF', null, null, null],
  ['PENDING', 'FRAUD', null, null],
];

describe(canopyReading.name, () => {
  it.each(READINGS)('should read %s / %s as %s reason %s', (status, substatus, canonical, reason) => {
    expect(canopyReading({ status, substatus })).toStrictEqual({
      status: canonical,
      reason,
      providerStatus: { status, substatus },
    });
  });
});
