import { ClearGridAdapter } from './cleargrid.adapter.js';
import { expectKeptAnswer, failure, PATHS, request, useClearGridSandbox } from './cleargrid.spec-harness.js';

const sandbox = useClearGridSandbox();

/**
 * Sends `count` changes at once through `target` (accounts `${prefix}0`, `${prefix}1`, …), checks that
 * ClearGrid accepted every one, and counts the calls the sandbox received since the reset, per URL.
 */
async function changeAtOnce(target: ClearGridAdapter, prefix: string, count: number) {
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => sandbox.change(target, request(`${prefix}${i}`))),
  );
  expect(results.every((r) => r.outcome === 'ACCEPTED')).toBe(true);
  const perUrl: Record<string, number> = {};
  for (const url of await sandbox.urls()) perUrl[url] = (perUrl[url] ?? 0) + 1;
  return perUrl;
}

describe(ClearGridAdapter.name, () => {
  describe('authentication', () => {
    it('should reuse the token across calls (one login)', async () => {
      const target = sandbox.adapter();
      await sandbox.change(target, request('ORD-10'));
      await sandbox.change(target, request('ORD-11'));

      expect((await sandbox.calls()).map((c) => `${c.method} ${c.url}`)).toEqual([
        `POST ${PATHS.login}`,
        `POST ${PATHS.update}`,
        `POST ${PATHS.update}`,
      ]);
      const [, first, second] = await sandbox.calls();
      expect(second.headers.authorization).toBe(first.headers.authorization);
    });

    it('should refresh and retry once when a write answers 401', async () => {
      const result = await sandbox.change(sandbox.adapter(), request('AUTHEXPIRED-1'));

      expect(result.outcome).toBe('ACCEPTED');
      const log = await sandbox.calls();
      expect(log.map((c) => c.url)).toEqual([PATHS.login, PATHS.update, PATHS.refresh, PATHS.update]);
      expect(log[2].body).toEqual({ refreshToken: expect.any(String) });
      expect(log[3].headers.authorization).not.toBe(log[1].headers.authorization);
    });

    it('should refresh (not log in again) before sending when the token is within the expiry skew', async () => {
      // A 1 s token is always inside the 30 s skew, so each write first gets a new token from refresh-token.
      await sandbox.control('/__sandbox/token-lifetime', { seconds: 1 });
      const target = sandbox.adapter();
      await sandbox.change(target, request('ORD-12'));
      await sandbox.change(target, request('ORD-13'));

      const log = await sandbox.calls();
      expect(log.map((c) => c.url)).toEqual([
        PATHS.login,
        PATHS.refresh,
        PATHS.update,
        PATHS.refresh,
        PATHS.update,
      ]);
      expect(log[4].headers.authorization).not.toBe(log[2].headers.authorization);
    });

    it('should log in again when the refresh is refused', async () => {
      const target = sandbox.adapter();
      await sandbox.prepare(target, request('ORD-14'));
      await sandbox.control('/__sandbox/revoke-refresh-tokens');
      const result = await sandbox.change(target, request('AUTHEXPIRED-2'));

      expect(result.outcome).toBe('ACCEPTED');
      expect(await sandbox.urls()).toEqual([
        PATHS.login,
        PATHS.update,
        PATHS.refresh,
        PATHS.login,
        PATHS.update,
      ]);
    });

    it('should answer PROVIDER_AUTH_FAILED when the retry after a refresh is refused too', async () => {
      const target = sandbox.adapter();
      await sandbox.prepare(target, request('ORD-15'));
      await sandbox.control('/__sandbox/refuse-tokens', { on: true });
      const error = await failure(sandbox.change(target, request('ORD-15')), 'PROVIDER_AUTH_FAILED');

      expect(error.provider).toMatchObject({ httpStatus: 401, code: 'NO_CODE', message: 'Unauthorized' });
      expect(await sandbox.urls()).toEqual([PATHS.login, PATHS.update, PATHS.refresh, PATHS.update]);
    });

    it('should log in again (not refresh) once on 403 lender mismatch, then answer PROVIDER_AUTH_FAILED', async () => {
      const error = await failure(
        sandbox.change(sandbox.adapter(), request('FORBIDDEN-1')),
        'PROVIDER_AUTH_FAILED',
      );

      expect(error.provider).toMatchObject({ httpStatus: 403, message: 'Forbidden' });
      expect(await sandbox.urls()).toEqual([PATHS.login, PATHS.update, PATHS.login, PATHS.update]);
    });

    it('should answer PROVIDER_AUTH_FAILED with the provider message when the login is refused', async () => {
      const error = await failure(
        sandbox.prepare(sandbox.adapter({ password: 'wrong' }), request('ORD-16')),
        'PROVIDER_AUTH_FAILED',
      );

      expectKeptAnswer(error, ['cleargrid', 401, 'NO_CODE', 'Unauthorized']);
      expect(error.message).not.toContain('wrong');
      expect((await sandbox.calls()).map((c) => `${c.method} ${c.url}`)).toEqual([`POST ${PATHS.login}`]);
    });

    it('should answer PROVIDER_ERROR when the login fails with a 5xx', async () => {
      const error = await failure(
        sandbox.prepare(sandbox.adapter({ lender: 'ERROR500-lender' }), request('ORD-17')),
        'PROVIDER_ERROR',
      );
      expect(error.provider?.httpStatus).toBe(500);
    });

    it('should share one login among concurrent calls', async () => {
      const perUrl = await changeAtOnce(sandbox.adapter(), 'ORD-2', 8);
      expect(perUrl).toMatchObject({ [PATHS.login]: 1, [PATHS.update]: 8 });
    });

    it('should share one refresh among concurrent calls rejected with 401', async () => {
      const target = sandbox.adapter();
      await sandbox.prepare(target, request('ORD-30'));
      await sandbox.control('/__sandbox/revoke-tokens');
      const perUrl = await changeAtOnce(target, 'ORD-3', 6);
      expect(perUrl).toMatchObject({ [PATHS.login]: 1, [PATHS.refresh]: 1, [PATHS.update]: 12 });
    });
  });
});
