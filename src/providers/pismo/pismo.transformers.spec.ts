import {
  CANONICAL_REASONS,
  NO_PROVIDER_CODE,
  type CanonicalReason,
  type CanonicalStatus,
} from '../../domain/index.js';
import type { ChangeRequest } from '../provider-adapter.js';
import { expectOnlyClosedTerminal, expectRefusalNaming } from '../transformers.spec-support.js';
import {
  buildPismoStatusBody,
  buildPismoTokenRequest,
  isPismoTerminal,
  parsePismoError,
  parsePismoToken,
  readPismoAccount,
  translatePismo,
  validatePismoRequest,
} from './pismo.transformers.js';

/** CONTRACT.md section 5, pismo column, written out (null = unsupported). */
const CONTRACT_PISMO: Record<CanonicalStatus, { corporate: string | null; accounts: string | null }> = {
  ACTIVE: { corporate: 'NORMAL', accounts: 'NORMAL' },
  SUSPENDED: { corporate: 'BLOCKED', accounts: 'BLOCKED' },
  DELINQUENT: { corporate: null, accounts: null },
  DISPUTED: { corporate: null, accounts: null },
  DO_NOT_CONTACT: { corporate: null, accounts: null },
  CLOSED: { corporate: null, accounts: 'CANCELLED' },
};
const rows = Object.entries(CONTRACT_PISMO) as Array<
  [CanonicalStatus, { corporate: string | null; accounts: string | null }]
>;
const reasons: Array<CanonicalReason | undefined> = [undefined, ...CANONICAL_REASONS];

const change = (overrides: Partial<ChangeRequest>): ChangeRequest => ({
  accountId: 'EXT-1',
  status: 'SUSPENDED',
  ...overrides,
});

describe(translatePismo.name, () => {
  for (const api of ['corporate', 'accounts'] as const) {
    for (const [status, expected] of rows) {
      const value = expected[api];
      if (value !== null) {
        it(`should map ${status} to ${value} on the ${api} API, whatever the reason`, () => {
          for (const reason of reasons) {
            expect(translatePismo(api, status, reason)).toEqual({ supported: true, providerStatus: value });
          }
        });
      } else {
        it(`should refuse ${status} on the ${api} API, naming provider, status and reason`, () => {
          expectRefusalNaming(translatePismo(api, status, 'FRAUD'), 'Pismo', status, 'FRAUD');
        });
      }
    }
  }

  it('should explain that corporate CLOSED is refused because final statuses are (WCAC0036)', () => {
    const result = translatePismo('corporate', 'CLOSED', undefined);
    expect(result).toEqual({ supported: false, why: expect.stringContaining('WCAC0036') });
  });
});

describe(isPismoTerminal.name, () => {
  it('should treat only CLOSED (CANCELLED) as terminal', () => {
    expectOnlyClosedTerminal(isPismoTerminal);
  });
});

describe(buildPismoStatusBody.name, () => {
  it('should send BLOCKED with the canonical reason as reason_external_id', () => {
    expect(buildPismoStatusBody('corporate', 'BLOCKED', change({ reason: 'FRAUD' }))).toEqual({
      status: 'BLOCKED',
      reason_external_id: 'FRAUD',
    });
  });

  it('should prefer providerOptions.reasonExternalId on BLOCKED', () => {
    const body = buildPismoStatusBody(
      'corporate',
      'BLOCKED',
      change({ reason: 'FRAUD', providerOptions: { reasonExternalId: 'CREDIT_ONLY' } }),
    );
    expect(body).toEqual({ status: 'BLOCKED', reason_external_id: 'CREDIT_ONLY' });
  });

  it('should omit reason_external_id on BLOCKED when there is neither', () => {
    expect(buildPismoStatusBody('corporate', 'BLOCKED', change({}))).toEqual({ status: 'BLOCKED' });
  });

  it('should send NORMAL without the canonical reason', () => {
    expect(
      buildPismoStatusBody('corporate', 'NORMAL', change({ status: 'ACTIVE', reason: 'HARDSHIP' })),
    ).toEqual({
      status: 'NORMAL',
    });
  });

  it('should send NORMAL with reason_external_id only when providerOptions gives one', () => {
    const body = buildPismoStatusBody(
      'corporate',
      'NORMAL',
      change({ status: 'ACTIVE', reason: 'HARDSHIP', providerOptions: { reasonExternalId: 'CREDIT_ONLY' } }),
    );
    expect(body).toEqual({ status: 'NORMAL', reason_external_id: 'CREDIT_ONLY' });
  });

  it('should pass updateChildren and metadata through on the corporate API', () => {
    const body = buildPismoStatusBody(
      'corporate',
      'BLOCKED',
      change({ providerOptions: { updateChildren: false, metadata: { ticket: 'T-9' } } }),
    );
    expect(body).toEqual({ status: 'BLOCKED', update_children: false, metadata: { ticket: 'T-9' } });
  });

  it('should use reason_id on the accounts API, from the option else the reason', () => {
    expect(
      buildPismoStatusBody('accounts', 'CANCELLED', change({ status: 'CLOSED', reason: 'FRAUD' })),
    ).toEqual({
      status: 'CANCELLED',
      reason_id: 'FRAUD',
    });
    expect(
      buildPismoStatusBody(
        'accounts',
        'BLOCKED',
        change({ reason: 'FRAUD', providerOptions: { reasonExternalId: 'X' } }),
      ),
    ).toEqual({ status: 'BLOCKED', reason_id: 'X' });
    expect(buildPismoStatusBody('accounts', 'NORMAL', change({ status: 'ACTIVE' }))).toEqual({
      status: 'NORMAL',
    });
  });
});

