import type { FastifyInstance } from 'fastify';
import { listenOnLoopback } from '../sandbox/sandbox-kit.js';
import { PISMO_SANDBOX_SETTINGS, createPismoSandbox } from './pismo.sandbox.js';

/** The simulator's own rules, checked over raw HTTP (the adapter never sends most of these). */
let sandbox: FastifyInstance;
let baseUrl: string;

async function tokenFor(accountId: string): Promise<string> {
  const response = await fetch(`${baseUrl}/passport/v2/s2s/access-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      server_key: PISMO_SANDBOX_SETTINGS.serverKey,
      server_secret: PISMO_SANDBOX_SETTINGS.serverSecret,
      account_id: accountId,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

async function patchCorporate(accountId: string, body: string, token?: string) {
  const response = await fetch(
    `${baseUrl}/corporate/v2/corporate-accounts/${encodeURIComponent(accountId)}/status`,
    {
      method: 'PATCH',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token ?? (await tokenFor(accountId))}`,
      },
      body,
    },
  );
  return {
    status: response.status,
    body: response.status === 204 ? undefined : await response.json(),
  };
}

beforeAll(async () => {
  sandbox = createPismoSandbox();
  baseUrl = await listenOnLoopback(sandbox);
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  await fetch(`${baseUrl}/__sandbox/reset`, { method: 'POST' });
});

describe(createPismoSandbox.name, () => {
  it('should refuse a token bound to another account with 403', async () => {
    const tokenOfA = await tokenFor('ACC-A');
    expect(await patchCorporate('ACC-B', '{"status":"BLOCKED"}', tokenOfA)).toEqual({
      status: 403,
      body: { code: 'EPSP0403', message: 'Token does not grant access to this account' },
    });
  });

  it('should refuse calls without a token with 401', async () => {
    expect(await patchCorporate('ACC-A', '{"status":"BLOCKED"}', 'not-a-token')).toEqual({
      status: 401,
      body: { code: 'EPSP0401', message: 'Unauthorized' },
    });
  });

  const refusals: Array<[string, string, number, string]> = [
    ['bad JSON', '{"status":', 400, 'WCAC0013'],
    ['a non-object body', '["BLOCKED"]', 400, 'WCAC0013'],
    ['neither status nor reason', '{}', 400, 'WCAC0005'],
    ['a status longer than 9 characters', '{"status":"BLOCKED_ABCD"}', 400, 'WCAC0005'],
    ['a lower-case status', '{"status":"blocked"}', 400, 'WCAC0005'],
    [
      'a reason longer than 120 characters',
      JSON.stringify({ status: 'BLOCKED', reason_external_id: 'R'.repeat(121) }),
      400,
      'WCAC0005',
    ],
    ['an unknown status', '{"status":"FROZEN"}', 404, 'WCAC0020'],
    ['an unknown reason', '{"status":"BLOCKED","reason_external_id":"NOPE"}', 404, 'WCAC0021'],
    ['a final target status', '{"status":"CANCELLED"}', 400, 'WCAC0036'],
    ['a dormancy target status', '{"status":"DORMANT"}', 400, 'WCAC0034'],
  ];
  for (const [what, body, status, code] of refusals) {
    it(`should answer ${status} ${code} to ${what} on the corporate endpoint`, async () => {
      const answer = await patchCorporate('ACC-A', body);
      expect(answer.status).toBe(status);
      expect(answer.body).toMatchObject({ code });
    });
  }

  it('should change only the reason when no status is sent', async () => {
    expect(await patchCorporate('ACC-A', '{"reason_external_id":"FRAUD"}')).toEqual({
      status: 204,
      body: undefined,
    });
    const token = await tokenFor('ACC-A');
    const read = await fetch(`${baseUrl}/corporate/v1/corporate-accounts/ACC-A`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await read.json()).toMatchObject({
      external_account_id: 'ACC-A',
      status: 'NORMAL',
      reason_external_id: 'FRAUD',
    });
  });

  it('should allow CANCELLED on the accounts endpoint and refuse changes afterwards', async () => {
    const token = await tokenFor('77');
    const patch = (body: object) =>
      fetch(`${baseUrl}/accounts/v2/accounts/77/status`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    expect((await patch({ status: 'CANCELLED' })).status).toBe(204);
    const again = await patch({ status: 'NORMAL' });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ message: 'Account is in a final status' });
  });

  it('should issue tokens that expire after the configured lifetime', async () => {
    await fetch(`${baseUrl}/__sandbox/token-lifetime`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"seconds":0}',
    });
    expect((await patchCorporate('ACC-A', '{"status":"BLOCKED"}')).status).toBe(401);
  });
});
