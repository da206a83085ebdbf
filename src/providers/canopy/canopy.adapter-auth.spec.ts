/** The adapter's token handling, against the Canopy sandbox over loopback HTTP. */
import type { CanopySettings } from './canopy.settings.js';
import { sleep, type SandboxCall } from '../sandbox/sandbox-kit.js';
import { expectKeptAnswer, failureOf, useAdapterSandbox } from '../sandbox/sandbox.spec-harness.js';
import { CanopyAdapter } from './canopy.adapter.js';
import { CANOPY_SANDBOX_SETTINGS } from './canopy.sandbox.js';
import { canopyProvider } from './index.js';

const { sandbox, ctx, adapterFor, calls, apply } = useAdapterSandbox(
  canopyProvider,
  'req-canopy-auth',
  ({ settings }: { settings?: CanopySettings }, endpoint) =>
    new CanopyAdapter(endpoint(settings ?? CANOPY_SANDBOX_SETTINGS)),
);

const control = (path: string, body?: unknown) => sandbox.control(path, body);

/** The call log as `POST /auth/token`, `PUT /accounts/…` lines, for order checks. */
async function callLines(): Promise<string[]> {
  return (await calls()).map((c) => `${c.method} ${c.url}`);
}

const TOKEN = 'POST /auth/token';
const PUT_A = 'PUT /accounts/acc-a/status';

const authOf = (call: SandboxCall) => call.headers.authorization;

describe(`${CanopyAdapter.name} authentication`, () => {
  it('should ask for a token with the client id and secret, then reuse it', async () => {
    const adapter = adapterFor();
    for (const status of ['SUSPENDED', 'ACTIVE', 'CLOSED'] as const)
      await apply({ accountId: 'acc-a', status }, adapter);
    await adapter.readStatus('acc-a', ctx);

    const log = await calls();
    expect(log.map((c) => `${c.method} ${c.url}`)).toEqual([
      TOKEN,
      PUT_A,
      PUT_A,
      PUT_A,
      'GET /accounts/acc-a',
    ]);
    expect(log[0].body).toStrictEqual({
      client_id: 'sandbox-client',
      client_secret: CANOPY_SANDBOX_SETTINGS.clientSecret,
    });
    expect(new Set(log.slice(1).map(authOf)).size).toBe(1);
  });

  it('should share one token request among concurrent calls', async () => {
    const adapter = adapterFor();
    const ids = Array.from({ length: 8 }, (_, i) => `acc-${i}`);
    await Promise.all(
      ids.map((accountId) => apply({ accountId, status: 'SUSPENDED', reason: 'FRAUD' }, adapter)),
    );
    const lines = await callLines();
    expect(lines.filter((l) => l === TOKEN)).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('PUT '))).toHaveLength(8);
  });

  it('should fetch a new token before expires_in runs out, without a rejected call', async () => {
    await control('/__sandbox/token-lifetime', { seconds: 61 }); // fresh for 1 s past the 60 s skew
    const adapter = adapterFor();
    await apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter);
    await sleep(1100);
    await apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter);
    expect(await callLines()).toEqual([TOKEN, PUT_A, TOKEN, PUT_A]);
  });

  it.each([403, 401])(
    'should fetch a new token once and retry when an expired token gets %s',
    async (status) => {
      await control('/__sandbox/expired-token-status', { status });
      const adapter = adapterFor();
      await apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter);
      await control('/__sandbox/expire-tokens');

      const result = await apply(
        {
          accountId: 'acc-a',
          status: 'SUSPENDED',
          reason: 'RISK_REVIEW',
        },
        adapter,
      );

      expect(result.providerStatus).toStrictEqual({ status: 'SUSPENDED', substatus: 'RISK_REVIEW' });
      const log = await calls();
      expect(log.map((c) => `${c.method} ${c.url}`)).toEqual([TOKEN, PUT_A, PUT_A, TOKEN, PUT_A]);
      expect(authOf(log[2])).toBe(authOf(log[1]));
      expect(authOf(log[4])).not.toBe(authOf(log[2]));
    },
  );

  it('should fetch a new token when a read gets 403 not_authorized', async () => {
    const adapter = adapterFor();
    await adapter.readStatus('acc-a', ctx);
    await control('/__sandbox/expire-tokens');
    expect((await adapter.readStatus('acc-a', ctx)).status).toBe('ACTIVE');
    expect((await callLines()).filter((l) => l === TOKEN)).toHaveLength(2);
  });

  it('should recover from a token expiring mid-flight (AUTHEXPIRED-, 401)', async () => {
    const result = await apply({ accountId: 'AUTHEXPIRED-1', status: 'CLOSED' });
    expect(result.outcome).toBe('APPLIED');
    const put = 'PUT /accounts/AUTHEXPIRED-1/status';
    expect(await callLines()).toEqual([TOKEN, put, TOKEN, put]);
  });

  it('should make concurrent calls rejected with the same token share one new token', async () => {
    const adapter = adapterFor();
    await apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter);
    await control('/__sandbox/expire-tokens');
    const ids = Array.from({ length: 6 }, (_, i) => `acc-${i}`);
    await Promise.all(ids.map((accountId) => apply({ accountId, status: 'ACTIVE' }, adapter)));
    const lines = await callLines();
    expect(lines.filter((l) => l === TOKEN)).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('PUT '))).toHaveLength(1 + 6 * 2);
  });

  it('should answer PROVIDER_AUTH_FAILED when the new token is rejected too, after exactly one retry', async () => {
    await control('/__sandbox/token-lifetime', { seconds: 0 });
    const error = await failureOf(apply({ accountId: 'acc-a', status: 'ACTIVE' }));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expectKeptAnswer(error, ['canopy', 403, 'not_authorized', 'Not authorized']);
    expect(await callLines()).toEqual([TOKEN, PUT_A, TOKEN, PUT_A]);
  });

  it('should not re-authenticate on a 403 that is not about the token (forbidden)', async () => {
    const error = await failureOf(apply({ accountId: 'FORBIDDEN-1', status: 'ACTIVE' }));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expect(error.provider).toMatchObject({ httpStatus: 403, code: 'forbidden' });
    expect(await callLines()).toEqual([TOKEN, 'PUT /accounts/FORBIDDEN-1/status']);
  });

  it('should answer PROVIDER_AUTH_FAILED with Canopy code when the credentials are refused, never showing them', async () => {
    const secret = 'wrong-secret-d41d8c';
    const adapter = adapterFor({ settings: { clientId: 'sandbox-client', clientSecret: secret } });
    const error = await failureOf(apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expectKeptAnswer(error, ['canopy', 401, 'invalid_client', 'Invalid client credentials']);
    expect(
      JSON.stringify({ detail: error.detail, provider: error.provider, message: error.message }),
    ).not.toContain(secret);
    expect(await callLines()).toEqual([TOKEN]);
  });

  it('should answer PROVIDER_ERROR when the token endpoint fails with a 5xx', async () => {
    await control('/__sandbox/token-failure', { status: 503, times: 1 });
    const adapter = adapterFor();
    const error = await failureOf(apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.provider).toMatchObject({ httpStatus: 503, code: 'token_service_error' });
    // The failed mint is not cached: the next call gets a token.
    await apply({ accountId: 'acc-a', status: 'ACTIVE' }, adapter);
    expect(await callLines()).toEqual([TOKEN, TOKEN, PUT_A]);
  });
});
