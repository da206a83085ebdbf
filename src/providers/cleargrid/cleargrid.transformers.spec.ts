import { CANONICAL_REASONS, type CanonicalReason, type CanonicalStatus } from '../../domain/index.js';
import { expectOnlyClosedTerminal, expectRefusalNaming } from '../transformers.spec-support.js';
import {
  buildClearGridChangeBody,
  buildClearGridWithdrawItem,
  classifyClearGridAcceptance,
  clearGridChangeFor,
  isClearGridTerminal,
  parseClearGridError,
  readClearGridLogin,
  readClearGridRefresh,
  translateClearGrid,
  validateClearGridRequest,
} from './cleargrid.transformers.js';

const REASONS: Array<CanonicalReason | undefined> = [undefined, ...CANONICAL_REASONS];

// CONTRACT.md section 5, ClearGrid column, written out.
const SUPPORTED: Array<[CanonicalStatus, number, string]> = [
  ['DISPUTED', 5, 'update-status'],
  ['DO_NOT_CONTACT', 6, 'update-status'],
  ['CLOSED', 3, 'withdraw'],
];
const UNSUPPORTED: CanonicalStatus[] = ['ACTIVE', 'SUSPENDED', 'DELINQUENT'];

describe(translateClearGrid.name, () => {
  it.each(SUPPORTED)(
    'should map %s to ClearGrid status %d for every reason (reasons are not sent)',
    (status, value) => {
      for (const reason of REASONS) {
        expect(translateClearGrid(status, reason)).toEqual({ supported: true, providerStatus: value });
      }
    },
  );

  it.each(UNSUPPORTED)(
    'should refuse %s for every reason, naming cleargrid, the status and the reason',
    (status) => {
      for (const reason of REASONS) {
        expectRefusalNaming(translateClearGrid(status, reason), 'cleargrid', status, reason);
      }
    },
  );
});

describe(clearGridChangeFor.name, () => {
  it.each(SUPPORTED)('should send %s (status %d) to the %s endpoint', (status, value, operation) => {
    expect(clearGridChangeFor(status)).toMatchObject({ operation, providerStatus: value });
  });

  it.each(UNSUPPORTED)('should have no change for %s', (status) => {
    expect(clearGridChangeFor(status)).toBeUndefined();
  });
});

describe(isClearGridTerminal.name, () => {
  it('should treat only CLOSED (withdraw) as terminal', () => {
    expectOnlyClosedTerminal(isClearGridTerminal);
  });
});

describe(buildClearGridChangeBody.name, () => {
  it('should build the documented update-status item for DISPUTED', () => {
    expect(buildClearGridChangeBody(clearGridChangeFor('DISPUTED')!, 'ORD-1', 'customer_001')).toEqual({
      accounts: [{ status: 5, debtorCompanyId: 'customer_001', accountId: 'ORD-1' }],
    });
  });

  it('should build the documented update-status item for DO_NOT_CONTACT', () => {
    expect(buildClearGridChangeBody(clearGridChangeFor('DO_NOT_CONTACT')!, 'ORD-2', 'customer_002')).toEqual({
      accounts: [{ status: 6, debtorCompanyId: 'customer_002', accountId: 'ORD-2' }],
    });
  });

  it('should build the (guessed) withdraw item for CLOSED', () => {
    expect(buildClearGridChangeBody(clearGridChangeFor('CLOSED')!, 'ORD-3', 'customer_003')).toEqual({
      accounts: [{ status: 3, accountId: 'ORD-3', debtorCompanyId: 'customer_003' }],
    });
    expect(buildClearGridWithdrawItem('ORD-3', 'customer_003')).toEqual({
      status: 3,
      accountId: 'ORD-3',
      debtorCompanyId: 'customer_003',
    });
  });
});

describe(validateClearGridRequest.name, () => {
  it('should accept a change with a customerId and no providerOptions', () => {
    expect(validateClearGridRequest({ accountId: 'A', status: 'DISPUTED', customerId: 'C' })).toEqual([]);
    expect(
      validateClearGridRequest({ accountId: 'A', status: 'DISPUTED', customerId: 'C', providerOptions: {} }),
    ).toEqual([]);
  });

  it('should require customerId', () => {
    for (const customerId of [undefined, '', '  ']) {
      const errors = validateClearGridRequest({ accountId: 'A', status: 'CLOSED', customerId });
      expect(errors.map((e) => e.field)).toEqual(['customerId']);
    }
  });

  it('should reject every providerOptions key by name', () => {
    const errors = validateClearGridRequest({
      accountId: 'A',
      status: 'DISPUTED',
      customerId: 'C',
      providerOptions: { updateChildren: true, foo: 1 },
    });
    expect(errors.map((e) => e.field)).toEqual(['providerOptions.updateChildren', 'providerOptions.foo']);
  });
});

