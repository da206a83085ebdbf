import {
  CANONICAL_REASONS,
  NO_PROVIDER_CODE,
  type CanonicalReason,
  type CanonicalStatus,
} from '../../domain/index.js';
import {
  buildSpidrEditAccountBody,
  isSpidrTerminal,
  parseSpidrError,
  readingFromSpidrAccount,
  translateSpidr,
  validateSpidrOptions,
} from './spidr.transformers.js';
import { spidrAccountPath } from './spidr.wire.js';

/** CONTRACT.md section 5, Spidr column, written out. */
const CLOSED_BY_REASON: Record<CanonicalReason, string> = {
  FRAUD: 'close_without_refund',
  COMPLIANCE: 'close_without_refund',
  CHARGED_OFF: 'close_charged_off',
  PAID_OFF: 'close_paid_off',
  RISK_REVIEW: 'close_with_refund',
  BANKRUPTCY: 'close_with_refund',
  DECEASED: 'close_with_refund',
  HARDSHIP: 'close_with_refund',
  INACTIVITY: 'close_with_refund',
  CUSTOMER_REQUEST: 'close_with_refund',
  GRANTOR_REQUEST: 'close_with_refund',
  ADMINISTRATIVE: 'close_with_refund',
  SETTLEMENT: 'close_with_refund',
};

describe(translateSpidr.name, () => {
  it.each([
    ['ACTIVE', 'active'],
    ['SUSPENDED', 'suspended'],
    ['DELINQUENT', 'delinquent'],
    ['CLOSED', 'close_with_refund'],
  ] as const)('should translate %s without a reason to %s', (status, expected) => {
    expect(translateSpidr(status, undefined)).toEqual({ supported: true, providerStatus: expected });
  });

  it.each(Object.entries(CLOSED_BY_REASON))(
    'should translate CLOSED with reason %s to %s',
    (reason, expected) => {
      expect(translateSpidr('CLOSED', reason as CanonicalReason)).toEqual({
        supported: true,
        providerStatus: expected,
      });
    },
  );

  it.each([
    ['ACTIVE', 'active'],
    ['SUSPENDED', 'suspended'],
    ['DELINQUENT', 'delinquent'],
  ] as const)('should keep %s as %s whatever the reason', (status, expected) => {
    for (const reason of CANONICAL_REASONS) {
      expect(translateSpidr(status, reason)).toEqual({ supported: true, providerStatus: expected });
    }
  });

  it.each(['DISPUTED', 'DO_NOT_CONTACT'] as const)(
    'should refuse %s with a reason naming Spidr and the status',
    (status) => {
      const bare = translateSpidr(status, undefined);
      expect(bare.supported).toBe(false);
      expect(!bare.supported && bare.why).toMatch(new RegExp(`Spidr.*${status}`));
      const withReason = translateSpidr(status, 'FRAUD');
      expect(withReason.supported).toBe(false);
      expect(!withReason.supported && withReason.why).toMatch(new RegExp(`Spidr.*${status}.*FRAUD`));
    },
  );
});

describe(isSpidrTerminal.name, () => {
  it.each([
    ['CLOSED', true],
    ['ACTIVE', false],
    ['SUSPENDED', false],
    ['DELINQUENT', false],
    ['DISPUTED', false],
    ['DO_NOT_CONTACT', false],
  ] as const)('should say %s terminal = %s', (status: CanonicalStatus, expected) => {
    expect(isSpidrTerminal(status)).toBe(expected);
  });
});

describe(buildSpidrEditAccountBody.name, () => {
  it('should send only the status when there are no options', () => {
    expect(buildSpidrEditAccountBody('suspended', undefined)).toEqual({ status: 'suspended' });
  });

  it('should pass ztmSessionKey and bypassZtm through', () => {
    expect(buildSpidrEditAccountBody('close_paid_off', { ztmSessionKey: 'ztm_1', bypassZtm: false })).toEqual(
      {
        status: 'close_paid_off',
        ztmSessionKey: 'ztm_1',
        bypassZtm: false,
      },
    );
  });
});

describe(spidrAccountPath.name, () => {
  it('should percent-encode the account id', () => {
    expect(spidrAccountPath('a/b c?d')).toBe('/v1/account/a%2Fb%20c%3Fd');
  });
});

describe(validateSpidrOptions.name, () => {
  it('should accept no options and both documented options', () => {
    expect(validateSpidrOptions(undefined)).toEqual([]);
    expect(validateSpidrOptions({ ztmSessionKey: 'k'.repeat(256), bypassZtm: true })).toEqual([]);
  });

  it('should reject unknown keys by field name', () => {
    expect(validateSpidrOptions({ updateChildren: true })).toEqual([
      { field: 'providerOptions.updateChildren', message: expect.stringContaining('not a Spidr option') },
    ]);
  });

  it('should reject a bad ztmSessionKey and a non-boolean bypassZtm', () => {
    const fields = (options: unknown) => validateSpidrOptions(options).map((e) => e.field);
    expect(fields({ ztmSessionKey: '' })).toEqual(['providerOptions.ztmSessionKey']);
    expect(fields({ ztmSessionKey: 'k'.repeat(257) })).toEqual(['providerOptions.ztmSessionKey']);
    expect(fields({ ztmSessionKey: 12 })).toEqual(['providerOptions.ztmSessionKey']);
    expect(fields({ bypassZtm: 'true' })).toEqual(['providerOptions.bypassZtm']);
    expect(fields([])).toEqual(['providerOptions']);
  });
});

