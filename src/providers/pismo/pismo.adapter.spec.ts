import type { PismoAccountApi } from './pismo.settings.js';
import type { CanonicalReason, CanonicalStatus } from '../../domain/index.js';
import {
  expectKeptAnswer,
  failureOf as failure,
  useAdapterSandbox,
} from '../sandbox/sandbox.spec-harness.js';
import { PismoAdapter } from './pismo.adapter.js';
import { pismoProvider } from './index.js';
import { PISMO_SANDBOX_SETTINGS } from './pismo.sandbox.js';

const TOKEN_PATH = '/passport/v2/s2s/access-token';

const { sandbox, ctx, adapterFor, calls, change, prepare, itAnswersTransportFailures } = useAdapterSandbox(
  pismoProvider,
  'req-pismo-1',
  ({ api }: { api?: PismoAccountApi }, endpoint) =>
    new PismoAdapter(
      endpoint({ ...PISMO_SANDBOX_SETTINGS, accountApi: api ?? 'corporate', auth: 's2s' } as const),
    ),
);

const statusCalls = async () => (await calls()).filter((c) => c.url !== TOKEN_PATH);

/** The account a sandbox token is bound to (its `uid` claim). */
function uidOf(authorization: unknown): string {
  const token = String(authorization).replace(/^Bearer /, '');
  return (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { uid: string }).uid;
}

