/**
 * Canopy Servicing end to end: the real gateway over HTTP against the Canopy sandbox (built in, or
 * standalone as a "live" provider). Checks CONTRACT.md sections 3, 4 and 5 for Canopy, what the sandbox
 * received (from its call log), the client-credential token flows, and that none of the sandbox's fake
 * personal data (CANOPY_SANDBOX_PII) ever leaves the gateway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CANOPY_SANDBOX_PII } from '../src/providers/canopy/canopy.sandbox-state.js';
import {
  CANOPY_SANDBOX_SETTINGS,
  CANOPY_SANDBOX_TOKEN_LIFETIME_S,
} from '../src/providers/canopy/canopy.sandbox.js';
import { CANOPY_CHANGES } from '../src/providers/canopy/canopy.spec-support.js';
import type { SandboxCall } from '../src/providers/sandbox/sandbox-kit.js';
import { expectChange, expectDryRun, expectFailure, expectHistory, expectRead } from './support/answers.js';
import { call, expectProblem, sandboxCalls, type JsonResponse } from './support/gateway.js';
import {
  expectLiveMode,
  itMapsMagicFailures,
  listedProvider,
  sandboxControl as control,
  useProviderGateway,
  withSandboxControl,
  type ProviderSuiteOptions,
} from './support/provider-harness.js';

const PII_VALUES: string[] = Object.values(CANOPY_SANDBOX_PII);
const SECRET = CANOPY_SANDBOX_SETTINGS.clientSecret;
const SUPPORTED = ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'CLOSED'];
const BEARER = /^Bearer cnp_[A-Za-z0-9_-]{32}$/;
/** The token endpoint's answer to a wrong client secret. */
const INVALID_CLIENT = {
  id: 'canopy',
  httpStatus: 401,
  code: 'invalid_client',
  message: 'Invalid client credentials',
} as const;

let counter = 0;
/** A fresh account id per use (sandbox state persists); `prefix` may be a magic one, e.g. `NOTFOUND-`. */
const account = (prefix = '') => `${prefix}cnp-e2e-${process.pid}-${++counter}`;

/** Nothing the gateway answers (body or headers) may carry Canopy's personal data or the client secret. */
function expectClean(res: JsonResponse): void {
  const headers: string[] = [];
  res.headers.forEach((value, name) => headers.push(`${name}: ${value}`));
  const text = `${JSON.stringify(res.body ?? null)}\n${headers.join('\n')}`;
  for (const value of [...PII_VALUES, SECRET]) expect(text).not.toContain(value);
}

/** `call` toward the gateway, with the no-PII check applied to every answer. */
async function gw$(
  method: string,
  url: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const res = await call(method, url, options);
  expectClean(res);
  return res;
}

/** The calls the sandbox received for one account (status write and read). */
async function accountCalls(sandboxUrl: string, accountId: string): Promise<SandboxCall[]> {
  const paths = [`/accounts/${accountId}`, `/accounts/${accountId}/status`];
  return (await sandboxCalls(sandboxUrl)).filter((c) => paths.includes(c.url));
}

async function tokenCalls(sandboxUrl: string): Promise<SandboxCall[]> {
  return (await sandboxCalls(sandboxUrl)).filter((c) => c.method === 'POST' && c.url === '/auth/token');
}

/** A gateway for a describe block, every answer of its `api` checked by `expectClean`. */
const useCanopy = (options: ProviderSuiteOptions = {}) =>
  useProviderGateway('canopy', { ...options, check: expectClean });

