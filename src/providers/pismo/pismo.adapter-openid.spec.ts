/**
 * The OpenID flow (PISMO_AUTH=openid, the corporate default) against the real sandbox over HTTP: the
 * adapter signs an RS256 assertion bound to the external account id and exchanges it for an account
 * token; the sandbox verifies the signature with the public half of the gateway's key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { SandboxCall } from '../sandbox/sandbox-kit.js';
import { applyThrough, failureOf, SandboxHarness } from '../sandbox/sandbox.spec-harness.js';
import { pismoProvider } from './index.js';
import { PismoAdapter } from './pismo.adapter.js';
import { PISMO_SANDBOX_SETTINGS, PISMO_SANDBOX_TENANT } from './pismo.sandbox.js';

const OPENID_PATH = '/passport/v1/oauth2/token';
const S2S_PATH = '/passport/v2/s2s/access-token';
const ctx = { requestId: 'req-pismo-openid' };
const sandbox = SandboxHarness.forSpec(pismoProvider);

function adapterFor(settings: Partial<typeof PISMO_SANDBOX_SETTINGS> = {}): PismoAdapter {
  return new PismoAdapter(sandbox.endpoint({ ...PISMO_SANDBOX_SETTINGS, auth: 'openid', ...settings }));
}

const suspend = (adapter: PismoAdapter, accountId: string) =>
  applyThrough(adapter, { accountId, status: 'SUSPENDED' }, ctx);
const mints = (calls: SandboxCall[]) => calls.filter((c) => c.url === OPENID_PATH);
const accountCalls = (calls: SandboxCall[]) => calls.filter((c) => !c.url.startsWith('/passport/'));
const assertionOf = (call: SandboxCall) => (call.body as { token: string }).token;
/** The account the sandbox bound a bearer to (its `uid` claim). */
const boundTo = (call: SandboxCall) =>
  decodeJwt(String(call.headers.authorization).replace(/^Bearer /, '')).uid as string;