describe(PismoAdapter.name, () => {
  describe('corporate API writes', () => {
    const cases: Array<
      [
        CanonicalStatus,
        CanonicalReason | undefined,
        Record<string, unknown> | undefined,
        { status: string; [field: string]: unknown },
      ]
    > = [
      ['ACTIVE', undefined, undefined, { status: 'NORMAL' }],
      ['ACTIVE', 'HARDSHIP', undefined, { status: 'NORMAL' }],
      [
        'ACTIVE',
        undefined,
        { reasonExternalId: 'CREDIT_ONLY' },
        { status: 'NORMAL', reason_external_id: 'CREDIT_ONLY' },
      ],
      ['SUSPENDED', undefined, undefined, { status: 'BLOCKED' }],
      ['SUSPENDED', 'FRAUD', undefined, { status: 'BLOCKED', reason_external_id: 'FRAUD' }],
      [
        'SUSPENDED',
        'FRAUD',
        { reasonExternalId: 'CREDIT_ONLY', updateChildren: true, metadata: { ticket: 'T-1' } },
        {
          status: 'BLOCKED',
          reason_external_id: 'CREDIT_ONLY',
          update_children: true,
          metadata: { ticket: 'T-1' },
        },
      ],
    ];
    for (const [status, reason, options, body] of cases) {
      it(`should send ${JSON.stringify(body)} for ${status}${reason ? `/${reason}` : ''}${options ? ' with options' : ''}`, async () => {
        const result = await change('EXT-1', status, reason, options);

        expect(result).toEqual({ outcome: 'APPLIED', providerStatus: body.status, providerHttpStatus: 204 });
        const [patch, ...rest] = await statusCalls();
        expect(rest).toEqual([]);
        expect(patch).toMatchObject({
          method: 'PATCH',
          url: '/corporate/v2/corporate-accounts/EXT-1/status',
          body,
        });
        expect(uidOf(patch.headers.authorization)).toBe('EXT-1');
        expect(patch.headers['x-request-id']).toBe('req-pismo-1');
      });
    }

    it('should prepare an absolute URL and body without credentials, calling nothing', async () => {
      const prepared = await prepare({ accountId: 'EXT 1/a', status: 'SUSPENDED', reason: 'FRAUD' });

      expect(prepared.providerRequest).toEqual({
        method: 'PATCH',
        url: `${sandbox.baseUrl}/corporate/v2/corporate-accounts/EXT%201%2Fa/status`,
        body: { status: 'BLOCKED', reason_external_id: 'FRAUD' },
      });
      expect(prepared.providerStatus).toBe('BLOCKED');
      const shown = JSON.stringify(prepared);
      expect(shown).not.toContain(PISMO_SANDBOX_SETTINGS.serverSecret);
      expect(shown).not.toContain(PISMO_SANDBOX_SETTINGS.serverKey);
      expect(await calls()).toEqual([]);
    });

    it('should percent-encode the account id in the path it sends', async () => {
      await change('EXT 1/a', 'ACTIVE');
      const [patch] = await statusCalls();
      expect(patch.url).toBe('/corporate/v2/corporate-accounts/EXT%201%2Fa/status');
      expect(uidOf(patch.headers.authorization)).toBe('EXT 1/a');
    });

    for (const status of ['DELINQUENT', 'DISPUTED', 'DO_NOT_CONTACT', 'CLOSED'] as const) {
      it(`should refuse ${status} as STATUS_NOT_SUPPORTED without calling Pismo`, async () => {
        const error = await failure(prepare({ accountId: 'EXT-1', status }));
        expect(error.code).toBe('STATUS_NOT_SUPPORTED');
        expect(error.detail).toContain(status);
        expect(await calls()).toEqual([]);
      });
    }

    it('should make a write visible in a later read', async () => {
      await change('EXT-2', 'SUSPENDED', 'FRAUD');
      expect(await adapterFor().readStatus('EXT-2', ctx)).toEqual({
        status: 'SUSPENDED',
        reason: 'FRAUD',
        providerStatus: 'BLOCKED',
      });
    });
  });

  describe('accounts API writes', () => {
    const accounts = () => adapterFor({ api: 'accounts' });

    it('should send NORMAL, BLOCKED and CANCELLED to the accounts endpoint with reason_id', async () => {
      const adapter = accounts();
      expect(await change('1029', 'ACTIVE', undefined, undefined, adapter)).toMatchObject({
        providerStatus: 'NORMAL',
      });
      expect(await change('1029', 'SUSPENDED', 'FRAUD', undefined, adapter)).toMatchObject({
        providerStatus: 'BLOCKED',
      });
      expect(await change('1029', 'CLOSED', 'PAID_OFF', undefined, adapter)).toEqual({
        outcome: 'APPLIED',
        providerStatus: 'CANCELLED',
        providerHttpStatus: 204,
      });

      const all = await calls();
      expect(all[0]).toMatchObject({ method: 'POST', url: TOKEN_PATH, body: { account_id: 1029 } });
      expect(all.slice(1).map((c) => [c.method, c.url, c.body])).toEqual([
        ['PATCH', '/accounts/v2/accounts/1029/status', { status: 'NORMAL' }],
        ['PATCH', '/accounts/v2/accounts/1029/status', { status: 'BLOCKED', reason_id: 'FRAUD' }],
        ['PATCH', '/accounts/v2/accounts/1029/status', { status: 'CANCELLED', reason_id: 'PAID_OFF' }],
      ]);
      expect(all.slice(1).every((c) => uidOf(c.headers.authorization) === '1029')).toBe(true);
    });

    it('should read CANCELLED back as CLOSED and find the account terminal afterwards', async () => {
      const adapter = accounts();
      await change('1030', 'CLOSED', 'PAID_OFF', undefined, adapter);

      expect(await adapter.readStatus('1030', ctx)).toEqual({
        status: 'CLOSED',
        reason: 'PAID_OFF',
        providerStatus: 'CANCELLED',
      });
      const [, , read] = await calls();
      expect(read).toMatchObject({ method: 'GET', url: '/accounts/v1/accounts/1030' });
      const error = await failure(change('1030', 'ACTIVE', undefined, undefined, adapter));
      expect(error.code).toBe('ACCOUNT_CLOSED');
      expectKeptAnswer(error, ['pismo', 400, 'NO_CODE', 'Account is in a final status']);
    });

    it('should map an unknown account without an error code to ACCOUNT_NOT_FOUND', async () => {
      const error = await failure(change('NOTFOUND-9', 'SUSPENDED', undefined, undefined, accounts()));
      expect(error.code).toBe('ACCOUNT_NOT_FOUND');
      expectKeptAnswer(error, ['pismo', 404, 'NO_CODE', 'Account not found']);
    });

    it('should still refuse DELINQUENT, DISPUTED and DO_NOT_CONTACT', () => {
      const adapter = accounts();
      for (const status of ['DELINQUENT', 'DISPUTED', 'DO_NOT_CONTACT'] as const) {
        expect(adapter.translate(status, undefined).supported).toBe(false);
      }
      expect(adapter.translate('CLOSED', undefined)).toEqual({
        supported: true,
        providerStatus: 'CANCELLED',
      });
      expect(adapter.isTerminal('CLOSED')).toBe(true);
    });
  });

  describe('provider errors', () => {
    const cases: Array<
      [string, CanonicalStatus, Record<string, unknown> | undefined, string, number, string, string]
    > = [
      [
        'NOTFOUND-1',
        'SUSPENDED',
        undefined,
        'ACCOUNT_NOT_FOUND',
        400,
        'WCAC0012',
        'Corporate account not found',
      ],
      [
        'CLOSED-1',
        'ACTIVE',
        undefined,
        'ACCOUNT_CLOSED',
        400,
        'WCAC0035',
        'Account is currently in the final status',
      ],
      [
        'DORMANT-1',
        'SUSPENDED',
        undefined,
        'INVALID_TRANSITION',
        400,
        'WCAC0034',
        "status is specified in account's dormancy config",
      ],
      [
        'TRANSITION-1',
        'SUSPENDED',
        undefined,
        'INVALID_TRANSITION',
        422,
        'WCAC0038',
        'Account status update blocked: operation blocked for account.',
      ],
      [
        'REJECT-1',
        'SUSPENDED',
        undefined,
        'PROVIDER_REJECTED',
        400,
        'WCAC0005',
        'reason_external_id must be a maximum of 120 characters in length',
      ],
      [
        'EXT-3',
        'SUSPENDED',
        { reasonExternalId: 'NO_SUCH_REASON' },
        'PROVIDER_REJECTED',
        404,
        'WCAC0021',
        'Reason not found',
      ],
      ['ERROR500-1', 'SUSPENDED', undefined, 'PROVIDER_ERROR', 500, 'ECMN9999', 'Internal error'],
      ['RATELIMIT-1', 'SUSPENDED', undefined, 'RATE_LIMITED', 429, 'NO_CODE', 'Too Many Requests'],
    ];
    for (const [accountId, status, options, code, httpStatus, providerCode, message] of cases) {
      it(`should turn ${providerCode} (HTTP ${httpStatus}) for ${accountId} into ${code}, keeping Pismo's code and message`, async () => {
        const error = await failure(change(accountId, status, undefined, options));
        expect(error.code).toBe(code);
        expectKeptAnswer(error, ['pismo', httpStatus, providerCode, message]);
        expect(error.detail).toContain('pismo change status failed');
      });
    }

    it('should carry no Retry-After of its own when Pismo sends a 429 without one', async () => {
      // The caller still gets Retry-After: 1 (set by the problem filter); retries use plain backoff.
      const error = await failure(change('RATELIMIT-2', 'SUSPENDED'));
      expect(error.code).toBe('RATE_LIMITED');
      expect(error.retryAfter).toBeUndefined();
    });
  });

  describe('reads', () => {
    it('should read a fresh corporate account as ACTIVE with its own token, passing no personal data on', async () => {
      expect(await adapterFor().readStatus('EXT-R', ctx)).toEqual({
        status: 'ACTIVE',
        reason: null,
        providerStatus: 'NORMAL',
      });
      const [read] = await statusCalls();
      expect(read).toMatchObject({ method: 'GET', url: '/corporate/v1/corporate-accounts/EXT-R' });
      expect(uidOf(read.headers.authorization)).toBe('EXT-R');
    });

    it('should read DORMANT as a null status, keeping the provider status', async () => {
      expect(await adapterFor().readStatus('DORMANT-1', ctx)).toEqual({
        status: null,
        reason: null,
        providerStatus: 'DORMANT',
      });
    });

    it('should read a CANCELLED account as CLOSED', async () => {
      expect(await adapterFor().readStatus('CLOSED-2', ctx)).toMatchObject({
        status: 'CLOSED',
        providerStatus: 'CANCELLED',
      });
    });

    it('should map an unknown account on read to ACCOUNT_NOT_FOUND', async () => {
      const error = await failure(adapterFor().readStatus('NOTFOUND-2', ctx));
      expect(error.code).toBe('ACCOUNT_NOT_FOUND');
      expect(error.provider).toMatchObject({ code: 'WCAC0012', httpStatus: 404 });
    });
  });

  describe('transport', () => {
    itAnswersTransportFailures('Pismo', { status: 'SUSPENDED', slowAccountId: 'SLOW300-1', timeoutMs: 100 });

    it('should forward the request id on the token and the status call', async () => {
      await change('EXT-4', 'ACTIVE');
      const all = await calls();
      expect(all.map((c) => c.headers['x-request-id'])).toEqual(['req-pismo-1', 'req-pismo-1']);
    });
  });
});
