/** The s2s flow (PISMO_AUTH=s2s): today's requests, unchanged. The OpenID flow: pismo.adapter-openid.spec.ts. */
import type { SandboxCall } from '../sandbox/sandbox-kit.js';
import {
  expectKeptAnswer,
  failureOf,
  prepareThrough,
  SandboxHarness,
} from '../sandbox/sandbox.spec-harness.js';
import { PismoAdapter } from './pismo.adapter.js';
import { pismoProvider } from './index.js';
import { PISMO_SANDBOX_SETTINGS } from './pismo.sandbox.js';

/** Per-account Pismo tokens against the real sandbox: binding, reuse, re-mint, single flight. */
const TOKEN_PATH = '/passport/v2/s2s/access-token';
const ctx = { requestId: 'req-pismo-auth' };

const sandbox = SandboxHarness.forSpec(pismoProvider);

function adapterFor(serverSecret = PISMO_SANDBOX_SETTINGS.serverSecret): PismoAdapter {
  return new PismoAdapter(sandbox.endpoint({ ...PISMO_SANDBOX_SETTINGS, serverSecret, auth: 's2s' }));
}

const calls = () => sandbox.calls();

const control = (path: string, body?: object) => sandbox.control(path, body);

const tokenCalls = (all: SandboxCall[]) => all.filter((c) => c.url === TOKEN_PATH);
const accountCalls = (all: SandboxCall[]) => all.filter((c) => c.url !== TOKEN_PATH);

function uidOf(authorization: unknown): string {
  const token = String(authorization).replace(/^Bearer /, '');
  return (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { uid: string }).uid;
}

/** The account id in a status/read path. */
const accountOf = (call: SandboxCall) => decodeURIComponent(/corporate-accounts\/([^/]+)/.exec(call.url)![1]);

async function suspend(adapter: PismoAdapter, accountId: string) {
  const prepared = await prepareThrough(adapter, { accountId, status: 'SUSPENDED' }, ctx);
  return adapter.applyChange(prepared, ctx);
}

const failure = failureOf;