describe(parseClearGridError.name, () => {
  const perAccount = (...messages: string[]) => ({
    code: 400,
    message: null,
    body: '',
    errors: [{ accountId: 'ORD-2025-001', errors: messages }],
  });

  it('should keep the documented per-account validation message as PROVIDER_REJECTED with no code', () => {
    expect(parseClearGridError(400, perAccount('Invalid status value. Accepted values: 5, 6'))).toEqual({
      code: 'NO_CODE',
      message: 'Invalid status value. Accepted values: 5, 6',
      canonical: 'PROVIDER_REJECTED',
    });
  });

  it('should map a not-found per-account message to ACCOUNT_NOT_FOUND', () => {
    expect(parseClearGridError(400, perAccount('Account not found'))).toEqual({
      code: 'NO_CODE',
      message: 'Account not found',
      canonical: 'ACCOUNT_NOT_FOUND',
    });
    expect(parseClearGridError(400, perAccount('Account does not exist')).canonical).toBe(
      'ACCOUNT_NOT_FOUND',
    );
  });

  it('should map a withdrawn/closed per-account message to ACCOUNT_CLOSED', () => {
    expect(parseClearGridError(400, perAccount('Account has been withdrawn'))).toEqual({
      code: 'NO_CODE',
      message: 'Account has been withdrawn',
      canonical: 'ACCOUNT_CLOSED',
    });
    expect(parseClearGridError(400, perAccount('Account is closed')).canonical).toBe('ACCOUNT_CLOSED');
  });

  it('should join several per-account messages', () => {
    expect(
      parseClearGridError(400, perAccount('debtorCompanyId is required', 'accountId is required')).message,
    ).toBe('debtorCompanyId is required; accountId is required');
  });

  it('should keep the documented 401 body and leave the canonical code to the HTTP status', () => {
    expect(parseClearGridError(401, { error: 'Unauthorized' })).toEqual({
      code: 'NO_CODE',
      message: 'Unauthorized',
    });
  });

  it('should keep the documented 500 body and leave the canonical code to the HTTP status', () => {
    expect(parseClearGridError(500, { error: 'Something went wrong. Please try again later.' })).toEqual({
      code: 'NO_CODE',
      message: 'Something went wrong. Please try again later.',
    });
  });

  it('should not let a per-account message decide a 401/403/429/5xx', () => {
    for (const status of [401, 403, 429, 500]) {
      expect(parseClearGridError(status, perAccount('Account not found')).canonical).toBeUndefined();
    }
  });

  it('should return an empty message for a body it cannot read (the raw body is used instead)', () => {
    expect(parseClearGridError(502, undefined)).toEqual({ code: 'NO_CODE', message: '' });
    expect(parseClearGridError(400, 'oops')).toEqual({ code: 'NO_CODE', message: '' });
  });
});

describe(classifyClearGridAcceptance.name, () => {
  it('should accept the documented 200 envelope', () => {
    const body = { code: 200, message: 'success', body: 'Processing started successfully', errors: [] };
    expect(classifyClearGridAcceptance(body)).toBe('accepted');
  });

  it('should treat a 200 envelope with per-account errors as a rejection', () => {
    const body = {
      code: 200,
      message: 'success',
      body: '',
      errors: [{ accountId: 'A', errors: ['Account not found'] }],
    };
    expect(classifyClearGridAcceptance(body)).toBe('rejected');
    expect(classifyClearGridAcceptance({ code: 400, message: null, body: '', errors: [] })).toBe('rejected');
  });

  it('should call anything else malformed', () => {
    for (const body of [undefined, 'ok', {}, { code: 200, errors: 'none' }, []]) {
      expect(classifyClearGridAcceptance(body)).toBe('malformed');
    }
  });
});

describe(readClearGridLogin.name, () => {
  it('should read the documented login answer and refuse incomplete ones', () => {
    const login = { lenderPublicId: 'u-1', token: 't', refreshToken: 'r' };
    expect(readClearGridLogin(login)).toEqual(login);
    expect(readClearGridLogin({ token: 't', refreshToken: 'r' })).toBeUndefined();
    expect(readClearGridRefresh({ token: 't2' })).toEqual({ token: 't2' });
    expect(readClearGridRefresh({})).toBeUndefined();
  });
});