describe(validatePismoRequest.name, () => {
  it('should accept the three documented options with the right types', () => {
    const providerOptions = { updateChildren: true, reasonExternalId: 'R'.repeat(120), metadata: { a: 1 } };
    expect(validatePismoRequest('corporate', change({ providerOptions }))).toEqual([]);
    expect(validatePismoRequest('corporate', change({}))).toEqual([]);
  });

  it('should reject unknown keys and wrong types, naming providerOptions.<key>', () => {
    const errors = validatePismoRequest(
      'corporate',
      change({
        providerOptions: { updateChildren: 'yes', reasonExternalId: '', metadata: [1], colour: 'red' },
      }),
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'providerOptions.colour',
      'providerOptions.metadata',
      'providerOptions.reasonExternalId',
      'providerOptions.updateChildren',
    ]);
  });

  it('should reject a reasonExternalId longer than 120 characters', () => {
    const errors = validatePismoRequest(
      'corporate',
      change({ providerOptions: { reasonExternalId: 'R'.repeat(121) } }),
    );
    expect(errors).toEqual([
      { field: 'providerOptions.reasonExternalId', message: expect.stringContaining('120') },
    ]);
  });

  it('should reject corporate-only options on the accounts API but accept reasonExternalId', () => {
    const errors = validatePismoRequest(
      'accounts',
      change({ providerOptions: { updateChildren: true, metadata: {}, reasonExternalId: 'X' } }),
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'providerOptions.metadata',
      'providerOptions.updateChildren',
    ]);
  });

  it('should reject a corporate external account id longer than 60 characters', () => {
    expect(validatePismoRequest('corporate', change({ accountId: 'A'.repeat(61) }))).toEqual([
      { field: 'accountId', message: expect.any(String) },
    ]);
    expect(validatePismoRequest('accounts', change({ accountId: 'A'.repeat(61) }))).toEqual([]);
  });
});

describe(parsePismoError.name, () => {
  /** Pismo's documented refusals, [HTTP status, code, message], by the canonical code each must end in. */
  const documented: Record<string, Array<[number, string, string]>> = {
    ACCOUNT_NOT_FOUND: [[400, 'WCAC0012', 'Corporate account not found']],
    ACCOUNT_CLOSED: [[400, 'WCAC0035', 'Account is currently in the final status']],
    INVALID_TRANSITION: [
      [400, 'WCAC0034', "status is specified in account's dormancy config"],
      [422, 'WCAC0038', 'Account status update blocked: operation blocked for account.'],
    ],
    PROVIDER_REJECTED: [
      [400, 'WCAC0036', 'status cannot be final'],
      [400, 'WCAC0005', 'reason_external_id must be a maximum of 120 characters in length'],
      [400, 'WCAC0005', 'status or reason_external_id must be provided'],
      [400, 'WCAC0013', 'Invalid JSON payload received: Error unmarshalling request.'],
      [400, 'WCAC0020', 'Status not found'],
      [404, 'WCAC0020', 'Status not found'],
      [404, 'WCAC0021', 'Reason not found'],
    ],
    PROVIDER_ERROR: [[500, 'ECMN9999', 'Internal error']],
  };
  for (const [canonical, refusals] of Object.entries(documented)) {
    for (const [httpStatus, code, message] of refusals) {
      it(`should map HTTP ${httpStatus} ${code} to ${canonical}, keeping code and message`, () => {
        expect(parsePismoError(httpStatus, { code, message })).toEqual({ code, message, canonical });
      });
    }
  }

  it('should leave a body without a code to the HTTP status, with NO_PROVIDER_CODE', () => {
    expect(parsePismoError(429, { message: 'Too Many Requests' })).toEqual({
      code: NO_PROVIDER_CODE,
      message: 'Too Many Requests',
    });
    expect(parsePismoError(400, { message: 'Account not found' })).toEqual({
      code: NO_PROVIDER_CODE,
      message: 'Account not found',
    });
  });

  it('should read the accounts API codeless final-status and blocked refusals from their message', () => {
    expect(parsePismoError(400, { message: 'Account is in a final status' })).toEqual({
      code: NO_PROVIDER_CODE,
      message: 'Account is in a final status',
      canonical: 'ACCOUNT_CLOSED',
    });
    expect(
      parsePismoError(422, { message: 'Account status update blocked: operation blocked for account.' }),
    ).toEqual({
      code: NO_PROVIDER_CODE,
      message: 'Account status update blocked: operation blocked for account.',
      canonical: 'INVALID_TRANSITION',
    });
  });

  it('should keep unknown codes without deciding the canonical code', () => {
    expect(parsePismoError(401, { code: 'EPSP0401', message: 'Unauthorized' })).toEqual({
      code: 'EPSP0401',
      message: 'Unauthorized',
    });
  });

  it('should not throw on bodies that are not objects', () => {
    expect(parsePismoError(502, undefined)).toEqual({ code: NO_PROVIDER_CODE, message: '' });
    expect(parsePismoError(400, ['x'])).toEqual({ code: NO_PROVIDER_CODE, message: '' });
  });
});

