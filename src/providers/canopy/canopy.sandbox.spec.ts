/** The Canopy simulator's own behaviour: auth, validation of the status write, account bodies, magic ids. */
import type { FastifyInstance } from 'fastify';
import { listenOnLoopback } from '../sandbox/sandbox-kit.js';
import { CANOPY_SANDBOX_PII } from './canopy.sandbox-state.js';
import { CANOPY_SANDBOX_SETTINGS, createCanopySandbox } from './canopy.sandbox.js';

let app: FastifyInstance;
let baseUrl: string;
let token: string;

interface Answer {
  statusCode: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, payload?: unknown, bearer?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return {
    statusCode: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  app = createCanopySandbox();
  baseUrl = await listenOnLoopback(app);
  const response = await call('POST', '/auth/token', {
    client_id: CANOPY_SANDBOX_SETTINGS.clientId,
    client_secret: CANOPY_SANDBOX_SETTINGS.clientSecret,
  });
  expect(response.body).toMatchObject({ expires_in: 22899, token_type: 'Bearer' });
  token = response.body.access_token as string;
});
afterAll(() => app.close());

const put = (accountId: string, payload: unknown, bearer = token) =>
  call('PUT', `/accounts/${accountId}/status`, payload, bearer);
const get = (accountId: string) => call('GET', `/accounts/${accountId}`, undefined, token);

describe(createCanopySandbox.name, () => {
  it('should refuse other credentials with 401 invalid_client', async () => {
    const response = await call('POST', '/auth/token', {
      client_id: CANOPY_SANDBOX_SETTINGS.clientId,
      client_secret: 'x',
    });
    expect(response.statusCode).toBe(401);
    expect(response.body).toStrictEqual({
      error: { type: 'authentication_error', code: 'invalid_client', message: 'Invalid client credentials' },
    });
  });

  it('should refuse an unknown bearer token with 401', async () => {
    const response = await put('acc-1', { account_status: 'ACTIVE' }, 'cnp_forged');
    expect(response.statusCode).toBe(401);
    expect(response.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it.each([
    [{ account_status: 'FROZEN' }, 'account_status'],
    [{ account_status: 'SUSPENDED', account_substatus: 'NOT_A_SUBSTATUS' }, 'account_substatus'],
    [{ account_status: 'ACTIVE', account_substatus: 'FRAUD' }, 'account_substatus'],
    [{ account_substatus: 'FRAUD' }, 'account_status'],
  ])('should refuse %j with a 400 validation_error on %s', async (payload, field) => {
    const response = await put('acc-v', payload);
    expect(response.statusCode).toBe(400);
    expect(response.body).toMatchObject({
      error: { type: 'invalid_request_error', code: 'validation_error', details: [{ field }] },
    });
  });

  it.each([
    { account_status: 'ACTIVE' },
    { account_status: 'ACTIVE', account_substatus: 'HARDSHIP/EXEMPTIONS' },
    { account_status: 'SUSPENDED', account_substatus: 'DELINQUENT' },
    { account_status: 'SUSPENDED', account_substatus: 'DECEASED' },
    { account_status: 'CLOSED', account_substatus: 'CHARGE_OFF' },
  ])('should accept %j and answer the whole account, personal data included', async (payload) => {
    const response = await put('acc-ok', payload);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatchObject({
      account_id: 'acc-ok',
      account_overview: {
        account_status: payload.account_status,
        account_status_subtype: payload.account_substatus ?? '',
      },
      customers: [{ ssn: CANOPY_SANDBOX_PII.ssn, email: CANOPY_SANDBOX_PII.email }],
      payment_processor_config: {
        ach: { canopy_nacha_config: { bank_account_number: CANOPY_SANDBOX_PII.bankAccountNumber } },
      },
    });
  });

  it('should show a write in a later read and let a CLOSED- account reopen', async () => {
    expect((await get('CLOSED-1')).body).toMatchObject({
      account_overview: { account_status: 'CLOSED', account_status_subtype: 'PAID_OFF' },
    });
    expect(
      (await put('CLOSED-1', { account_status: 'SUSPENDED', account_substatus: 'FRAUD' })).statusCode,
    ).toBe(200);
    expect((await get('CLOSED-1')).body).toMatchObject({
      account_overview: { account_status: 'SUSPENDED', account_status_subtype: 'FRAUD' },
    });
  });

  it.each([
    ['NOTFOUND-1', 404, { type: 'not_found', code: 'account_not_found', message: 'Account not found' }],
    [
      'RATELIMIT-1',
      429,
      { type: 'rate_limit_error', code: 'too_many_requests', message: 'Too many requests' },
    ],
    ['ERROR500-1', 500, { type: 'api_error', code: 'internal_server_error' }],
    ['FORBIDDEN-1', 403, { type: 'authorization_error', code: 'forbidden' }],
    ['REJECT-1', 400, { type: 'invalid_request_error', code: 'validation_error' }],
  ])('should answer %s with %s and a Canopy error body', async (accountId, status, error) => {
    const response = await put(accountId, { account_status: 'ACTIVE' });
    expect(response.statusCode).toBe(status);
    expect(response.body).toMatchObject({ error });
    if (status === 429) expect(response.headers.get('retry-after')).toBe('1');
  });

  it('should answer a body that is not JSON with a Canopy 400', async () => {
    const response = await fetch(`${baseUrl}/accounts/acc-1/status`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });
});
