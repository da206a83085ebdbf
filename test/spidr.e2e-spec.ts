/**
 * Spidr end to end: the real gateway over HTTP against the Spidr sandbox (built in, or standalone as a
 * "live" provider), checking CONTRACT.md sections 3, 4 and 5 for Spidr. What the sandbox received is read
 * from its call log; every test uses its own account ids.
 */
import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import { SPIDR_API_KEY_HEADER } from '../src/providers/spidr/spidr.wire.js';
import type { SandboxCall } from '../src/providers/sandbox/sandbox-kit.js';
import { expectChange, expectDryRun, expectFailure, expectHistory, expectRead } from './support/answers.js';
import { call, expectProblem, flushLogs, sandboxCalls, type JsonResponse } from './support/gateway.js';
import {
  expectLiveMode,
  itMapsMagicFailures,
  listedProvider,
  useProviderGateway,
} from './support/provider-harness.js';

const API_KEY = SPIDR_SANDBOX_SETTINGS.apiKey;
const AUTH_HEADER = SPIDR_API_KEY_HEADER.name;
const AUTH_VALUE = SPIDR_API_KEY_HEADER.value(API_KEY);
/** Spidr's answer to an API key it refuses. */
const KEY_REFUSED = {
  id: 'spidr',
  httpStatus: 401,
  code: 'UNAUTHORIZED',
  message: 'Invalid or missing API key',
} as const;
const SUPPORTED = ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'CLOSED'];

let counter = 0;
/** A fresh account id; a magic prefix (NOTFOUND-, CLOSED-, …) goes first. */
function accountId(prefix = 'e2e'): string {
  counter += 1;
  return `${prefix}-spidr-${process.pid}-${counter}`;
}

/** The calls a sandbox received for one account (the path Spidr's adapter builds: /v1/account/{id}). */
async function callsFor(baseUrl: string, id: string): Promise<SandboxCall[]> {
  const path = `/v1/account/${encodeURIComponent(id)}`;
  return (await sandboxCalls(baseUrl)).filter((c) => c.url === path || c.url.startsWith(`${path}?`));
}

