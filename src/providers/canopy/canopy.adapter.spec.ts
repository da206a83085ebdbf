import type { CanonicalReason, CanonicalStatus } from '../../domain/index.js';
import { failureOf, useAdapterSandbox } from '../sandbox/sandbox.spec-harness.js';
import { CanopyAdapter } from './canopy.adapter.js';
import { CANOPY_SANDBOX_PII } from './canopy.sandbox-state.js';
import { CANOPY_SANDBOX_SETTINGS } from './canopy.sandbox.js';
import { canopyProvider } from './index.js';

const { sandbox, ctx, adapterFor, calls, apply, prepare, itAnswersTransportFailures } = useAdapterSandbox(
  canopyProvider,
  'req-canopy-7f3a',
  (_, endpoint) => new CanopyAdapter(endpoint(CANOPY_SANDBOX_SETTINGS)),
);

const PII_VALUES = Object.values(CANOPY_SANDBOX_PII);

/** CONTRACT.md section 5, Canopy column: the exact body for each supported change. */
const WIRE: Array<[CanonicalStatus, CanonicalReason | undefined, Record<string, string>]> = [
  ['ACTIVE', undefined, { account_status: 'ACTIVE' }],
  ['ACTIVE', 'HARDSHIP', { account_status: 'ACTIVE', account_substatus: 'HARDSHIP/EXEMPTIONS' }],
  ['SUSPENDED', undefined, { account_status: 'SUSPENDED' }],
  ['SUSPENDED', 'FRAUD', { account_status: 'SUSPENDED', account_substatus: 'FRAUD' }],
  ['SUSPENDED', 'DECEASED', { account_status: 'SUSPENDED', account_substatus: 'DECEASED' }],
  ['SUSPENDED', 'CHARGED_OFF', { account_status: 'SUSPENDED', account_substatus: 'CHARGE_OFF' }],
  ['SUSPENDED', 'HARDSHIP', { account_status: 'SUSPENDED', account_substatus: 'HARDSHIP/EXEMPTIONS' }],
  ['DELINQUENT', undefined, { account_status: 'SUSPENDED', account_substatus: 'DELINQUENT' }],
  ['CLOSED', undefined, { account_status: 'CLOSED' }],
  ['CLOSED', 'CHARGED_OFF', { account_status: 'CLOSED', account_substatus: 'CHARGE_OFF' }],
  ['CLOSED', 'PAID_OFF', { account_status: 'CLOSED', account_substatus: 'PAID_OFF' }],
  ['CLOSED', 'SETTLEMENT', { account_status: 'CLOSED', account_substatus: 'SETTLEMENT' }],
];

/** What a write reads back as: [status, reason written, status read, reason read, provider status read]. */
const READS: Array<
  [CanonicalStatus, CanonicalReason | undefined, CanonicalStatus, CanonicalReason | null, unknown]
> = [
  ['ACTIVE', undefined, 'ACTIVE', null, { status: 'ACTIVE', substatus: null }],
  ['ACTIVE', 'HARDSHIP', 'ACTIVE', 'HARDSHIP', { status: 'ACTIVE', substatus: 'HARDSHIP/EXEMPTIONS' }],
  ['DELINQUENT', undefined, 'DELINQUENT', null, { status: 'SUSPENDED', substatus: 'DELINQUENT' }],
  ['SUSPENDED', 'BANKRUPTCY', 'SUSPENDED', 'BANKRUPTCY', { status: 'SUSPENDED', substatus: 'BANKRUPTCY' }],
  ['CLOSED', 'CHARGED_OFF', 'CLOSED', 'CHARGED_OFF', { status: 'CLOSED', substatus: 'CHARGE_OFF' }],
];