/** The sandbox's account state, read straight from it (bypassing the gateway). */
async function sandboxState(sandboxUrl: string, accountId: string): Promise<unknown> {
  const token = await fetch(`${sandboxUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: CANOPY_SANDBOX_SETTINGS.clientId, client_secret: SECRET }),
  });
  const { access_token } = (await token.json()) as { access_token: string };
  const res = await fetch(`${sandboxUrl}/accounts/${accountId}`, {
    headers: { authorization: `Bearer ${access_token}` },
  });
  return ((await res.json()) as { account_overview: unknown }).account_overview;
}

describe('Canopy through the gateway (built-in sandbox)', () => {
  const cp = useCanopy();

  describe('supported statuses (CONTRACT section 5)', () => {
    it.each(CANOPY_CHANGES)(
      'should send %s (reason %s) as account_status %s, substatus %s, and answer 200 APPLIED',
      async (status, reason, canopyStatus, substatus) => {
        const id = account();
        const res = await gw$('PUT', cp.api.statusUrl(id), {
          body: reason ? { status, reason } : { status },
          headers: { 'x-request-id': `req-${id}` },
        });
        expectChange(res, 'canopy', id, {
          status,
          reason: reason ?? null,
          outcome: 'APPLIED',
          providerStatus: { status: canopyStatus, substatus },
          requestId: `req-${id}`,
        });

        const calls = await accountCalls(cp.sandbox, id);
        expect(calls).toHaveLength(1);
        expect(calls[0]).toMatchObject({ method: 'PUT', url: `/accounts/${id}/status` });
        expect(calls[0].body).toStrictEqual(
          substatus === null
            ? { account_status: canopyStatus }
            : { account_status: canopyStatus, account_substatus: substatus },
        );
        expect(calls[0].headers.authorization).toMatch(BEARER);
        expect(calls[0].headers['content-type']).toMatch(/^application\/json/);
        expect(calls[0].headers['x-request-id']).toBe(`req-${id}`);
        // The sandbox holds the pair the gateway reported.
        expect(await sandboxState(cp.sandbox, id)).toMatchObject({
          account_status: canopyStatus,
          account_status_subtype: substatus ?? '',
        });
      },
    );

    it('should list the Canopy capability matrix with CLOSED not terminal', async () => {
      const canopy = await listedProvider(cp);
      expect(canopy).toMatchObject({ mode: 'sandbox', liveRead: true });
      expect(canopy.statuses.ACTIVE.providerValueByReason.HARDSHIP).toEqual({
        status: 'ACTIVE',
        substatus: 'HARDSHIP/EXEMPTIONS',
      });
      expect(canopy.statuses.ACTIVE.providerValueByReason.FRAUD).toBeNull();
      expect(canopy.statuses.DELINQUENT.providerValue).toEqual({
        status: 'SUSPENDED',
        substatus: 'DELINQUENT',
      });
      expect(canopy.statuses.CLOSED).toMatchObject({ supported: true, terminal: false });
      expect(canopy.statuses.CLOSED.providerValueByReason.COMPLIANCE).toBeNull();
    });

    it('should set a CLOSED account ACTIVE again (CLOSED is not terminal at Canopy)', async () => {
      const id = account();
      const closed = await cp.api.put(id, { status: 'CLOSED', reason: 'PAID_OFF' });
      expect(closed.status).toBe(200);
      const reopened = await cp.api.put(id, { status: 'ACTIVE' });
      expect(reopened.status).toBe(200);
      expect(reopened.body).toMatchObject({
        status: 'ACTIVE',
        outcome: 'APPLIED',
        providerStatus: { status: 'ACTIVE', substatus: null },
      });
      const read = await cp.api.get(id);
      expect(read.body).toMatchObject({ status: 'ACTIVE', reason: null, source: 'provider' });
      const puts = (await accountCalls(cp.sandbox, id)).filter((c) => c.method === 'PUT');
      expect(puts.map((c) => c.body)).toStrictEqual([
        { account_status: 'CLOSED', account_substatus: 'PAID_OFF' },
        { account_status: 'ACTIVE' },
      ]);
    });

    it('should reactivate an account the sandbox holds CLOSED (magic CLOSED-), not answer ACCOUNT_CLOSED', async () => {
      const id = account('CLOSED-');
      const before = await cp.api.get(id);
      expect(before.body).toMatchObject({
        status: 'CLOSED',
        reason: 'PAID_OFF',
        providerStatus: { status: 'CLOSED', substatus: 'PAID_OFF' },
      });
      const res = await cp.api.put(id, { status: 'ACTIVE', reason: 'HARDSHIP' });
      expect(res.status).toBe(200);
      expect(res.body.providerStatus).toEqual({ status: 'ACTIVE', substatus: 'HARDSHIP/EXEMPTIONS' });
    });
  });

  describe('unsupported statuses', () => {
    const cases: Array<[string, string | undefined]> = [
      ['DISPUTED', undefined],
      ['DO_NOT_CONTACT', undefined],
      ['DISPUTED', 'FRAUD'],
      ['SUSPENDED', 'COMPLIANCE'],
      ['CLOSED', 'COMPLIANCE'],
      ['ACTIVE', 'FRAUD'],
      ['ACTIVE', 'CHARGED_OFF'],
      ['ACTIVE', 'COMPLIANCE'],
      ['DELINQUENT', 'FRAUD'],
      ['DELINQUENT', 'HARDSHIP'],
    ];

    it.each(cases)(
      'should refuse %s (reason %s) with 422 STATUS_NOT_SUPPORTED and call nothing',
      async (status, reason) => {
        const id = account();
        const tokensBefore = (await tokenCalls(cp.sandbox)).length;
        const res = await cp.api.put(id, reason ? { status, reason } : { status });
        const problem = expectProblem(res, 422, 'STATUS_NOT_SUPPORTED');
        expect(problem.supportedStatuses).toEqual(SUPPORTED);
        expect(problem.retryable).toBe(false);
        expect(problem.provider).toBeUndefined();
        expect(await accountCalls(cp.sandbox, id)).toEqual([]);
        expect((await tokenCalls(cp.sandbox)).length).toBe(tokensBefore);
      },
    );

    it('should record the refused attempt in the history without a provider request', async () => {
      const id = account();
      await gw$('PUT', cp.api.statusUrl(id), {
        body: { status: 'SUSPENDED', reason: 'COMPLIANCE', note: 'n1' },
      });
      expectHistory(await cp.api.history(id), 1, {
        status: 'SUSPENDED',
        reason: 'COMPLIANCE',
        note: 'n1',
        outcome: 'FAILED',
        errorCode: 'STATUS_NOT_SUPPORTED',
        providerRequest: null,
      });
    });
  });

  describe('provider errors (CONTRACT section 4)', () => {
    // CONTRACT section 5: "429 and 5xx and network errors → retried with backoff, then … PROVIDER_ERROR".
    itMapsMagicFailures(
      cp,
      {
        accountId: (magic) => account(`${magic}-`),
        statusCalls: (calls, id) =>
          calls.filter((c) => [`/accounts/${id}`, `/accounts/${id}/status`].includes(c.url)),
      },
      [
        {
          title:
            '404 account_not_found to ACCOUNT_NOT_FOUND, keeping Canopy code and message, on the live read as well',
          magic: 'NOTFOUND',
          change: { status: 'SUSPENDED' },
          code: 'ACCOUNT_NOT_FOUND',
          provider: { httpStatus: 404, code: 'account_not_found', message: 'Account not found' },
          read: true,
          also: ({ calls, accountId: id }) =>
            expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
              `PUT /accounts/${id}/status`,
              `GET /accounts/${id}`,
            ]),
        },
        {
          title: '500 to PROVIDER_ERROR (retryable), after retrying the write',
          magic: 'ERROR500',
          change: { status: 'SUSPENDED', reason: 'FRAUD' },
          code: 'PROVIDER_ERROR',
          provider: { httpStatus: 500, code: 'internal_server_error', message: 'Internal server error' },
          providerCalls: 'retried',
          also: ({ calls }) => expect(calls.every((c) => c.method === 'PUT')).toBe(true),
        },
        {
          title: '429 to RATE_LIMITED with Retry-After (retryable)',
          magic: 'RATELIMIT',
          change: { status: 'DELINQUENT' },
          code: 'RATE_LIMITED',
          provider: { httpStatus: 429, code: 'too_many_requests', message: 'Too many requests' },
          retryAfter: /^[1-9]\d*$/,
        },
        {
          title: "400 validation_error to PROVIDER_REJECTED with Canopy's message and details",
          magic: 'REJECT',
          change: { status: 'CLOSED', reason: 'FRAUD' },
          code: 'PROVIDER_REJECTED',
          provider: {
            httpStatus: 400,
            code: 'validation_error',
            message: expect.stringContaining('Account status change not allowed'),
          },
          also: ({ problem }) =>
            expect(problem.provider.message).toContain('status change not allowed for this account'),
        },
      ],
    );

    it('should map 403 forbidden to PROVIDER_AUTH_FAILED at once, without a new token or a retry', async () => {
      const id = account('FORBIDDEN-');
      const tokensBefore = (await tokenCalls(cp.sandbox)).length;
      expectFailure(await cp.api.put(id, { status: 'SUSPENDED' }), 'PROVIDER_AUTH_FAILED', {
        id: 'canopy',
        httpStatus: 403,
        code: 'forbidden',
        message: 'Client is not permitted to access this account',
      });
      expect(await accountCalls(cp.sandbox, id)).toHaveLength(1);
      expect((await tokenCalls(cp.sandbox)).length).toBe(tokensBefore);
    });

    it('should record a provider failure in the history with the provider HTTP status', async () => {
      const id = account('NOTFOUND-');
      await cp.api.put(id, { status: 'ACTIVE' });
      const history = await cp.api.history(id);
      expect(history.body.items[0]).toMatchObject({
        outcome: 'FAILED',
        errorCode: 'ACCOUNT_NOT_FOUND',
        providerHttpStatus: 404,
        providerRequest: {
          method: 'PUT',
          url: `${cp.sandbox}/accounts/${id}/status`,
          body: { account_status: 'ACTIVE' },
        },
      });
    });
  });

  describe('dry run', () => {
    it('should answer the exact provider request with an absolute URL and send nothing', async () => {
      const id = account();
      const tokensBefore = (await tokenCalls(cp.sandbox)).length;
      const res = await cp.api.dryRun(id, { status: 'SUSPENDED', reason: 'CHARGED_OFF' });
      expectDryRun(res, {
        method: 'PUT',
        url: `${cp.sandbox}/accounts/${id}/status`,
        body: { account_status: 'SUSPENDED', account_substatus: 'CHARGE_OFF' },
      });
      expect(res.body.providerRequest.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      const text = JSON.stringify(res.body);
      for (const secret of [SECRET, CANOPY_SANDBOX_SETTINGS.clientId, 'Bearer', 'cnp_', 'client_secret']) {
        expect(text).not.toContain(secret);
      }
      expect(await accountCalls(cp.sandbox, id)).toEqual([]);
      expect((await tokenCalls(cp.sandbox)).length).toBe(tokensBefore);
      // Dry runs are not recorded in the audit trail.
      const history = await cp.api.history(id);
      expect(history.body).toEqual({ items: [], nextCursor: null });
    });

    it('should answer DELINQUENT and ACTIVE without reason as the contract pairs', async () => {
      const id = account();
      const delinquent = await cp.api.dryRun(id, { status: 'DELINQUENT' });
      expect(delinquent.body.providerRequest.body).toStrictEqual({
        account_status: 'SUSPENDED',
        account_substatus: 'DELINQUENT',
      });
      const active = await cp.api.dryRun(id, { status: 'ACTIVE' });
      expect(active.body.providerRequest.body).toStrictEqual({ account_status: 'ACTIVE' });
      expect(await accountCalls(cp.sandbox, id)).toEqual([]);
    });

    it('should refuse an unsupported status in a dry run too', async () => {
      const id = account();
      const res = await cp.api.dryRun(id, { status: 'DISPUTED' });
      expect(expectProblem(res, 422, 'STATUS_NOT_SUPPORTED').supportedStatuses).toEqual(SUPPORTED);
      expect(await accountCalls(cp.sandbox, id)).toEqual([]);
    });
  });

  describe('GET status (live read)', () => {
    it('should read the status live from Canopy after a change (source "provider")', async () => {
      const id = account();
      await cp.api.put(id, { status: 'SUSPENDED', reason: 'FRAUD' });
      const res = await cp.api.get(id, { headers: { 'x-request-id': `read-${id}` } });
      expectRead(res, 'canopy', id, {
        status: 'SUSPENDED',
        reason: 'FRAUD',
        providerStatus: { status: 'SUSPENDED', substatus: 'FRAUD' },
        source: 'provider',
        asOf: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        expectedStatus: 'SUSPENDED',
        inSync: true,
      });
      const reads = (await accountCalls(cp.sandbox, id)).filter((c) => c.method === 'GET');
      expect(reads).toHaveLength(1);
      expect(reads[0].url).toBe(`/accounts/${id}`);
      expect(reads[0].headers.authorization).toMatch(BEARER);
      expect(reads[0].headers['x-request-id']).toBe(`read-${id}`);
    });

    it('should read SUSPENDED + DELINQUENT back as DELINQUENT and CHARGE_OFF as CHARGED_OFF', async () => {
      const id = account();
      await cp.api.put(id, { status: 'DELINQUENT' });
      expect((await cp.api.get(id)).body).toMatchObject({
        status: 'DELINQUENT',
        reason: null,
        providerStatus: { status: 'SUSPENDED', substatus: 'DELINQUENT' },
      });
      await cp.api.put(id, { status: 'CLOSED', reason: 'CHARGED_OFF' });
      expect((await cp.api.get(id)).body).toMatchObject({
        status: 'CLOSED',
        reason: 'CHARGED_OFF',
        providerStatus: { status: 'CLOSED', substatus: 'CHARGE_OFF' },
      });
    });

    it('should read an account never changed through the gateway as Canopy has it', async () => {
      const id = account();
      const res = await cp.api.get(id);
      expect(res.body).toMatchObject({
        status: 'ACTIVE',
        reason: null,
        providerStatus: { status: 'ACTIVE', substatus: null },
        source: 'provider',
      });
    });
  });

  describe('history', () => {
    it('should keep the provider request without credentials, newest first', async () => {
      const id = account();
      await gw$('PUT', cp.api.statusUrl(id), {
        body: { status: 'SUSPENDED', reason: 'RISK_REVIEW', note: 'first' },
      });
      await cp.api.put(id, { status: 'ACTIVE', note: 'second' });
      const res = await cp.api.history(id);
      expect(res.body.items.map((i: any) => [i.note, i.outcome, i.providerHttpStatus])).toEqual([
        ['second', 'APPLIED', 200],
        ['first', 'APPLIED', 200],
      ]);
      expect(res.body.items[1].providerRequest).toStrictEqual({
        method: 'PUT',
        url: `${cp.sandbox}/accounts/${id}/status`,
        body: { account_status: 'SUSPENDED', account_substatus: 'RISK_REVIEW' },
      });
      const text = JSON.stringify(res.body);
      expect(text).not.toContain('cnp_');
      expect(text).not.toContain('Bearer');
    });
  });

  describe('request ids and providerOptions', () => {
    it('should send the caller X-Request-Id to Canopy on the status call and echo it', async () => {
      const id = account();
      const res = await gw$('PUT', cp.api.statusUrl(id), {
        body: { status: 'SUSPENDED', reason: 'INACTIVITY' },
        headers: { 'x-request-id': 'canopy-trace-42' },
      });
      expect(res.headers.get('x-request-id')).toBe('canopy-trace-42');
      expect(res.body.requestId).toBe('canopy-trace-42');
      const [write] = await accountCalls(cp.sandbox, id);
      expect(write.headers['x-request-id']).toBe('canopy-trace-42');
    });

    it('should refuse any providerOptions key for Canopy naming providerOptions.<key>, calling nothing', async () => {
      const id = account();
      for (const key of ['foo', 'updateChildren', 'bypassZtm']) {
        const res = await gw$('PUT', cp.api.statusUrl(id), {
          body: { status: 'SUSPENDED', providerOptions: { [key]: true } },
        });
        const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(problem.errors.map((e: any) => e.field)).toEqual([`providerOptions.${key}`]);
      }
      expect(await accountCalls(cp.sandbox, id)).toEqual([]);
    });

    it('should accept an empty providerOptions object', async () => {
      const id = account();
      const res = await cp.api.put(id, { status: 'SUSPENDED', providerOptions: {} });
      expect(res.status).toBe(200);
      expect((await accountCalls(cp.sandbox, id))[0].body).toStrictEqual({ account_status: 'SUSPENDED' });
    });
  });

  describe('personal data', () => {
    it('should never write Canopy personal data or the client secret to the log', async () => {
      await new Promise<void>((resolve) => cp.gw.gateway.logger.flush(() => resolve()));
      await sleep(50);
      const logs = cp.gw.rawLogs();
      expect(logs).toContain('canopy');
      for (const value of [...PII_VALUES, SECRET]) expect(logs).not.toContain(value);
      expect(logs).not.toMatch(/cnp_[A-Za-z0-9_-]{32}/);
    });
  });
});

describe('Canopy token flows through the gateway', () => {
  const cp = useCanopy();

  const suspend = (id: string) => cp.api.put(id, { status: 'SUSPENDED' });
  /** Method and path of every call after the first `from`, tokens included, in order. */
  const callsSince = async (from: number) =>
    (await sandboxCalls(cp.sandbox)).slice(from).map((c) => `${c.method} ${c.url}`);
  const callCount = async () => (await sandboxCalls(cp.sandbox)).length;
  /** The calls of one request whose token was refused: the call, the one token request, the call again. */
  const renewedOnce = (call: string) => [call, 'POST /auth/token', call];
  const defaultLifetime = { seconds: CANOPY_SANDBOX_TOKEN_LIFETIME_S };

  it('should share one token request among 8 parallel first requests', async () => {
    const ids = Array.from({ length: 8 }, () => account());
    const answers = await Promise.all(ids.map(suspend));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const tokens = await tokenCalls(cp.sandbox);
    expect(tokens).toHaveLength(1);
    expect(tokens[0].body).toStrictEqual({
      client_id: CANOPY_SANDBOX_SETTINGS.clientId,
      client_secret: SECRET,
    });
    const writes = (await sandboxCalls(cp.sandbox)).filter((c) => c.method === 'PUT');
    expect(writes).toHaveLength(8);
    expect(new Set(writes.map((c) => c.headers.authorization)).size).toBe(1);
  });

  it('should reuse the token across later requests (writes and reads)', async () => {
    const from = await callCount();
    const [a, b] = [account(), account()];
    await suspend(a);
    await cp.api.put(b, { status: 'CLOSED' });
    await cp.api.get(a);
    const calls = (await sandboxCalls(cp.sandbox)).slice(from);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `PUT /accounts/${a}/status`,
      `PUT /accounts/${b}/status`,
      `GET /accounts/${a}`,
    ]);
    const first = (await sandboxCalls(cp.sandbox)).find((c) => c.method === 'PUT')!;
    for (const c of calls) expect(c.headers.authorization).toBe(first.headers.authorization);
  });

  it('should get one new token and retry once when an expired token is answered 403 not_authorized', async () => {
    await control(cp.sandbox, 'expire-tokens');
    const from = await callCount();
    const id = account();
    const res = await suspend(id);
    expect(res.status).toBe(200);
    expect(res.body.providerStatus).toEqual({ status: 'SUSPENDED', substatus: null });
    expect(await callsSince(from)).toEqual(renewedOnce(`PUT /accounts/${id}/status`));
    const [stale, , fresh] = (await sandboxCalls(cp.sandbox)).slice(from);
    expect(fresh.headers.authorization).toMatch(BEARER);
    expect(fresh.headers.authorization).not.toBe(stale.headers.authorization);
    // The new token is reused afterwards.
    const next = account();
    await suspend(next);
    const last = (await sandboxCalls(cp.sandbox)).at(-1)!;
    expect(last.url).toBe(`/accounts/${next}/status`);
    expect(last.headers.authorization).toBe(fresh.headers.authorization);
  });

  it('should do the same when an expired token is answered 401', async () => {
    await withSandboxControl(
      cp.sandbox,
      'expired-token-status',
      [{ status: 401 }, { status: 403 }],
      async () => {
        await control(cp.sandbox, 'expire-tokens');
        const from = await callCount();
        const id = account();
        expect((await cp.api.get(id)).status).toBe(200);
        expect(await callsSince(from)).toEqual(renewedOnce(`GET /accounts/${id}`));
      },
    );
  });

  it('should recover from a 401 token_expired mid-flight (AUTHEXPIRED-) with one new token', async () => {
    const from = await callCount();
    const id = account('AUTHEXPIRED-');
    const res = await suspend(id);
    expect(res.status).toBe(200);
    expect(await callsSince(from)).toEqual(renewedOnce(`PUT /accounts/${id}/status`));
  });

  it('should share one new token among 8 parallel requests whose token expired', async () => {
    await control(cp.sandbox, 'expire-tokens');
    const from = await callCount();
    const ids = Array.from({ length: 8 }, () => account());
    const answers = await Promise.all(ids.map(suspend));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const calls = await callsSince(from);
    expect(calls.filter((c) => c === 'POST /auth/token')).toHaveLength(1);
    for (const id of ids) {
      expect(calls.filter((c) => c === `PUT /accounts/${id}/status`).length).toBeLessThanOrEqual(2);
    }
  });

  it('should fetch a new token before the old one runs out (expires_in honoured)', async () => {
    // Tokens issued now live 61 s; the gateway renews 60 s early, so this one is usable for ~1 s.
    await withSandboxControl(cp.sandbox, 'token-lifetime', [{ seconds: 61 }, defaultLifetime], async () => {
      await control(cp.sandbox, 'expire-tokens');
      const warm = account();
      await suspend(warm); // 403 → new (61 s) token → retry
      const from = await callCount();
      const soon = account();
      await suspend(soon);
      expect(await callsSince(from)).toEqual([`PUT /accounts/${soon}/status`]);
      await sleep(1_100);
      const late = account();
      await suspend(late);
      // Renewed ahead of expiry: the new token is fetched first, no call is refused.
      expect(await callsSince(from + 1)).toEqual(['POST /auth/token', `PUT /accounts/${late}/status`]);
    });
  });

  it('should answer PROVIDER_AUTH_FAILED after exactly one re-authentication when the new token is refused too', async () => {
    // Every token is expired on issue: the first call and its one retry are both refused.
    await withSandboxControl(cp.sandbox, 'token-lifetime', [{ seconds: 0 }, defaultLifetime], async () => {
      await control(cp.sandbox, 'expire-tokens');
      const from = await callCount();
      const id = account();
      expectFailure(await suspend(id), 'PROVIDER_AUTH_FAILED', {
        id: 'canopy',
        httpStatus: 403,
        code: 'not_authorized',
        message: 'Not authorized',
      });
      expect(await callsSince(from)).toEqual(renewedOnce(`PUT /accounts/${id}/status`));
    }).finally(() => control(cp.sandbox, 'expire-tokens'));
  });

  it('should retry a token endpoint 5xx: a passing outage is absorbed, a lasting one answers PROVIDER_ERROR', async () => {
    await control(cp.sandbox, 'expire-tokens');
    await control(cp.sandbox, 'token-failure', { status: 503, times: 1 });
    const from = await callCount();
    expect((await suspend(account())).status).toBe(200);
    expect((await callsSince(from)).filter((c) => c === 'POST /auth/token')).toHaveLength(2);

    await control(cp.sandbox, 'expire-tokens');
    await control(cp.sandbox, 'token-failure', { status: 503, times: 100 });
    const id = account();
    const problem = expectProblem(await suspend(id), 502, 'PROVIDER_ERROR');
    expect(problem).toMatchObject({
      retryable: true,
      provider: { id: 'canopy', httpStatus: 503, code: 'token_service_error' },
    });
    await control(cp.sandbox, 'token-failure', { status: 503, times: 0 });
    expect((await suspend(id)).status).toBe(200);
  });

  it('should answer PROVIDER_AUTH_FAILED (not ACCOUNT_NOT_FOUND) when the token endpoint answers 404', async () => {
    await control(cp.sandbox, 'expire-tokens');
    await control(cp.sandbox, 'token-failure', { status: 404, times: 1 });
    const problem = expectProblem(await suspend(account()), 502, 'PROVIDER_AUTH_FAILED');
    expect(problem.provider).toMatchObject({ id: 'canopy', httpStatus: 404, code: 'token_service_error' });
  });
});

describe('Canopy in live mode (standalone sandbox at CANOPY_BASE_URL)', () => {
  const cp = useCanopy({
    live: { CANOPY_CLIENT_ID: CANOPY_SANDBOX_SETTINGS.clientId, CANOPY_CLIENT_SECRET: SECRET },
  });

  it('should report canopy as live and point it at CANOPY_BASE_URL', async () => {
    await expectLiveMode(cp);
  });

  it("should send exactly the contract's token and status requests to the live URL", async () => {
    const id = account();
    const res = await gw$('PUT', cp.api.statusUrl(id), {
      body: { status: 'CLOSED', reason: 'CHARGED_OFF' },
      headers: { 'x-request-id': 'live-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      outcome: 'APPLIED',
      providerStatus: { status: 'CLOSED', substatus: 'CHARGE_OFF' },
    });
    const calls = await sandboxCalls(cp.sandbox);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /auth/token',
      `PUT /accounts/${id}/status`,
    ]);
    expect(calls[0].body).toStrictEqual({
      client_id: CANOPY_SANDBOX_SETTINGS.clientId,
      client_secret: SECRET,
    });
    expect(calls[0].headers.authorization).toBeUndefined();
    expect(calls[1].body).toStrictEqual({ account_status: 'CLOSED', account_substatus: 'CHARGE_OFF' });
    expect(calls[1].headers.authorization).toMatch(BEARER);
    expect(calls[1].headers['x-request-id']).toBe('live-1');

    const read = await cp.api.get(id);
    expect(read.body).toMatchObject({ status: 'CLOSED', reason: 'CHARGED_OFF', source: 'provider' });
    const after = await sandboxCalls(cp.sandbox);
    expect(after.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /auth/token',
      `PUT /accounts/${id}/status`,
      `GET /accounts/${id}`,
    ]);
    expect(after[2].headers.authorization).toBe(calls[1].headers.authorization);
  });

  it('should dry-run against the live URL without credentials and without calling it', async () => {
    const id = account();
    const before = (await sandboxCalls(cp.sandbox)).length;
    expectDryRun(await cp.api.dryRun(id, { status: 'DELINQUENT' }), {
      method: 'PUT',
      url: `${cp.sandbox}/accounts/${id}/status`,
      body: { account_status: 'SUSPENDED', account_substatus: 'DELINQUENT' },
    });
    expect((await sandboxCalls(cp.sandbox)).length).toBe(before);
  });
});

describe('Canopy in live mode with wrong credentials', () => {
  const cp = useCanopy({
    live: { CANOPY_CLIENT_ID: CANOPY_SANDBOX_SETTINGS.clientId, CANOPY_CLIENT_SECRET: 'not-the-secret-5f2a' },
  });

  it('should answer 502 PROVIDER_AUTH_FAILED with invalid_client and send no status call', async () => {
    const id = account();
    const res = await cp.api.put(id, { status: 'SUSPENDED' });
    const problem = expectFailure(res, 'PROVIDER_AUTH_FAILED', INVALID_CLIENT);
    expect(JSON.stringify(problem)).not.toContain('not-the-secret-5f2a');
    const calls = await sandboxCalls(cp.sandbox);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /auth/token']);
    expect(calls[0].body).toStrictEqual({
      client_id: CANOPY_SANDBOX_SETTINGS.clientId,
      client_secret: 'not-the-secret-5f2a',
    });
  });

  it('should answer PROVIDER_AUTH_FAILED on the live read too', async () => {
    expectFailure(await cp.api.get(account()), 'PROVIDER_AUTH_FAILED', INVALID_CLIENT);
    await new Promise<void>((resolve) => cp.gw.gateway.logger.flush(() => resolve()));
    await sleep(50);
    expect(cp.gw.rawLogs()).not.toContain('not-the-secret-5f2a');
  });
});

describe('Canopy timeouts', () => {
  // Timeouts, not the breaker, are under test here: keep the circuit closed through repeated timeouts.
  const cp = useCanopy({
    env: { CANOPY_TIMEOUT_MS: '300', CIRCUIT_FAILURE_THRESHOLD: '1000' },
    // Warm the token so the timed calls below measure the status call alone.
    ready: async (suite) => {
      await suite.api.get(account());
    },
  });

  it('should answer 504 PROVIDER_TIMEOUT within timeout × attempts plus a margin for a slow status write', async () => {
    const id = account('SLOW700-');
    const started = Date.now();
    const res = await cp.api.put(id, { status: 'SUSPENDED' });
    const elapsed = Date.now() - started;
    const problem = expectProblem(res, 504, 'PROVIDER_TIMEOUT');
    expect(problem.retryable).toBe(true);
    expect(elapsed).toBeLessThan(2_500);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect((await accountCalls(cp.sandbox, id)).length).toBeGreaterThanOrEqual(1);
  });

  it('should answer 504 PROVIDER_TIMEOUT for a slow live read', async () => {
    const started = Date.now();
    const res = await cp.api.get(account('SLOW700-'));
    expectProblem(res, 504, 'PROVIDER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('should still answer a fast account on the same gateway', async () => {
    const res = await cp.api.put(account('SLOW50-'), { status: 'ACTIVE' });
    expect(res.status).toBe(200);
  });
});
