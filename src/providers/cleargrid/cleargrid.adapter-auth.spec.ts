import { ClearGridAdapter } from './cleargrid.adapter.js';
import {
  change,
  ctx,
  failure,
  prepareThrough,
  LOGIN_PATH,
  REFRESH_PATH,
  request,
  UPDATE_STATUS_PATH,
  useClearGridSandbox,
} from './cleargrid.spec-harness.js';
import { expectKeptAnswer } from '../sandbox/sandbox.spec-harness.js';

const sandbox = useClearGridSandbox();

describe(ClearGridAdapter.name, () => {
  describe('authentication', () => {
    it('should reuse the token across calls (one login)', async () => {
      const target = sandbox.adapter();
      await change(target, request('ORD-10'));
      await change(target, request('ORD-11'));

      expect((await sandbox.calls()).map((c) => `${c.method} ${c.url}`)).toEqual([
        `POST ${LOGIN_PATH}`,
        `POST ${UPDATE_STATUS_PATH}`,
        `POST ${UPDATE_STATUS_PATH}`,
      ]);
      const [, first, second] = await sandbox.calls();
      expect(second.headers.authorization).toBe(first.headers.authorization);
    });

    it('should refresh and retry once when a write answers 401', async () => {
      const result = await change(sandbox.adapter(), request('AUTHEXPIRED-1'));

      expect(result.outcome).toBe('ACCEPTED');
      const log = await sandbox.calls();
      expect(log.map((c) => c.url)).toEqual([
        LOGIN_PATH,
        UPDATE_STATUS_PATH,
        REFRESH_PATH,
        UPDATE_STATUS_PATH,
      ]);
      expect(log[2].body).toEqual({ refreshToken: expect.any(String) });
      expect(log[3].headers.authorization).not.toBe(log[1].headers.authorization);
    });

    it('should refresh (not log in again) before sending when the token is within the expiry skew', async () => {
      // A 1 s token is always inside the 30 s skew, so each write first gets a new token from refresh-token.
      await sandbox.control('/__sandbox/token-lifetime', { seconds: 1 });
      const target = sandbox.adapter();
      await change(target, request('ORD-12'));
      await change(target, request('ORD-13'));

      const log = await sandbox.calls();
      expect(log.map((c) => c.url)).toEqual([
        LOGIN_PATH,
        REFRESH_PATH,
        UPDATE_STATUS_PATH,
        REFRESH_PATH,
        UPDATE_STATUS_PATH,
      ]);
      expect(log[4].headers.authorization).not.toBe(log[2].headers.authorization);
    });

    it('should log in again when the refresh is refused', async () => {
      const target = sandbox.adapter();
      await prepareThrough(target, request('ORD-14'), ctx);
      await sandbox.control('/__sandbox/revoke-refresh-tokens');
      const result = await change(target, request('AUTHEXPIRED-2'));

      expect(result.outcome).toBe('ACCEPTED');
      expect(await sandbox.urls()).toEqual([
        LOGIN_PATH,
        UPDATE_STATUS_PATH,
        REFRESH_PATH,
        LOGIN_PATH,
        UPDATE_STATUS_PATH,
      ]);
    });

    it('should answer PROVIDER_AUTH_FAILED when the retry after a refresh is refused too', async () => {
      const target = sandbox.adapter();
      await prepareThrough(target, request('ORD-15'), ctx);
      await sandbox.control('/__sandbox/refuse-tokens', { on: true });
      const error = await failure(change(target, request('ORD-15')), 'PROVIDER_AUTH_FAILED');

      expect(error.provider).toMatchObject({ httpStatus: 401, code: 'NO_CODE', message: 'Unauthorized' });
      expect(await sandbox.urls()).toEqual([
        LOGIN_PATH,
        UPDATE_STATUS_PATH,
        REFRESH_PATH,
        UPDATE_STATUS_PATH,
      ]);
    });

    it('should log in again (not refresh) once on 403 lender mismatch, then answer PROVIDER_AUTH_FAILED', async () => {
      const error = await failure(change(sandbox.adapter(), request('FORBIDDEN-1')), 'PROVIDER_AUTH_FAILED');

      expect(error.provider).toMatchObject({ httpStatus: 403, message: 'Forbidden' });
      expect(await sandbox.urls()).toEqual([LOGIN_PATH, UPDATE_STATUS_PATH, LOGIN_PATH, UPDATE_STATUS_PATH]);
    });

    it('should answer PROVIDER_AUTH_FAILED with the provider message when the login is refused', async () => {
      const error = await failure(
        prepareThrough(sandbox.adapter({ password: 'wrong' }), request('ORD-16'), ctx),
        'PROVIDER_AUTH_FAILED',
      );

      expectKeptAnswer(error, ['cleargrid', 401, 'NO_CODE', 'Unauthorized']);
      expect(error.message).not.toContain('wrong');
      expect((await sandbox.calls()).map((c) => `${c.method} ${c.url}`)).toEqual([`POST ${LOGIN_PATH}`]);
    });

    it('should answer PROVIDER_ERROR when the login fails with a 5xx', async () => {
      const error = await failure(
        prepareThrough(sandbox.adapter({ lender: 'ERROR500-lender' }), request('ORD-17'), ctx),
        'PROVIDER_ERROR',
      );
      expect(error.provider?.httpStatus).toBe(500);
    });

    it('should share one login among concurrent calls', async () => {
      const target = sandbox.adapter();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => change(target, request(`ORD-2${i}`))),
      );

      expect(results.every((r) => r.outcome === 'ACCEPTED')).toBe(true);
      const urls = await sandbox.urls();
      expect(urls.filter((u) => u === LOGIN_PATH)).toHaveLength(1);
      expect(urls.filter((u) => u === UPDATE_STATUS_PATH)).toHaveLength(8);
    });

    it('should share one refresh among concurrent calls rejected with 401', async () => {
      const target = sandbox.adapter();
      await prepareThrough(target, request('ORD-30'), ctx);
      await sandbox.control('/__sandbox/revoke-tokens');
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => change(target, request(`ORD-3${i}`))),
      );

      expect(results.every((r) => r.outcome === 'ACCEPTED')).toBe(true);
      const urls = await sandbox.urls();
      expect(urls.filter((u) => u === LOGIN_PATH)).toHaveLength(1);
      expect(urls.filter((u) => u === REFRESH_PATH)).toHaveLength(1);
      expect(urls.filter((u) => u === UPDATE_STATUS_PATH)).toHaveLength(12);
    });
  });
});