/** The fake personal data the sandbox holds for an account, read straight from the sandbox. */
async function personalDataOf(baseUrl: string, id: string): Promise<string[]> {
  const response = await fetch(`${baseUrl}/v1/account/${encodeURIComponent(id)}`, {
    headers: { [AUTH_HEADER]: AUTH_VALUE },
  });
  const account = (await response.json()) as Record<string, any>;
  const pii = [
    account.firstName,
    account.lastName,
    account.email,
    account.phone,
    account.userId,
    account.shippingAddress?.line1,
  ];
  expect(pii.every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
  return pii as string[];
}

function expectNoneOf(responses: JsonResponse[], forbidden: string[]): void {
  for (const response of responses) {
    const text = JSON.stringify(response.body);
    for (const value of forbidden) expect(text).not.toContain(value);
  }
}

function expectIsoDate(value: unknown): void {
  expect(typeof value).toBe('string');
  expect(new Date(value as string).toISOString()).toBe(value);
}

describe('Spidr through the gateway (built-in sandbox)', () => {
  const sp = useProviderGateway('spidr');

  describe('capabilities', () => {
    it('should list Spidr in sandbox mode with the section 5 translation', async () => {
      const spidr = await listedProvider(sp);
      expect(spidr).toMatchObject({ name: 'Spidr', mode: 'sandbox', circuit: 'closed', liveRead: true });
      expect(spidr.statuses.ACTIVE).toMatchObject({
        supported: true,
        providerValue: 'active',
        terminal: false,
      });
      expect(spidr.statuses.SUSPENDED).toMatchObject({
        supported: true,
        providerValue: 'suspended',
        terminal: false,
      });
      expect(spidr.statuses.DELINQUENT).toMatchObject({
        supported: true,
        providerValue: 'delinquent',
        terminal: false,
      });
      expect(spidr.statuses.DISPUTED).toMatchObject({ supported: false, terminal: false });
      expect(spidr.statuses.DO_NOT_CONTACT).toMatchObject({ supported: false, terminal: false });
      expect(spidr.statuses.CLOSED).toMatchObject({
        supported: true,
        providerValue: 'close_with_refund',
        terminal: true,
      });
    });
  });

  describe('supported statuses, end to end', () => {
    // [canonical status, reason, Spidr value sent, canonical reason read back, statusReason read back]
    const cases: Array<[string, string | undefined, string, string | null, string | null]> = [
      ['ACTIVE', undefined, 'active', null, null],
      ['ACTIVE', 'CUSTOMER_REQUEST', 'active', null, null],
      ['SUSPENDED', undefined, 'suspended', null, null],
      ['SUSPENDED', 'FRAUD', 'suspended', null, null],
      ['DELINQUENT', undefined, 'delinquent', null, null],
      ['DELINQUENT', 'HARDSHIP', 'delinquent', null, null],
      ['CLOSED', undefined, 'close_with_refund', null, 'close_with_refund'],
      ['CLOSED', 'CUSTOMER_REQUEST', 'close_with_refund', null, 'close_with_refund'],
      ['CLOSED', 'FRAUD', 'close_without_refund', null, 'close_without_refund'],
      ['CLOSED', 'COMPLIANCE', 'close_without_refund', null, 'close_without_refund'],
      ['CLOSED', 'CHARGED_OFF', 'close_charged_off', 'CHARGED_OFF', 'close_charged_off'],
      ['CLOSED', 'PAID_OFF', 'close_paid_off', 'PAID_OFF', 'close_paid_off'],
    ];

    it.each(cases)(
      'should set %s (reason %s) as Spidr %s and read it back live',
      async (status, reason, spidrValue, readReason, statusReason) => {
        const id = accountId();
        const url = sp.api.statusUrl(id);
        // ACTIVE is the starting state: suspend first so that reading ACTIVE back proves the change.
        const before = status === 'ACTIVE' ? 1 : 0;
        if (before) expect((await call('PUT', url, { body: { status: 'SUSPENDED' } })).status).toBe(200);

        const res = await call('PUT', url, { body: { status, ...(reason ? { reason } : {}) } });
        expectChange(res, 'spidr', id, {
          status,
          reason: reason ?? null,
          outcome: 'APPLIED',
          providerStatus: spidrValue,
        });

        const calls = await callsFor(sp.sandbox, id);
        expect(calls).toHaveLength(before + 1);
        const write = calls[before];
        expect(write.method).toBe('PATCH');
        expect(write.url).toBe(`/v1/account/${id}`);
        expect(write.body).toEqual({ status: spidrValue });
        expect(write.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
        expect(write.headers['content-type']).toMatch(/^application\/json/);

        const read = await call('GET', url);
        expect(read.status).toBe(200);
        expect(read.body).toEqual({
          provider: 'spidr',
          accountId: id,
          status,
          reason: readReason,
          providerStatus: { status: status === 'CLOSED' ? 'closed' : spidrValue, statusReason },
          source: 'provider',
          asOf: expect.any(String),
          expectedStatus: status,
          inSync: true,
        });
        expectIsoDate(read.body.asOf);
        const after = await callsFor(sp.sandbox, id);
        expect(after).toHaveLength(before + 2);
        expect(after[before + 1]).toMatchObject({ method: 'GET', url: `/v1/account/${id}` });
        expect(after[before + 1].headers[AUTH_HEADER]).toBe(AUTH_VALUE);
      },
    );

    it('should move freely between active, suspended and delinquent', async () => {
      const id = accountId();
      const url = sp.api.statusUrl(id);
      for (const [status, value] of [
        ['DELINQUENT', 'delinquent'],
        ['SUSPENDED', 'suspended'],
        ['ACTIVE', 'active'],
        ['DELINQUENT', 'delinquent'],
      ]) {
        const res = await call('PUT', url, { body: { status } });
        expect({ status: res.status, providerStatus: res.body.providerStatus }).toEqual({
          status: 200,
          providerStatus: value,
        });
        expect((await call('GET', url)).body.status).toBe(status);
      }
      const writes = (await callsFor(sp.sandbox, id)).filter((c) => c.method === 'PATCH');
      expect(writes.map((c) => c.body)).toEqual([
        { status: 'delinquent' },
        { status: 'suspended' },
        { status: 'active' },
        { status: 'delinquent' },
      ]);
    });

    it('should record each change in the history, newest first, with the provider request and no credentials', async () => {
      const id = accountId();
      await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'SUSPENDED', reason: 'RISK_REVIEW', note: 'n1' },
      });
      await sp.api.put(id, { status: 'CLOSED', reason: 'CHARGED_OFF' });
      const res = await sp.api.history(id);
      expect(res.body.nextCursor).toBeNull();
      expectHistory(res, 2, {
        callerId: 'anonymous',
        status: 'CLOSED',
        reason: 'CHARGED_OFF',
        outcome: 'APPLIED',
        errorCode: null,
        providerHttpStatus: 200,
        providerRequest: {
          method: 'PATCH',
          url: `${sp.sandbox}/v1/account/${id}`,
          body: { status: 'close_charged_off' },
        },
      });
      expect(res.body.items[1]).toMatchObject({
        status: 'SUSPENDED',
        reason: 'RISK_REVIEW',
        note: 'n1',
        outcome: 'APPLIED',
        providerRequest: { method: 'PATCH', body: { status: 'suspended' } },
      });
      expect(JSON.stringify(res.body)).not.toContain(API_KEY);
    });
  });

  describe('closed accounts', () => {
    it('should read CLOSED/CHARGED_OFF after a close with CHARGED_OFF and refuse any further change with 409 ACCOUNT_CLOSED', async () => {
      const id = accountId();
      const url = sp.api.statusUrl(id);
      const closed = await call('PUT', url, { body: { status: 'CLOSED', reason: 'CHARGED_OFF' } });
      expect(closed.status).toBe(200);
      expect(closed.body.providerStatus).toBe('close_charged_off');

      const read = await call('GET', url);
      expect(read.body).toMatchObject({
        status: 'CLOSED',
        reason: 'CHARGED_OFF',
        providerStatus: { status: 'closed', statusReason: 'close_charged_off' },
        source: 'provider',
      });

      for (const body of [
        { status: 'ACTIVE' },
        { status: 'SUSPENDED' },
        { status: 'CLOSED', reason: 'PAID_OFF' },
      ]) {
        expectFailure(await call('PUT', url, { body }), 'ACCOUNT_CLOSED', {
          id: 'spidr',
          httpStatus: 400,
          code: 'ACCOUNT_CLOSED',
          message: expect.stringContaining('is closed'),
        });
      }
      // Every refused change did reach Spidr (the refusal is Spidr's), and the account stayed charged off.
      const writes = (await callsFor(sp.sandbox, id)).filter((c) => c.method === 'PATCH');
      expect(writes).toHaveLength(4);
      expect((await call('GET', url)).body.providerStatus).toEqual({
        status: 'closed',
        statusReason: 'close_charged_off',
      });
    });

    it('should answer 409 ACCOUNT_CLOSED with Spidr code for an account that is already closed (CLOSED-)', async () => {
      const id = accountId('CLOSED');
      const problem = expectProblem(await sp.api.put(id, { status: 'SUSPENDED' }), 409, 'ACCOUNT_CLOSED');
      expect(problem.provider).toEqual({
        id: 'spidr',
        httpStatus: 400,
        code: 'ACCOUNT_CLOSED',
        message: `Account ${id} is closed (close_with_refund); a closed account cannot be changed`,
      });
      expect(problem.instance).toBe(`/v1/accounts/spidr/${id}/status`);
      const history = await sp.api.history(id);
      expect(history.body.items).toEqual([
        expect.objectContaining({ outcome: 'FAILED', errorCode: 'ACCOUNT_CLOSED', providerHttpStatus: 400 }),
      ]);
      expect((await sp.api.get(id)).body).toMatchObject({
        status: 'CLOSED',
        reason: null,
        providerStatus: { status: 'closed', statusReason: 'close_with_refund' },
      });
    });
  });

  describe('unsupported statuses', () => {
    it.each([
      ['DISPUTED', undefined],
      ['DISPUTED', 'FRAUD'],
      ['DO_NOT_CONTACT', undefined],
      ['DO_NOT_CONTACT', 'CUSTOMER_REQUEST'],
    ])(
      'should refuse %s (reason %s) with 422 STATUS_NOT_SUPPORTED and no call to Spidr',
      async (status, reason) => {
        const id = accountId();
        const body = { status, ...(reason ? { reason } : {}) };
        const problem = expectProblem(
          await call('PUT', sp.api.statusUrl(id), { body }),
          422,
          'STATUS_NOT_SUPPORTED',
        );
        expect(problem.supportedStatuses).toEqual(SUPPORTED);
        expect(problem.retryable).toBe(false);
        expect(problem.provider).toBeUndefined();
        // The same for a dry run.
        const dry = await sp.api.dryRun(id, body);
        expect(expectProblem(dry, 422, 'STATUS_NOT_SUPPORTED').supportedStatuses).toEqual(SUPPORTED);
        expect(await callsFor(sp.sandbox, id)).toEqual([]);
        // Recorded in the audit trail (CONTRACT section 3), once: the dry run is not.
        const history = await sp.api.history(id);
        expect(history.body.items).toEqual([
          expect.objectContaining({
            status,
            reason: reason ?? null,
            outcome: 'FAILED',
            errorCode: 'STATUS_NOT_SUPPORTED',
            providerRequest: null,
          }),
        ]);
      },
    );
  });

  describe('provider errors', () => {
    // CONTRACT.md section 5: "429 and 5xx and network errors → retried with backoff, then RATE_LIMITED /
    // PROVIDER_ERROR …": those rows prove the retries happen (more than one call at Spidr).
    itMapsMagicFailures(
      sp,
      {
        accountId,
        statusCalls: (calls, id) => calls.filter((c) => c.url === `/v1/account/${encodeURIComponent(id)}`),
      },
      [
        {
          magic: 'NOTFOUND',
          detail: 'keeping errorType NOT_FOUND as the code (no errorCode), on the read too',
          change: { status: 'SUSPENDED' },
          code: 'ACCOUNT_NOT_FOUND',
          provider: (id) => ({ httpStatus: 404, code: 'NOT_FOUND', message: `Account ${id} not found` }),
          read: true,
          also: ({ calls }) => expect(calls.map((c) => c.method)).toEqual(['PATCH', 'GET']),
        },
        {
          magic: 'REJECT',
          detail: 'keeping Spidr code and message',
          change: { status: 'DELINQUENT' },
          code: 'PROVIDER_REJECTED',
          provider: { httpStatus: 400, code: 'REQUEST_REJECTED', message: 'The request was rejected' },
          providerCalls: 1,
        },
        {
          magic: 'ERROR500',
          detail: '(retryable) keeping Spidr code and message, after retries with backoff',
          change: { status: 'SUSPENDED' },
          code: 'PROVIDER_ERROR',
          provider: { httpStatus: 500, code: 'LOOKUP_FAILED', message: 'Could not look up the account' },
          history: true,
          providerCalls: 'retried',
          also: ({ calls }) => {
            for (const w of calls)
              expect({ method: w.method, body: w.body }).toEqual({
                method: 'PATCH',
                body: { status: 'suspended' },
              });
          },
        },
        {
          magic: 'RATELIMIT',
          detail: '(retryable) with Retry-After and Spidr code kept, after retries, on the read too',
          change: { status: 'SUSPENDED' },
          code: 'RATE_LIMITED',
          provider: { httpStatus: 429, code: 'TOO_MANY_REQUESTS', message: 'Too many requests' },
          retryAfter: '2',
          read: true,
          providerCalls: 'retried',
        },
      ],
      20_000,
    );

    it('should answer 502 PROVIDER_AUTH_FAILED after exactly one call when Spidr refuses the API key (AUTHEXPIRED-)', async () => {
      const id = accountId('AUTHEXPIRED');
      const problem = expectFailure(
        await sp.api.put(id, { status: 'SUSPENDED' }),
        'PROVIDER_AUTH_FAILED',
        KEY_REFUSED,
      );
      const calls = await callsFor(sp.sandbox, id);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ method: 'PATCH', body: { status: 'suspended' } });
      expect(calls[0].headers[AUTH_HEADER]).toBe(AUTH_VALUE);
      // No other route (there is no token endpoint to re-authenticate against) was called.
      expect((await sandboxCalls(sp.sandbox)).every((c) => c.url.startsWith('/v1/account/'))).toBe(true);
      expect(JSON.stringify(problem)).not.toContain(API_KEY);

      const get = expectProblem(await sp.api.get(id), 502, 'PROVIDER_AUTH_FAILED');
      expect(get.provider.httpStatus).toBe(401);
      expect(await callsFor(sp.sandbox, id)).toHaveLength(2);
    });

    it('should refuse a ZTM- account without ZTM options as PROVIDER_REJECTED keeping Spidr code, and pass with them', async () => {
      const id = accountId('ZTM');
      const problem = expectProblem(await sp.api.put(id, { status: 'SUSPENDED' }), 422, 'PROVIDER_REJECTED');
      // CONTRACT section 4: Spidr's code is its errorCode (ZTM_SESSION_REQUIRED), else its errorType (ZTM_ERROR).
      expect(problem).toMatchObject({
        retryable: false,
        provider: {
          id: 'spidr',
          httpStatus: 400,
          code: 'ZTM_SESSION_REQUIRED',
          message: 'A ZTM session key is required',
        },
      });

      const withKey = await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'SUSPENDED', providerOptions: { ztmSessionKey: 'ztm-session-123' } },
      });
      expect(withKey.status).toBe(200);
      expect(withKey.body.providerStatus).toBe('suspended');

      const bypass = await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'DELINQUENT', providerOptions: { bypassZtm: true } },
      });
      expect(bypass.status).toBe(200);

      const writes = (await callsFor(sp.sandbox, id)).filter((c) => c.method === 'PATCH');
      expect(writes.map((c) => c.body)).toEqual([
        { status: 'suspended' },
        { status: 'suspended', ztmSessionKey: 'ztm-session-123' },
        { status: 'delinquent', bypassZtm: true },
      ]);
      expect((await sp.api.get(id)).body.status).toBe('DELINQUENT');
    });

    it('should not forward bypassZtm:false as a bypass (ZTM- still refused)', async () => {
      const id = accountId('ZTM');
      const problem = expectProblem(
        await call('PUT', sp.api.statusUrl(id), {
          body: { status: 'SUSPENDED', providerOptions: { bypassZtm: false } },
        }),
        422,
        'PROVIDER_REJECTED',
      );
      expect(problem.provider.code).toBe('ZTM_SESSION_REQUIRED');
      expect((await callsFor(sp.sandbox, id))[0].body).toEqual({ status: 'suspended', bypassZtm: false });
    });
  });

  describe('API key toward Spidr', () => {
    it('should send the API key header on every call, with no token or login call, for parallel requests', async () => {
      const ids = Array.from({ length: 6 }, () => accountId());
      const answers = await Promise.all(
        ids.flatMap((id) => [
          sp.api.put(id, { status: 'SUSPENDED' }),
          call('GET', sp.api.statusUrl(`${id}-r`)),
        ]),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
      const paths = new Set(ids.flatMap((id) => [`/v1/account/${id}`, `/v1/account/${id}-r`]));
      const calls = (await sandboxCalls(sp.sandbox)).filter((c) => paths.has(c.url));
      expect(calls).toHaveLength(12);
      for (const c of calls) {
        expect(c.url).toMatch(/^\/v1\/account\/[^/]+$/);
        expect(c.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
      }
      expect((await sandboxCalls(sp.sandbox)).every((c) => c.url.startsWith('/v1/account/'))).toBe(true);
      for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(API_KEY);
    });
  });

  describe('dryRun', () => {
    it('should answer the exact Spidr request with an absolute URL and send nothing to Spidr', async () => {
      const id = accountId();
      const res = await sp.api.dryRun(id, {
        status: 'CLOSED',
        reason: 'FRAUD',
        providerOptions: { ztmSessionKey: 'zk-1' },
      });
      expectDryRun(res, {
        method: 'PATCH',
        url: `${sp.sandbox}/v1/account/${id}`,
        body: { status: 'close_without_refund', ztmSessionKey: 'zk-1' },
      });
      expect(new URL(res.body.providerRequest.url).origin).toBe(new URL(sp.sandbox).origin);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(API_KEY);
      expect(text).not.toMatch(/bearer/i);
      expect(await callsFor(sp.sandbox, id)).toEqual([]);
      expect((await sp.api.history(id)).body.items).toEqual([]);
    });

    it('should percent-encode the account id in the provider URL, as the real call does', async () => {
      const id = `e2e:${process.pid}@spidr+x`;
      const encoded = encodeURIComponent(id);
      const dry = await sp.api.dryRun(encoded, { status: 'SUSPENDED' });
      expect(dry.body.providerRequest.url).toBe(`${sp.sandbox}/v1/account/${encoded}`);
      const res = await sp.api.put(encoded, { status: 'SUSPENDED' });
      expect(res.status).toBe(200);
      expect(res.body.accountId).toBe(id);
      const calls = await callsFor(sp.sandbox, id);
      expect(calls).toHaveLength(1);
      expect(calls[0].url).toBe(`/v1/account/${encoded}`);
    });
  });

  describe('idempotency', () => {
    it('should replay the first answer for the same Idempotency-Key without calling Spidr again', async () => {
      const id = accountId();
      const headers = { 'idempotency-key': `idem-${id}` };
      const first = await sp.api.put(id, { status: 'SUSPENDED' }, { headers });
      expect(first.status).toBe(200);
      const again = await sp.api.put(id, { status: 'SUSPENDED' }, { headers });
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expectProblem(
        await sp.api.put(id, { status: 'DELINQUENT' }, { headers }),
        422,
        'IDEMPOTENCY_KEY_REUSED',
      );
      expect((await callsFor(sp.sandbox, id)).map((c) => c.body)).toEqual([{ status: 'suspended' }]);
    });
  });

  describe('GET status', () => {
    it('should read an untouched account live as ACTIVE (Spidr has a read endpoint)', async () => {
      const id = accountId();
      const res = await sp.api.get(id);
      expectRead(
        res,
        'spidr',
        id,
        {
          status: 'ACTIVE',
          reason: null,
          providerStatus: { status: 'active', statusReason: null },
          source: 'provider',
        },
        { partial: true },
      );
      expect((await callsFor(sp.sandbox, id)).map((c) => `${c.method} ${c.url}`)).toEqual([
        `GET /v1/account/${id}`,
      ]);
    });
  });

  describe('request ids', () => {
    it('should send the caller X-Request-Id to Spidr on the status call and on the live read', async () => {
      const id = accountId();
      const put = await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'SUSPENDED' },
        headers: { 'x-request-id': 'spidr-e2e-put-1' },
      });
      expect(put.status).toBe(200);
      expect(put.headers.get('x-request-id')).toBe('spidr-e2e-put-1');
      expect(put.body.requestId).toBe('spidr-e2e-put-1');
      const get = await sp.api.get(id, { headers: { 'x-request-id': 'spidr-e2e-get-1' } });
      expect(get.headers.get('x-request-id')).toBe('spidr-e2e-get-1');
      const calls = await callsFor(sp.sandbox, id);
      expect(calls.map((c) => [c.method, c.headers['x-request-id']])).toEqual([
        ['PATCH', 'spidr-e2e-put-1'],
        ['GET', 'spidr-e2e-get-1'],
      ]);
      const history = await sp.api.history(id);
      expect(history.body.items[0].requestId).toBe('spidr-e2e-put-1');
    });

    it('should send a generated request id to Spidr when the caller sends none', async () => {
      const id = accountId();
      const put = await sp.api.put(id, { status: 'DELINQUENT' });
      const generated = put.headers.get('x-request-id');
      expect(generated).toMatch(/^[0-9a-f-]{36}$/);
      expect((await callsFor(sp.sandbox, id))[0].headers['x-request-id']).toBe(generated);
    });
  });

  describe('providerOptions', () => {
    it.each([
      [{ colour: 'blue' }, 'providerOptions.colour'],
      [{ updateChildren: true }, 'providerOptions.updateChildren'],
      [{ ztmSessionKey: 42 }, 'providerOptions.ztmSessionKey'],
      [{ ztmSessionKey: '' }, 'providerOptions.ztmSessionKey'],
      [{ ztmSessionKey: 'k'.repeat(257) }, 'providerOptions.ztmSessionKey'],
      [{ bypassZtm: 'yes' }, 'providerOptions.bypassZtm'],
    ])(
      'should refuse providerOptions %j with 400 naming %s and call nothing',
      async (providerOptions, field) => {
        const id = accountId();
        const problem = expectProblem(
          await sp.api.put(id, { status: 'SUSPENDED', providerOptions }),
          400,
          'VALIDATION_FAILED',
        );
        expect(problem.errors).toEqual([expect.objectContaining({ field })]);
        expect(await callsFor(sp.sandbox, id)).toEqual([]);
      },
    );

    it('should refuse providerOptions that is not an object', async () => {
      const id = accountId();
      const problem = expectProblem(
        await sp.api.put(id, { status: 'SUSPENDED', providerOptions: ['x'] }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors[0].field).toBe('providerOptions');
      expect(await callsFor(sp.sandbox, id)).toEqual([]);
    });
  });

  describe('personal data', () => {
    it("should never copy the sandbox's fake personal data into answers or logs", async () => {
      const id = accountId();
      const answers: JsonResponse[] = [];
      answers.push(await sp.api.get(id));
      answers.push(await sp.api.put(id, { status: 'SUSPENDED' }));
      answers.push(await sp.api.get(id));
      answers.push(await sp.api.dryRun(id, { status: 'CLOSED' }));
      answers.push(await sp.api.put(id, { status: 'CLOSED', reason: 'PAID_OFF' }));
      answers.push(await sp.api.put(id, { status: 'ACTIVE' })); // 409 from Spidr
      answers.push(await sp.api.get(id));
      answers.push(await sp.api.history(id));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 409, 200, 200]);
      const pii = await personalDataOf(sp.sandbox, id);
      expectNoneOf(answers, pii);
      await flushLogs(sp.gw);
      const logs = sp.gw.rawLogs();
      for (const value of pii) expect(logs).not.toContain(value);
      expect(logs).not.toContain(API_KEY);
    });
  });
});