describe(CanopyAdapter.name, () => {
  describe('applyChange', () => {
    it.each(WIRE)('should send %s (reason %s) as exactly %j', async (status, reason, body) => {
      const result = await apply({ accountId: 'can_52322', status, reason });

      const [token, put, ...rest] = await calls();
      expect(rest).toHaveLength(0);
      expect(token).toMatchObject({ method: 'POST', url: '/auth/token' });
      expect(put).toMatchObject({ method: 'PUT', url: '/accounts/can_52322/status' });
      expect(put.body).toStrictEqual(body);
      expect(put.headers.authorization).toMatch(/^Bearer cnp_\S+$/);
      expect(result).toStrictEqual({
        outcome: 'APPLIED',
        providerHttpStatus: 200,
        providerStatus: { status: body.account_status, substatus: body.account_substatus ?? null },
      });
    });

    it('should encode the account id in the path', async () => {
      const adapter = adapterFor();
      await apply({ accountId: 'acc/1 ü?x', status: 'SUSPENDED', reason: 'FRAUD' }, adapter);
      expect((await calls())[1].url).toBe('/accounts/acc%2F1%20%C3%BC%3Fx/status');
      expect((await adapter.readStatus('acc/1 ü?x', ctx)).status).toBe('SUSPENDED');
    });

    it('should forward the request id on the token call and the status call', async () => {
      await apply({ accountId: 'acc-rid', status: 'ACTIVE' });
      const log = await calls();
      expect(log.map((c) => c.headers['x-request-id'])).toEqual([ctx.requestId, ctx.requestId]);
    });

    it('should return only the status and substatus, never the account it received', async () => {
      const result = await apply({ accountId: 'acc-pii', status: 'CLOSED', reason: 'FRAUD' });
      const text = JSON.stringify(result);
      for (const value of PII_VALUES) expect(text).not.toContain(value);
      expect(result.providerStatus).toStrictEqual({ status: 'CLOSED', substatus: 'FRAUD' });
    });

    it('should let a CLOSED account be reopened, CLOSED not being terminal at Canopy', async () => {
      const adapter = adapterFor();
      expect(adapter.isTerminal('CLOSED')).toBe(false);
      const result = await apply({ accountId: 'CLOSED-1', status: 'ACTIVE' }, adapter);
      expect(result.providerStatus).toStrictEqual({ status: 'ACTIVE', substatus: null });
    });
  });

  describe('prepareChange', () => {
    it('should build an absolute URL without calling the sandbox or showing credentials', async () => {
      const prepared = await prepare({ accountId: 'a b', status: 'DELINQUENT' });
      expect(prepared.providerRequest).toStrictEqual({
        method: 'PUT',
        url: `${sandbox.baseUrl}/accounts/a%20b/status`,
        body: { account_status: 'SUSPENDED', account_substatus: 'DELINQUENT' },
      });
      expect(prepared.providerStatus).toStrictEqual({ status: 'SUSPENDED', substatus: 'DELINQUENT' });
      expect(JSON.stringify(prepared)).not.toContain(CANOPY_SANDBOX_SETTINGS.clientSecret);
      expect(await calls()).toHaveLength(0);
    });

    it.each<[CanonicalStatus, CanonicalReason | undefined]>([
      ['DISPUTED', undefined],
      ['DO_NOT_CONTACT', undefined],
      ['SUSPENDED', 'COMPLIANCE'],
      ['CLOSED', 'COMPLIANCE'],
      ['ACTIVE', 'FRAUD'],
      ['DELINQUENT', 'FRAUD'],
    ])('should refuse %s (reason %s) with STATUS_NOT_SUPPORTED and no call', async (status, reason) => {
      const error = await failureOf(prepare({ accountId: 'acc-1', status, reason }));
      expect(error.code).toBe('STATUS_NOT_SUPPORTED');
      expect(error.detail).toContain('canopy');
      expect(await calls()).toHaveLength(0);
    });
  });

  describe('validate', () => {
    it('should accept a change without providerOptions', () => {
      expect(adapterFor().validate({ accountId: 'a', status: 'ACTIVE', providerOptions: {} })).toEqual([]);
    });

    it('should reject every providerOptions key', () => {
      const errors = adapterFor().validate({
        accountId: 'a',
        status: 'ACTIVE',
        providerOptions: { updateChildren: true, bypassZtm: false },
      });
      expect(errors.map((e) => e.field)).toEqual([
        'providerOptions.updateChildren',
        'providerOptions.bypassZtm',
      ]);
    });
  });

  describe('errors', () => {
    it.each([
      ['NOTFOUND-1', 'ACCOUNT_NOT_FOUND', 404, 'account_not_found', 'Account not found'],
      ['RATELIMIT-1', 'RATE_LIMITED', 429, 'too_many_requests', 'Too many requests'],
      ['ERROR500-1', 'PROVIDER_ERROR', 500, 'internal_server_error', 'Internal server error'],
    ])(
      'should map %s to %s, keeping the provider code and message',
      async (accountId, code, http, pCode, pMsg) => {
        const adapter = adapterFor();
        const attempts = [
          () => apply({ accountId, status: 'SUSPENDED' }, adapter),
          () => adapter.readStatus(accountId, ctx),
        ];
        for (const attempt of attempts) {
          const error = await failureOf(attempt());
          expect(error.code).toBe(code);
          expect(error.provider).toStrictEqual({
            id: 'canopy',
            httpStatus: http,
            code: pCode,
            message: pMsg,
          });
        }
      },
    );

    it('should pass on Retry-After of a 429', async () => {
      const error = await failureOf(apply({ accountId: 'RATELIMIT-2', status: 'ACTIVE' }));
      expect(error.retryAfter).toBe(1);
    });

    it('should map a validation refusal to PROVIDER_REJECTED with its details', async () => {
      const error = await failureOf(apply({ accountId: 'REJECT-1', status: 'CLOSED' }));
      expect(error.code).toBe('PROVIDER_REJECTED');
      expect(error.provider?.code).toBe('validation_error');
      expect(error.provider?.message).toContain('Account status change not allowed');
      expect(error.provider?.message).toContain('account_status');
    });

    itAnswersTransportFailures('Canopy', { status: 'ACTIVE', slowAccountId: 'SLOW400-1', timeoutMs: 100 });
  });

  describe('readStatus', () => {
    it.each(READS)(
      'should read back %s (reason %s) as %s / %s',
      async (status, reason, readStatus, readReason, providerStatus) => {
        const adapter = adapterFor();
        await apply({ accountId: 'acc-read', status, reason }, adapter);
        const reading = await adapter.readStatus('acc-read', ctx);
        expect(reading).toStrictEqual({ status: readStatus, reason: readReason, providerStatus });
        const get = (await calls()).at(-1)!;
        expect(get).toMatchObject({ method: 'GET', url: '/accounts/acc-read' });
        expect(get.headers.authorization).toMatch(/^Bearer cnp_/);
        expect(get.headers['x-request-id']).toBe(ctx.requestId);
      },
    );

    it('should read an untouched account as ACTIVE and a CLOSED- one as CLOSED / PAID_OFF', async () => {
      const adapter = adapterFor();
      expect(await adapter.readStatus('fresh-1', ctx)).toStrictEqual({
        status: 'ACTIVE',
        reason: null,
        providerStatus: { status: 'ACTIVE', substatus: null },
      });
      expect(await adapter.readStatus('CLOSED-9', ctx)).toStrictEqual({
        status: 'CLOSED',
        reason: 'PAID_OFF',
        providerStatus: { status: 'CLOSED', substatus: 'PAID_OFF' },
      });
    });

    it('should never return the personal data of the account it read', async () => {
      const text = JSON.stringify(await adapterFor().readStatus('acc-pii', ctx));
      for (const value of PII_VALUES) expect(text).not.toContain(value);
    });
  });
});