const spidrBody = (errorType: string, errorCode: string | null, message: string) => ({
  status: 'error',
  error: { errorType, errorCode, message, errorData: null },
});

describe(parseSpidrError.name, () => {
  it.each([
    [404, 'NOT_FOUND', null, 'Account not found', 'NOT_FOUND', 'ACCOUNT_NOT_FOUND'],
    [404, 'NOT_FOUND', 'ACCOUNT_NOT_FOUND', 'Account not found', 'ACCOUNT_NOT_FOUND', 'ACCOUNT_NOT_FOUND'],
    [400, 'ACCOUNT_ERROR', 'ACCOUNT_CLOSED', 'Account is closed', 'ACCOUNT_CLOSED', 'ACCOUNT_CLOSED'],
    [409, 'ACCOUNT_ERROR', 'ACCT_42', 'The account is closed', 'ACCT_42', 'ACCOUNT_CLOSED'],
    [400, 'ACCOUNT_ERROR', 'ACCT_9', 'Account is frozen', 'ACCT_9', 'PROVIDER_REJECTED'],
    [400, 'INVALID_REQUEST', 'BAD', 'Bad request', 'BAD', 'PROVIDER_REJECTED'],
    [400, 'INVALID_INPUT', null, 'status is invalid', 'INVALID_INPUT', 'PROVIDER_REJECTED'],
    [422, 'INPUT_ERROR', null, 'bad input', 'INPUT_ERROR', 'PROVIDER_REJECTED'],
    [400, 'USER_ERROR', 'USR_1', 'user locked', 'USR_1', 'PROVIDER_REJECTED'],
    [400, 'CARD_ERROR', null, 'card error', 'CARD_ERROR', 'PROVIDER_REJECTED'],
    [400, 'ZTM_ERROR', 'ZTM_SESSION_REQUIRED', 'ZTM needed', 'ZTM_SESSION_REQUIRED', 'PROVIDER_REJECTED'],
    [500, 'LOOKUP_ERROR', null, 'lookup failed', 'LOOKUP_ERROR', 'PROVIDER_ERROR'],
    [503, 'SOMETHING_NEW', null, 'down', 'SOMETHING_NEW', 'PROVIDER_ERROR'],
    [401, 'INVALID_REQUEST', 'UNAUTHORIZED', 'bad key', 'UNAUTHORIZED', 'PROVIDER_AUTH_FAILED'],
    [403, 'USER_ERROR', null, 'forbidden', 'USER_ERROR', 'PROVIDER_AUTH_FAILED'],
    [429, 'INVALID_REQUEST', 'TOO_MANY_REQUESTS', 'slow down', 'TOO_MANY_REQUESTS', 'RATE_LIMITED'],
  ] as const)(
    'should read HTTP %i %s/%s "%s" as code %s → %s',
    (httpStatus, errorType, errorCode, message, code, canonical) => {
      expect(parseSpidrError(httpStatus, spidrBody(errorType, errorCode, message))).toEqual({
        code,
        message,
        canonical,
      });
    },
  );

  it('should leave the canonical code to the HTTP status for an unknown errorType', () => {
    expect(parseSpidrError(400, spidrBody('BRAND_NEW', null, 'huh'))).toEqual({
      code: 'BRAND_NEW',
      message: 'huh',
      canonical: undefined,
    });
  });

  it('should give NO_PROVIDER_CODE to a body without Spidr codes', () => {
    expect(parseSpidrError(502, { message: 'Bad gateway' })).toEqual({
      code: NO_PROVIDER_CODE,
      message: 'Bad gateway',
      canonical: undefined,
    });
    expect(parseSpidrError(401, undefined)).toEqual({
      code: NO_PROVIDER_CODE,
      message: '',
      canonical: 'PROVIDER_AUTH_FAILED',
    });
    expect(parseSpidrError(400, { status: 'error', error: { message: 'no codes' } }).code).toBe(
      NO_PROVIDER_CODE,
    );
  });
});

describe(readingFromSpidrAccount.name, () => {
  it.each([
    ['active', null, 'ACTIVE', null],
    ['suspended', null, 'SUSPENDED', null],
    ['delinquent', null, 'DELINQUENT', null],
    ['closed', 'close_charged_off', 'CLOSED', 'CHARGED_OFF'],
    ['closed', 'close_paid_off', 'CLOSED', 'PAID_OFF'],
    ['closed', 'close_with_refund', 'CLOSED', null],
    ['closed', 'close_without_refund', 'CLOSED', null],
    ['closed', null, 'CLOSED', null],
    ['closed', 'something_else', 'CLOSED', null],
    ['close_paid_off', null, 'CLOSED', 'PAID_OFF'],
    ['ACTIVE', null, 'ACTIVE', null],
    ['frozen', null, null, null],
    ['constructor', null, null, null],
  ] as const)(
    'should read status %s / statusReason %s as %s / %s',
    (status, statusReason, expected, reason) => {
      expect(readingFromSpidrAccount({ id: 'a1', status, statusReason })).toEqual({
        status: expected,
        reason,
        providerStatus: { status, statusReason },
      });
    },
  );

  it('should copy nothing but status and statusReason out of the account', () => {
    const account = { id: 'a1', status: 'active', email: 'jane@example.com', statusReason: undefined };
    expect(readingFromSpidrAccount(account).providerStatus).toEqual({ status: 'active', statusReason: null });
  });
});