describe(`${PismoAdapter.name} OpenID account tokens`, () => {
  it('should sign an RS256 assertion bound to the external account id, exchange it, then change and read with that token', async () => {
    const adapter = adapterFor();
    const result = await suspend(adapter, 'EXT-1');
    expect(result).toMatchObject({ outcome: 'APPLIED', providerStatus: 'BLOCKED', providerHttpStatus: 204 });
    const reading = await adapter.readStatus('EXT-1', ctx);
    expect(reading).toMatchObject({ status: 'SUSPENDED', providerStatus: 'BLOCKED' });

    const calls = await sandbox.calls();
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `POST ${OPENID_PATH}`,
      'PATCH /corporate/v2/corporate-accounts/EXT-1/status',
      'GET /corporate/v1/corporate-accounts/EXT-1',
    ]);
    expect(calls.some((c) => c.url === S2S_PATH)).toBe(false);
    expect(Object.keys(calls[0].body as object)).toEqual(['token']);
    const assertion = assertionOf(calls[0]);
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    const claims = decodeJwt(assertion);
    expect(claims).toMatchObject({
      tenant_id: PISMO_SANDBOX_TENANT,
      external_account_id: 'EXT-1',
      iss: PISMO_SANDBOX_TENANT,
      sub: 'EXT-1',
      aud: sandbox.baseUrl,
    });
    expect(claims.exp! - claims.iat!).toBeGreaterThan(0);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(typeof claims.jti).toBe('string');
    expect(boundTo(calls[1])).toBe('EXT-1');
    expect(calls[2].headers.authorization).toBe(calls[1].headers.authorization);
  });

  it('should use PISMO_JWT_ISSUER and PISMO_JWT_AUDIENCE when set', async () => {
    await suspend(adapterFor({ jwtIssuer: 'gateway-iss', jwtAudience: 'https://pismo.example' }), 'EXT-2');
    const claims = decodeJwt(assertionOf(mints(await sandbox.calls())[0]));
    expect(claims).toMatchObject({ iss: 'gateway-iss', aud: 'https://pismo.example' });
  });

  it('should mint one token per account, with a unique jti each, and never send one account’s token for another', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'ACC-A');
    await suspend(adapter, 'ACC-B');
    await adapter.readStatus('ACC-A', ctx);
    const calls = await sandbox.calls();
    const assertions = mints(calls)
      .map(assertionOf)
      .map((a) => decodeJwt(a));
    expect(assertions.map((c) => c.external_account_id)).toEqual(['ACC-A', 'ACC-B']);
    expect(new Set(assertions.map((c) => c.jti)).size).toBe(2);
    for (const call of accountCalls(calls)) expect(call.url).toContain(boundTo(call));
  });

  it('should have the sandbox refuse a token bound to account A on account B', async () => {
    await suspend(adapterFor(), 'ACC-A');
    const tokenForA = accountCalls(await sandbox.calls())[0].headers.authorization as string;
    const response = await fetch(`${sandbox.baseUrl}/corporate/v1/corporate-accounts/ACC-B`, {
      headers: { authorization: tokenForA },
    });
    expect(response.status).toBe(403);
  });

  it('should mint once more, and only once, when the token has expired', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'EXT-3');
    await sandbox.control('expire-tokens');
    await suspend(adapter, 'EXT-3');
    await adapter.readStatus('EXT-3', ctx);
    const calls = await sandbox.calls();
    expect(mints(calls)).toHaveLength(2);
    expect(accountCalls(calls).map((c) => c.method)).toEqual(['PATCH', 'PATCH', 'PATCH', 'GET']);
  });

  it('should share one mint among 8 parallel calls for one account', async () => {
    const adapter = adapterFor();
    await Promise.all(Array.from({ length: 8 }, () => adapter.readStatus('EXT-4', ctx)));
    expect(mints(await sandbox.calls())).toHaveLength(1);
  });

  it('should be refused by the sandbox (PROVIDER_AUTH_FAILED, no account call) when signed with another key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const adapter = adapterFor({ privateKey: other.export({ type: 'pkcs8', format: 'pem' }).toString() });
    const error = await failureOf(suspend(adapter, 'EXT-5'));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expect(error.provider).toMatchObject({ httpStatus: 401, code: 'EPSP0002' });
    expect(accountCalls(await sandbox.calls())).toEqual([]);
  });

  it('should be refused by the sandbox for another tenant', async () => {
    const error = await failureOf(suspend(adapterFor({ tenantId: 'TN-OTHER' }), 'EXT-6'));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
  });

  it('should have the sandbox refuse a replayed assertion', async () => {
    await suspend(adapterFor(), 'EXT-7');
    const assertion = assertionOf(mints(await sandbox.calls())[0]);
    const replay = await fetch(`${sandbox.baseUrl}${OPENID_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: assertion }),
    });
    expect(replay.status).toBe(401);
  });
});

describe(`${PismoAdapter.name} s2s account tokens (PISMO_AUTH=s2s)`, () => {
  it('should send exactly the s2s request, then change and read with that token', async () => {
    const adapter = adapterFor({ auth: 's2s' });
    await suspend(adapter, 'EXT-8');
    await adapter.readStatus('EXT-8', ctx);
    const calls = await sandbox.calls();
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `POST ${S2S_PATH}`,
      'PATCH /corporate/v2/corporate-accounts/EXT-8/status',
      'GET /corporate/v1/corporate-accounts/EXT-8',
    ]);
    expect(calls[0].body).toEqual({
      server_key: PISMO_SANDBOX_SETTINGS.serverKey,
      server_secret: PISMO_SANDBOX_SETTINGS.serverSecret,
      account_id: 'EXT-8',
    });
  });

  it('should default to s2s with the regular accounts API', async () => {
    const adapter = adapterFor({ auth: undefined, accountApi: 'accounts' });
    await applyThrough(adapter, { accountId: '7100', status: 'SUSPENDED' }, ctx);
    expect((await sandbox.calls())[0].url).toBe(S2S_PATH);
  });

  it('should default to OpenID with the corporate API', async () => {
    await suspend(adapterFor({ auth: undefined }), 'EXT-9');
    expect((await sandbox.calls())[0].url).toBe(OPENID_PATH);
  });
});