describe(readPismoAccount.name, () => {
  it('should map NORMAL, BLOCKED and CANCELLED to ACTIVE, SUSPENDED and CLOSED', () => {
    expect(readPismoAccount({ status: 'NORMAL' })).toEqual({
      status: 'ACTIVE',
      reason: null,
      providerStatus: 'NORMAL',
    });
    expect(readPismoAccount({ status: 'BLOCKED' })).toEqual({
      status: 'SUSPENDED',
      reason: null,
      providerStatus: 'BLOCKED',
    });
    expect(readPismoAccount({ status: 'CANCELLED', reason_id: 'PAID_OFF' })).toEqual({
      status: 'CLOSED',
      reason: 'PAID_OFF',
      providerStatus: 'CANCELLED',
    });
  });

  it('should read a canonical reason_external_id as the reason, and ignore others', () => {
    expect(readPismoAccount({ status: 'BLOCKED', reason_external_id: 'FRAUD' })?.reason).toBe('FRAUD');
    expect(readPismoAccount({ status: 'BLOCKED', reason_external_id: 'CREDIT_ONLY' })?.reason).toBeNull();
    expect(readPismoAccount({ status: 'NORMAL', reason_external_id: 'FRAUD' })?.reason).toBeNull();
  });

  it('should read statuses without a canonical equivalent as null, keeping the provider status', () => {
    for (const providerStatus of ['DEBIT_ONLY', 'INACTIVE', 'DORMANT', 'UNCLAIMED', 'ORG_CUSTOM']) {
      expect(readPismoAccount({ status: providerStatus })).toEqual({
        status: null,
        reason: null,
        providerStatus,
      });
    }
  });

  it('should answer undefined for a body without a status', () => {
    expect(readPismoAccount({})).toBeUndefined();
    expect(readPismoAccount('NORMAL')).toBeUndefined();
  });
});

describe(parsePismoToken.name, () => {
  const now = 1_700_000_000_000;
  const jwt = (claims: object) =>
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('should use expires_in when present', () => {
    expect(parsePismoToken({ token: 'opaque', expires_in: 300 }, now)).toEqual({
      value: 'opaque',
      expiresAt: now + 300_000,
    });
  });

  it('should fall back to the JWT exp claim', () => {
    const token = jwt({ uid: '1', exp: 1_700_000_600 });
    expect(parsePismoToken({ token }, now)).toEqual({ value: token, expiresAt: 1_700_000_600_000 });
  });

  it('should assume ten minutes when neither tells', () => {
    expect(parsePismoToken({ token: 'opaque' }, now)).toEqual({ value: 'opaque', expiresAt: now + 600_000 });
  });

  it('should answer undefined without a token', () => {
    expect(parsePismoToken({}, now)).toBeUndefined();
    expect(parsePismoToken({ token: '' }, now)).toBeUndefined();
    expect(parsePismoToken(undefined, now)).toBeUndefined();
  });
});

describe(buildPismoTokenRequest.name, () => {
  const settings = { serverKey: 'k', serverSecret: 's' };

  it('should bind the corporate token to the external account id', () => {
    expect(buildPismoTokenRequest('corporate', settings, '00123')).toEqual({
      server_key: 'k',
      server_secret: 's',
      account_id: '00123',
    });
  });

  it('should send a numeric Pismo account id as a number on the accounts API', () => {
    expect(buildPismoTokenRequest('accounts', settings, '102938')).toEqual({
      server_key: 'k',
      server_secret: 's',
      account_id: 102938,
    });
    expect(buildPismoTokenRequest('accounts', settings, 'ACC-1')).toMatchObject({ account_id: 'ACC-1' });
  });
});