describe('Spidr with caller API keys (scopes)', () => {
  const KEYS = {
    writer: 'writer-key-0123456789abcdef',
    closer: 'closer-key-0123456789abcdef',
    reader: 'reader-key-0123456789abcdef',
  };
  const sp = useProviderGateway('spidr', {
    env: {
      API_KEYS: JSON.stringify([
        { id: 'writer', key: KEYS.writer, scopes: ['status:write'] },
        { id: 'closer', key: KEYS.closer, scopes: ['status:write', 'status:close'] },
        { id: 'reader', key: KEYS.reader, scopes: ['status:read'] },
      ]),
    },
  });

  it('should answer 401 UNAUTHENTICATED without a key or with an unknown key, and call nothing', async () => {
    const id = accountId();
    expectProblem(await sp.api.put(id, { status: 'SUSPENDED' }), 401, 'UNAUTHENTICATED');
    expectProblem(await sp.api.get(id), 401, 'UNAUTHENTICATED');
    expectProblem(await sp.api.history(id), 401, 'UNAUTHENTICATED');
    expectProblem(
      await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'SUSPENDED' },
        headers: { 'x-api-key': 'not-a-known-key-0000000000' },
      }),
      401,
      'UNAUTHENTICATED',
    );
    expect(await callsFor(sp.sandbox, id)).toEqual([]);
  });

  it('should let a status:write key SUSPEND but refuse CLOSED with 403 FORBIDDEN before any Spidr call', async () => {
    const id = accountId();
    const suspend = await call('PUT', sp.api.statusUrl(id), {
      body: { status: 'SUSPENDED' },
      headers: { 'x-api-key': KEYS.writer },
    });
    expect(suspend.status).toBe(200);
    expect(suspend.body.providerStatus).toBe('suspended');

    for (const reason of [undefined, 'CHARGED_OFF']) {
      const problem = expectProblem(
        await call('PUT', sp.api.statusUrl(id), {
          body: { status: 'CLOSED', ...(reason ? { reason } : {}) },
          headers: { 'x-api-key': KEYS.writer },
        }),
        403,
        'FORBIDDEN',
      );
      expect(problem.requiredScope).toBe('status:close');
    }
    const dry = await sp.api.dryRun(id, { status: 'CLOSED' }, { headers: { 'x-api-key': KEYS.writer } });
    expectProblem(dry, 403, 'FORBIDDEN');

    const calls = await callsFor(sp.sandbox, id);
    expect(calls.map((c) => c.body)).toEqual([{ status: 'suspended' }]);
  });

  it('should let a key with status:close close (Bearer), refuse PUT for a status:read key, and show callerIds in history', async () => {
    const id = accountId();
    const suspend = await call('PUT', sp.api.statusUrl(id), {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
      headers: { 'x-api-key': KEYS.writer, 'x-request-id': 'scope-w-1' },
    });
    expect(suspend.status).toBe(200);
    const close = await call('PUT', sp.api.statusUrl(id), {
      body: { status: 'CLOSED', reason: 'FRAUD' },
      headers: { authorization: `Bearer ${KEYS.closer}`, 'x-request-id': 'scope-c-1' },
    });
    expect(close.status).toBe(200);
    expect(close.body).toMatchObject({ outcome: 'APPLIED', providerStatus: 'close_without_refund' });

    const readerPut = expectProblem(
      await call('PUT', sp.api.statusUrl(id), {
        body: { status: 'ACTIVE' },
        headers: { 'x-api-key': KEYS.reader },
      }),
      403,
      'FORBIDDEN',
    );
    expect(readerPut.requiredScope).toBe('status:write');
    // A key without status:read cannot read.
    expectProblem(await sp.api.get(id, { headers: { 'x-api-key': KEYS.closer } }), 403, 'FORBIDDEN');

    const writes = (await callsFor(sp.sandbox, id)).filter((c) => c.method === 'PATCH');
    expect(writes.map((c) => c.body)).toEqual([{ status: 'suspended' }, { status: 'close_without_refund' }]);

    const read = await sp.api.get(id, { headers: { 'x-api-key': KEYS.reader } });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ status: 'CLOSED', source: 'provider' });

    const history = await sp.api.history(id, {
      headers: { authorization: `Bearer ${KEYS.reader}` },
    });
    expect(history.status).toBe(200);
    const applied = history.body.items.filter((i: any) => i.outcome === 'APPLIED');
    expect(applied.map((i: any) => [i.callerId, i.requestId, i.status])).toEqual([
      ['closer', 'scope-c-1', 'CLOSED'],
      ['writer', 'scope-w-1', 'SUSPENDED'],
    ]);
    const text = JSON.stringify(history.body);
    for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
  });
});