describe(`${PismoAdapter.name} account tokens`, () => {
  it('should mint one token per account and never send one account’s token for another', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'ACC-A');
    await suspend(adapter, 'ACC-B');
    await adapter.readStatus('ACC-A', ctx);
    await adapter.readStatus('ACC-B', ctx);

    const all = await calls();
    expect(tokenCalls(all).map((c) => c.body)).toEqual([
      {
        server_key: PISMO_SANDBOX_SETTINGS.serverKey,
        server_secret: PISMO_SANDBOX_SETTINGS.serverSecret,
        account_id: 'ACC-A',
      },
      {
        server_key: PISMO_SANDBOX_SETTINGS.serverKey,
        server_secret: PISMO_SANDBOX_SETTINGS.serverSecret,
        account_id: 'ACC-B',
      },
    ]);
    const used = accountCalls(all);
    expect(used).toHaveLength(4);
    for (const call of used) expect(uidOf(call.headers.authorization)).toBe(accountOf(call));
    const tokenFor = (id: string) =>
      new Set(used.filter((c) => accountOf(c) === id).map((c) => c.headers.authorization));
    expect(tokenFor('ACC-A').size).toBe(1);
    expect(tokenFor('ACC-B').size).toBe(1);
    expect([...tokenFor('ACC-A')][0]).not.toBe([...tokenFor('ACC-B')][0]);
  });

  it('should reuse an account’s token for later writes and reads', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'ACC-A');
    await suspend(adapter, 'ACC-A');
    await adapter.readStatus('ACC-A', ctx);

    const all = await calls();
    expect(tokenCalls(all)).toHaveLength(1);
    expect(new Set(accountCalls(all).map((c) => c.headers.authorization)).size).toBe(1);
  });

  it('should mint anew once after a 401 for an expired token and retry with the new one', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'ACC-A');
    await control('expire-tokens');

    expect(await suspend(adapter, 'ACC-A')).toMatchObject({ outcome: 'APPLIED' });
    const all = await calls();
    expect(all.map((c) => c.method)).toEqual(['POST', 'PATCH', 'PATCH', 'POST', 'PATCH']);
    expect(all[2].headers.authorization).toBe(all[1].headers.authorization);
    expect(all[4].headers.authorization).not.toBe(all[2].headers.authorization);
    expect(uidOf(all[4].headers.authorization)).toBe('ACC-A');
  });

  it('should recover from a token that expires mid-flight (AUTHEXPIRED-)', async () => {
    expect(await suspend(adapterFor(), 'AUTHEXPIRED-1')).toMatchObject({ outcome: 'APPLIED' });
    const all = await calls();
    expect(tokenCalls(all)).toHaveLength(2);
    const [first, second] = accountCalls(all);
    expect(first.headers.authorization).not.toBe(second.headers.authorization);
  });

  it('should give up with PROVIDER_AUTH_FAILED when the new token is refused too', async () => {
    await control('token-lifetime', { seconds: 0 });

    const error = await failure(suspend(adapterFor(), 'ACC-A'));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expectKeptAnswer(error, ['pismo', 401, 'EPSP0401', 'Unauthorized']);
    const all = await calls();
    expect(tokenCalls(all)).toHaveLength(2);
    expect(accountCalls(all)).toHaveLength(2);
  });

  it('should answer PROVIDER_AUTH_FAILED with Pismo’s code when the credentials are refused, without leaking them', async () => {
    const error = await failure(suspend(adapterFor('wrong-secret'), 'ACC-A'));
    expect(error.code).toBe('PROVIDER_AUTH_FAILED');
    expectKeptAnswer(error, ['pismo', 401, 'EPSP0001', 'Invalid credentials']);
    expect(JSON.stringify({ detail: error.detail, provider: error.provider })).not.toContain('wrong-secret');
    expect(accountCalls(await calls())).toEqual([]);
  });

  it('should answer PROVIDER_ERROR when the token endpoint fails', async () => {
    await control('token-outage', { enabled: true });
    const error = await failure(suspend(adapterFor(), 'ACC-A'));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.provider).toMatchObject({ httpStatus: 500, code: 'ECMN9999' });
    expect(accountCalls(await calls())).toEqual([]);
  });

  it('should share one mint among concurrent calls for one account', async () => {
    const adapter = adapterFor();
    const results = await Promise.all(Array.from({ length: 10 }, () => suspend(adapter, 'ACC-A')));

    expect(results.every((r) => r.outcome === 'APPLIED')).toBe(true);
    const all = await calls();
    expect(tokenCalls(all)).toHaveLength(1);
    expect(accountCalls(all)).toHaveLength(10);
    expect(new Set(accountCalls(all).map((c) => c.headers.authorization)).size).toBe(1);
  });

  it('should mint separately for different accounts called concurrently', async () => {
    const adapter = adapterFor();
    await Promise.all(
      ['ACC-A', 'ACC-B', 'ACC-A', 'ACC-B', 'ACC-C', 'ACC-A'].map((id) => suspend(adapter, id)),
    );

    const all = await calls();
    expect(
      tokenCalls(all)
        .map((c) => (c.body as { account_id: string }).account_id)
        .sort(),
    ).toEqual(['ACC-A', 'ACC-B', 'ACC-C']);
    for (const call of accountCalls(all)) expect(uidOf(call.headers.authorization)).toBe(accountOf(call));
  });

  it('should re-mint once for a burst of calls rejected with the same expired token', async () => {
    const adapter = adapterFor();
    await suspend(adapter, 'ACC-A');
    await control('expire-tokens');

    await Promise.all(Array.from({ length: 5 }, () => suspend(adapter, 'ACC-A')));
    expect(tokenCalls(await calls())).toHaveLength(2);
  });
});
