import { listenOnLoopback } from '../sandbox/sandbox-kit.js';
import { ClearGridAdapter } from './cleargrid.adapter.js';
import { createClearGridSandbox } from './cleargrid.sandbox.js';
import { expectKeptAnswer, failure, PATHS, request, useClearGridSandbox } from './cleargrid.spec-harness.js';

const sandbox = useClearGridSandbox();

describe(ClearGridAdapter.name, () => {
  describe('changes', () => {
    it('should send DISPUTED as update-status 5 with the login token and the request id, and report ACCEPTED', async () => {
      const result = await sandbox.change(sandbox.adapter(), request('ORD-1', 'DISPUTED'));

      expect(result).toEqual({ outcome: 'ACCEPTED', providerStatus: 5, providerHttpStatus: 200 });
      const [login, write] = await sandbox.calls();
      expect(login).toMatchObject({ method: 'POST', url: PATHS.login });
      expect(login.body).toEqual({ email: 'sandbox@statusgate.local', password: 'sandbox-password' });
      expect(write).toMatchObject({
        method: 'POST',
        url: PATHS.update,
        body: { accounts: [{ status: 5, debtorCompanyId: 'customer_001', accountId: 'ORD-1' }] },
      });
      expect(write.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      expect(write.headers['x-request-id']).toBe('req-cleargrid-1');
      expect(login.headers['x-request-id']).toBe('req-cleargrid-1');
      await sandbox.accountState('ORD-1', (s) => s.disputed === true && s.status === 5);
    });

    it('should send DO_NOT_CONTACT as update-status 6', async () => {
      const result = await sandbox.change(sandbox.adapter(), request('ORD-2', 'DO_NOT_CONTACT'));

      expect(result).toEqual({ outcome: 'ACCEPTED', providerStatus: 6, providerHttpStatus: 200 });
      expect((await sandbox.calls())[1]).toMatchObject({
        url: PATHS.update,
        body: { accounts: [{ status: 6, debtorCompanyId: 'customer_001', accountId: 'ORD-2' }] },
      });
      await sandbox.accountState('ORD-2', (s) => s.doNotContact === true);
    });

    it('should send CLOSED as a withdraw item (status 3) and then refuse changes as ACCOUNT_CLOSED', async () => {
      const target = sandbox.adapter();
      const result = await sandbox.change(target, request('ORD-3', 'CLOSED'));

      expect(result).toEqual({ outcome: 'ACCEPTED', providerStatus: 3, providerHttpStatus: 200 });
      expect((await sandbox.calls())[1]).toMatchObject({
        method: 'POST',
        url: PATHS.accounts,
        body: { accounts: [{ status: 3, accountId: 'ORD-3', debtorCompanyId: 'customer_001' }] },
      });
      await sandbox.accountState('ORD-3', (s) => s.withdrawn === true);
      const error = await failure(sandbox.change(target, request('ORD-3', 'DISPUTED')), 'ACCOUNT_CLOSED');
      expectKeptAnswer(error, ['cleargrid', 400, 'NO_CODE', 'Account has been withdrawn']);
    });

    it.each(['ACTIVE', 'SUSPENDED', 'DELINQUENT'] as const)(
      'should refuse %s as STATUS_NOT_SUPPORTED without any call',
      async (status) => {
        await failure(sandbox.prepare(sandbox.adapter(), request('ORD-4', status)), 'STATUS_NOT_SUPPORTED');
        expect(await sandbox.calls()).toEqual([]);
      },
    );

    it('should prepare a change (dry run) with one login and no status call, without credentials', async () => {
      const prepared = await sandbox.prepare(sandbox.adapter(), request('ORD/5 x', 'DISPUTED'));

      expect(prepared.providerRequest).toEqual({
        method: 'POST',
        url: `${sandbox.baseUrl}${PATHS.update}`,
        body: { accounts: [{ status: 5, debtorCompanyId: 'customer_001', accountId: 'ORD/5 x' }] },
      });
      expect(prepared.providerStatus).toBe(5);
      expect((await sandbox.calls()).map((c) => `${c.method} ${c.url}`)).toEqual([`POST ${PATHS.login}`]);
      const shown = JSON.stringify(prepared);
      expect(shown).not.toContain('sandbox-password');
      expect(shown).not.toMatch(/Bearer|eyJ/);
    });

    it('should answer readStatus with INTERNAL since ClearGrid has no read', async () => {
      const target = sandbox.adapter();
      expect(target.liveRead).toBe(false);
      await failure(target.readStatus('ORD-6', sandbox.ctx), 'INTERNAL');
      expect(await sandbox.calls()).toEqual([]);
    });
  });

  describe('errors', () => {
    it.each([
      ['NOTFOUND-1', 'ACCOUNT_NOT_FOUND', 400, 'Account not found'],
      ['CLOSED-1', 'ACCOUNT_CLOSED', 400, 'Account has been withdrawn'],
      ['REJECT-1', 'PROVIDER_REJECTED', 400, 'debtorCompanyId does not match the debtor of this account'],
      ['ERROR500-1', 'PROVIDER_ERROR', 500, 'Something went wrong. Please try again later.'],
      ['RATELIMIT-1', 'RATE_LIMITED', 429, 'Too Many Requests'],
    ] as const)(
      'should map %s to %s keeping the provider message',
      async (accountId, code, httpStatus, message) => {
        const error = await failure(sandbox.change(sandbox.adapter(), request(accountId)), code);
        expectKeptAnswer(error, ['cleargrid', httpStatus, 'NO_CODE', message]);
      },
    );

    it('should map the documented validation error for a missing debtorCompanyId to PROVIDER_REJECTED', async () => {
      const target = sandbox.adapter();
      const prepared = await sandbox.prepare(target, { ...request('ORD-7'), customerId: '' });
      const error = await failure(target.applyChange(prepared, sandbox.ctx), 'PROVIDER_REJECTED');
      expect(error.provider?.message).toBe('debtorCompanyId is required');
    });

    it('should answer PROVIDER_TIMEOUT when ClearGrid is slower than the timeout', async () => {
      await failure(sandbox.change(sandbox.adapter({}, 150), request('SLOW600-1')), 'PROVIDER_TIMEOUT');
    });

    it('should answer PROVIDER_UNAVAILABLE when the connection is refused', async () => {
      const closed = createClearGridSandbox();
      const closedUrl = await listenOnLoopback(closed);
      await closed.close();
      await failure(
        sandbox.change(sandbox.adapter({}, 2000, closedUrl), request('ORD-8')),
        'PROVIDER_UNAVAILABLE',
      );
    });
  });
});