describe('Spidr in live mode (standalone sandbox at SPIDR_BASE_URL)', () => {
  const sp = useProviderGateway('spidr', { live: { SPIDR_API_KEY: API_KEY } });

  it('should report Spidr as live at that URL and the others on their sandboxes', async () => {
    // Against the standalone sandbox's own URL (sp.sandbox is the gateway's URL, so it proves nothing).
    await expectLiveMode(sp);
  });

  it("should send exactly the contract's requests with the API key to the live URL", async () => {
    const id = accountId();
    const dry = await sp.api.dryRun(id, { status: 'CLOSED', reason: 'PAID_OFF' });
    expect(dry.body.providerRequest).toEqual({
      method: 'PATCH',
      url: `${sp.sandbox}/v1/account/${id}`,
      body: { status: 'close_paid_off' },
    });
    expect(await callsFor(sp.sandbox, id)).toEqual([]);

    const suspend = await call('PUT', sp.api.statusUrl(id), {
      body: { status: 'SUSPENDED' },
      headers: { 'x-request-id': 'live-1' },
    });
    expect(suspend.status).toBe(200);
    const close = await sp.api.put(id, { status: 'CLOSED', reason: 'PAID_OFF' });
    expect(close.body).toMatchObject({ outcome: 'APPLIED', providerStatus: 'close_paid_off' });
    const read = await sp.api.get(id);
    expect(read.body).toMatchObject({
      status: 'CLOSED',
      reason: 'PAID_OFF',
      providerStatus: { status: 'closed', statusReason: 'close_paid_off' },
      source: 'provider',
    });

    const calls = await callsFor(sp.sandbox, id);
    expect(calls.map((c) => [c.method, c.url, c.body ?? null])).toEqual([
      ['PATCH', `/v1/account/${id}`, { status: 'suspended' }],
      ['PATCH', `/v1/account/${id}`, { status: 'close_paid_off' }],
      ['GET', `/v1/account/${id}`, null],
    ]);
    for (const c of calls) expect(c.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
    expect(calls[0].headers['x-request-id']).toBe('live-1');
    expect((await sandboxCalls(sp.sandbox)).every((c) => c.url.startsWith('/v1/account/'))).toBe(true);
    // The built-in Spidr sandbox is not used in live mode.
    expect(sp.gw.gateway.runtime.registry.list().find((e) => e.id === 'spidr')?.mode).toBe('live');
  });

  it('should map the live provider errors the same way (NOTFOUND-, closed account)', async () => {
    const missing = accountId('NOTFOUND');
    expect(
      expectProblem(await sp.api.put(missing, { status: 'ACTIVE' }), 404, 'ACCOUNT_NOT_FOUND').provider,
    ).toMatchObject({ httpStatus: 404, code: 'NOT_FOUND' });
    const closed = accountId('CLOSED');
    expect(
      expectProblem(await sp.api.put(closed, { status: 'ACTIVE' }), 409, 'ACCOUNT_CLOSED').provider,
    ).toMatchObject({ httpStatus: 400, code: 'ACCOUNT_CLOSED' });
  });
});

describe('Spidr in live mode with a wrong API key', () => {
  const WRONG_KEY = 'sk_live_wrong_key_ffffffffffffffff';
  const sp = useProviderGateway('spidr', { live: { SPIDR_API_KEY: WRONG_KEY } });

  it('should answer 502 PROVIDER_AUTH_FAILED after one call, without showing the key', async () => {
    const id = accountId();
    const put = await sp.api.put(id, { status: 'SUSPENDED' });
    const problem = expectFailure(put, 'PROVIDER_AUTH_FAILED', KEY_REFUSED);
    const calls = await callsFor(sp.sandbox, id);
    expect(calls).toHaveLength(1);
    expect(calls[0].headers[AUTH_HEADER]).toBe(SPIDR_API_KEY_HEADER.value(WRONG_KEY));
    expect(JSON.stringify(problem)).not.toContain(WRONG_KEY);

    expectProblem(await sp.api.get(id), 502, 'PROVIDER_AUTH_FAILED');
    expect(await callsFor(sp.sandbox, id)).toHaveLength(2);
    const history = await sp.api.history(id);
    expect(history.body.items[0]).toMatchObject({
      outcome: 'FAILED',
      errorCode: 'PROVIDER_AUTH_FAILED',
      providerHttpStatus: 401,
    });
    await flushLogs(sp.gw);
    expect(sp.gw.rawLogs()).not.toContain(WRONG_KEY);
  });
});

describe('Spidr timeouts (SPIDR_TIMEOUT_MS=300)', () => {
  const SLOW_MS = 800;
  /** When the sandbox's last slow answer is due: closing waits for it, so no timer outlives the tests. */
  let slowUntil = 0;
  // Timeouts, not the breaker, are under test here: keep the circuit closed through repeated timeouts.
  const sp = useProviderGateway('spidr', {
    env: { SPIDR_TIMEOUT_MS: '300', CIRCUIT_FAILURE_THRESHOLD: '1000' },
    beforeClose: () => new Promise((r) => setTimeout(r, Math.max(0, slowUntil - Date.now() + 50))),
  });

  it('should answer 504 PROVIDER_TIMEOUT within timeout × attempts plus a margin for a slow Spidr', async () => {
    const id = accountId(`SLOW${SLOW_MS}`);
    const started = Date.now();
    slowUntil = started + SLOW_MS;
    const res = await sp.api.put(id, { status: 'SUSPENDED' });
    const elapsed = Date.now() - started;
    expectFailure(res, 'PROVIDER_TIMEOUT', null);
    expect(elapsed).toBeLessThan(2_500);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect((await callsFor(sp.sandbox, id)).length).toBeGreaterThanOrEqual(1);

    const history = await sp.api.history(id);
    expect(history.body.items[0]).toMatchObject({ outcome: 'FAILED', errorCode: 'PROVIDER_TIMEOUT' });

    const readStarted = Date.now();
    slowUntil = readStarted + SLOW_MS;
    expectProblem(await sp.api.get(id), 504, 'PROVIDER_TIMEOUT');
    expect(Date.now() - readStarted).toBeLessThan(2_500);
  });

  it('should still apply a change that answers within the timeout', async () => {
    const id = accountId('SLOW50');
    const res = await sp.api.put(id, { status: 'DELINQUENT' });
    expect(res.status).toBe(200);
    expect(res.body.providerStatus).toBe('delinquent');
  });
});
