/**
 * Pismo end to end: the real gateway over HTTP against Pismo's sandbox (built in, and standalone as a
 * "live" provider). Checks CONTRACT.md sections 3, 4 and 5 for Pismo: what the gateway answers AND what
 * the sandbox received (method, path, body, per-account bearer token), the per-account token flows, the
 * corporate and the regular accounts API, live mode, request ids, providerOptions and timeouts.
 */
import type { SandboxCall } from '../src/providers/sandbox/sandbox-kit.js';
import { CANONICAL_REASONS } from '../src/domain/index.js';
import { PISMO_SANDBOX_SETTINGS } from '../src/providers/pismo/pismo.sandbox.js';
import {
  expectChange,
  expectDryRun,
  expectFailure,
  expectHistory,
  expectRead,
  type ProviderFailureCode,
} from './support/answers.js';
import {
  expectProblem,
  sandboxCalls,
  startGateway,
  startSandbox,
  type JsonResponse,
  type TestGateway,
} from './support/gateway.js';
import {
  expectLiveMode,
  itMapsMagicFailures,
  listedProvider,
  sandboxControl as control,
  withSandboxControl,
  statusClient,
  useProviderGateway,
  type FailureContext,
  type ProviderSuiteOptions,
  type StatusClient,
} from './support/provider-harness.js';

const TOKEN_PATH = '/passport/v2/s2s/access-token';
/**
 * These suites check the s2s flow's exact requests (PISMO_AUTH=s2s: today's requests, unchanged); the
 * OpenID flow, the corporate default, has its own suite at the end of this file.
 */
const S2S = { PISMO_AUTH: 's2s' };
const CORPORATE_WRITE = (id: string) => `/corporate/v2/corporate-accounts/${id}/status`;
const CORPORATE_READ = (id: string) => `/corporate/v1/corporate-accounts/${id}`;
const ACCOUNTS_WRITE = (id: string) => `/accounts/v2/accounts/${id}/status`;
const ACCOUNTS_READ = (id: string) => `/accounts/v1/accounts/${id}`;

/** The sandbox's fake personal data (both read endpoints): must never appear in a gateway answer. */
const FAKE_PERSONAL_DATA = [
  'Acme Comércio',
  'Mariana',
  'Pereira',
  '11222333000181',
  'mariana.pereira@example.com',
  'legal_representative',
  'document_number',
  'Rafael',
  'Costa Lima',
  '12345678909',
  'rafael.lima@example.com',
  '987654321',
  '102938475',
];

/** The fields of a status read, and no others (nothing of the sandbox's account record leaks). */
const READ_KEYS = [
  'accountId',
  'asOf',
  'expectedStatus',
  'inSync',
  'provider',
  'providerStatus',
  'reason',
  'source',
  'status',
];

const UNSUPPORTED_CORPORATE = ['DELINQUENT', 'DISPUTED', 'DO_NOT_CONTACT', 'CLOSED'] as const;
/** Passport's answer to a wrong server secret. */
const INVALID_CREDENTIALS = {
  id: 'pismo',
  httpStatus: 401,
  code: 'EPSP0001',
  message: 'Invalid credentials',
} as const;

let counter = 0;
/** A fresh account id (optionally behind a sandbox magic prefix such as `NOTFOUND-`). */
const fresh = (prefix = 'e2e-') => `${prefix}pismo-${++counter}`;
const freshNumeric = () => String(7_100_000 + ++counter);

/** Every gateway answer goes through here, so every one is checked for the sandbox's personal data. */
function checked(res: JsonResponse): void {
  const text = JSON.stringify(res.body ?? '');
  for (const leak of FAKE_PERSONAL_DATA) expect(text).not.toContain(leak);
}

/** A gateway for a describe block, every answer of its `api` checked for personal data. */
const usePismo = (options: ProviderSuiteOptions = {}) =>
  useProviderGateway('pismo', { ...options, env: { ...S2S, ...(options.env as object) }, check: checked });

/** The sandbox log, split per account: its token requests and its account calls. */
async function pismoLog(baseUrl: string, accountId: string) {
  const calls = await sandboxCalls(baseUrl);
  const tokenCalls = calls.filter(
    (c) => c.url === TOKEN_PATH && String((c.body as any)?.account_id) === accountId,
  );
  const accountCalls = calls.filter((c) => c.url !== TOKEN_PATH && pathAccount(c) === accountId);
  return { calls, tokenCalls, accountCalls };
}

function pathAccount(c: SandboxCall): string | undefined {
  const match = /^\/(?:corporate\/v[12]\/corporate-accounts|accounts\/v[12]\/accounts)\/([^/?]+)/.exec(c.url);
  return match ? decodeURIComponent(match[1]) : undefined;
}

function bearer(c: SandboxCall): string {
  const header = c.headers.authorization;
  expect(typeof header).toBe('string');
  const match = /^Bearer (\S+)$/.exec(header as string);
  expect(match).not.toBeNull();
  return match![1];
}

/** The `uid` claim of a sandbox token: the account it is bound to. */
function tokenAccount(token: string): string {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as {
    uid: string;
  };
  return claims.uid;
}

/** Sends `change` for account `id`: answered APPLIED as Pismo's `providerStatus`, its status and reason kept. */
async function expectApplied(
  api: StatusClient,
  id: string,
  change: { status: string; reason?: string; providerOptions?: Record<string, unknown> },
  providerStatus: string,
): Promise<void> {
  expectChange(await api.put(id, change), 'pismo', id, {
    status: change.status,
    reason: change.reason ?? null,
    outcome: 'APPLIED',
    providerStatus,
  });
}

/** GET status for account `id` answers, from Pismo, this canonical status and reason and Pismo's status. */
async function expectReadBack(
  api: StatusClient,
  id: string,
  [status, reason, providerStatus]: [string, string | null, string],
): Promise<void> {
  const read = { status, reason, providerStatus, source: 'provider' };
  expectRead(await api.get(id), 'pismo', id, read, { partial: true });
}

/** The one token request and the one status call a fresh account's change should produce. */
async function expectOneMintAndWrite(
  baseUrl: string,
  id: string,
  path: string,
  body: unknown,
  accountIdInToken: unknown = id,
) {
  const { tokenCalls, accountCalls } = await pismoLog(baseUrl, id);
  expect(tokenCalls).toHaveLength(1);
  expect(tokenCalls[0]).toMatchObject({ method: 'POST' });
  expect(tokenCalls[0].body).toEqual({
    server_key: PISMO_SANDBOX_SETTINGS.serverKey,
    server_secret: PISMO_SANDBOX_SETTINGS.serverSecret,
    account_id: accountIdInToken,
  });
  expect(tokenCalls[0].headers.authorization).toBeUndefined();
  expect(accountCalls).toHaveLength(1);
  const [write] = accountCalls;
  expect({ method: write.method, url: write.url, body: write.body }).toEqual({
    method: 'PATCH',
    url: path,
    body,
  });
  expect(write.headers['content-type']).toMatch(/^application\/json/);
  expect(tokenAccount(bearer(write))).toBe(id);
  return write;
}

describe('Pismo through the gateway (built-in sandbox, corporate API)', () => {
  const pm = usePismo();
  /** One token request bound to the account, and one PATCH of `body` to its corporate status path. */
  const expectCorporateWrite = (id: string, body: unknown) =>
    expectOneMintAndWrite(pm.sandbox, id, CORPORATE_WRITE(id), body);
  const { api } = pm;

  it('should list Pismo in sandbox mode with the corporate capability matrix', async () => {
    const p = await listedProvider(pm);
    expect(p).toMatchObject({ id: 'pismo', name: 'Pismo', mode: 'sandbox', liveRead: true });
    expect(p.statuses.ACTIVE).toMatchObject({ supported: true, providerValue: 'NORMAL', terminal: false });
    expect(p.statuses.SUSPENDED).toMatchObject({
      supported: true,
      providerValue: 'BLOCKED',
      terminal: false,
    });
    for (const s of UNSUPPORTED_CORPORATE) expect(p.statuses[s]).toMatchObject({ supported: false });
  });

  describe('supported statuses', () => {
    it('should send ACTIVE as PATCH NORMAL with an account-bound token and answer 200 APPLIED', async () => {
      const id = fresh();
      await expectApplied(api, id, { status: 'ACTIVE' }, 'NORMAL');
      await expectCorporateWrite(id, { status: 'NORMAL' });
    });

    it('should not send a canonical reason with NORMAL, only an explicit reasonExternalId', async () => {
      const plain = fresh();
      await expectApplied(api, plain, { status: 'ACTIVE', reason: 'HARDSHIP' }, 'NORMAL');
      await expectCorporateWrite(plain, { status: 'NORMAL' });

      const explicit = fresh();
      const change = {
        status: 'ACTIVE',
        reason: 'HARDSHIP',
        providerOptions: { reasonExternalId: 'CREDIT_ONLY' },
      };
      await expectApplied(api, explicit, change, 'NORMAL');
      await expectCorporateWrite(explicit, {
        status: 'NORMAL',
        reason_external_id: 'CREDIT_ONLY',
      });
    });

    it('should send SUSPENDED as BLOCKED, without a reason when none is given', async () => {
      const id = fresh();
      await expectApplied(api, id, { status: 'SUSPENDED' }, 'BLOCKED');
      await expectCorporateWrite(id, { status: 'BLOCKED' });
    });

    it('should send each canonical reason of SUSPENDED as reason_external_id', async () => {
      const reasons = CANONICAL_REASONS;
      for (const reason of reasons) {
        const id = fresh();
        await expectApplied(api, id, { status: 'SUSPENDED', reason }, 'BLOCKED');
        await expectCorporateWrite(id, {
          status: 'BLOCKED',
          reason_external_id: reason,
        });
      }
    });

    it('should pass updateChildren, reasonExternalId (over the reason) and metadata through', async () => {
      const id = fresh();
      const metadata = { ticket: 'T-4711', nested: { by: 'ops', level: 2 }, tags: ['a', 'b'] };
      const change = {
        status: 'SUSPENDED',
        reason: 'FRAUD',
        note: 'card stolen',
        providerOptions: { updateChildren: true, reasonExternalId: 'CREDIT_ONLY', metadata },
      };
      await expectApplied(api, id, change, 'BLOCKED');
      await expectCorporateWrite(id, {
        status: 'BLOCKED',
        reason_external_id: 'CREDIT_ONLY',
        update_children: true,
        metadata,
      });

      const off = fresh();
      await api.put(off, { status: 'ACTIVE', providerOptions: { updateChildren: false } });
      await expectCorporateWrite(off, {
        status: 'NORMAL',
        update_children: false,
      });
    });

    it('should record the change in the history with the provider request and no token', async () => {
      const id = fresh();
      await api.put(id, { status: 'SUSPENDED', reason: 'RISK_REVIEW', note: 'review #9' });
      const history = await api.history(id);
      expectHistory(history, 1, {
        status: 'SUSPENDED',
        reason: 'RISK_REVIEW',
        note: 'review #9',
        outcome: 'APPLIED',
        errorCode: null,
        providerHttpStatus: 204,
        providerRequest: {
          method: 'PATCH',
          url: `${pm.sandbox}${CORPORATE_WRITE(id)}`,
          body: { status: 'BLOCKED', reason_external_id: 'RISK_REVIEW' },
        },
      });
      const text = JSON.stringify(history.body);
      expect(text).not.toMatch(/Bearer|server_secret|server_key|eyJ/);
      expect(text).not.toContain(PISMO_SANDBOX_SETTINGS.serverSecret);
    });
  });

  describe('unsupported statuses', () => {
    it.each(UNSUPPORTED_CORPORATE)(
      'should refuse %s with 422 STATUS_NOT_SUPPORTED and call nothing',
      async (status) => {
        for (const reason of [undefined, 'FRAUD', 'CUSTOMER_REQUEST']) {
          const id = fresh();
          const res = await api.put(id, { status, ...(reason ? { reason } : {}) });
          const problem = expectProblem(res, 422, 'STATUS_NOT_SUPPORTED');
          expect(problem.supportedStatuses).toEqual(['ACTIVE', 'SUSPENDED']);
          expect(problem.retryable).toBe(false);
          expect(problem.provider).toBeUndefined();
          expect(problem.detail).toContain(status);
          const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
          expect({ tokenCalls, accountCalls }).toEqual({ tokenCalls: [], accountCalls: [] });
          // Recorded as a failed attempt (CONTRACT section 3), without a provider request.
          const history = await api.history(id);
          expect(history.body.items).toEqual([
            expect.objectContaining({
              status,
              outcome: 'FAILED',
              errorCode: 'STATUS_NOT_SUPPORTED',
              providerRequest: null,
            }),
          ]);
        }
      },
    );

    it('should refuse an unsupported status in a dry run too', async () => {
      const id = fresh();
      const problem = expectProblem(await api.dryRun(id, { status: 'CLOSED' }), 422, 'STATUS_NOT_SUPPORTED');
      expect(problem.supportedStatuses).toEqual(['ACTIVE', 'SUSPENDED']);
      expect((await pismoLog(pm.sandbox, id)).calls.filter((c) => c.url.includes(id))).toEqual([]);
    });
  });

  describe('provider errors', () => {
    // [magic prefix (before its `-`), canonical code, Pismo's HTTP status, Pismo's code, Pismo's message]
    const cases: Array<[string, ProviderFailureCode, number, string, string]> = [
      ['NOTFOUND', 'ACCOUNT_NOT_FOUND', 400, 'WCAC0012', 'Corporate account not found'],
      ['CLOSED', 'ACCOUNT_CLOSED', 400, 'WCAC0035', 'Account is currently in the final status'],
      [
        'TRANSITION',
        'INVALID_TRANSITION',
        422,
        'WCAC0038',
        'Account status update blocked: operation blocked for account.',
      ],
      ['DORMANT', 'INVALID_TRANSITION', 400, 'WCAC0034', "status is specified in account's dormancy config"],
      [
        'REJECT',
        'PROVIDER_REJECTED',
        400,
        'WCAC0005',
        'reason_external_id must be a maximum of 120 characters in length',
      ],
      ['ERROR500', 'PROVIDER_ERROR', 500, 'ECMN9999', 'Internal error'],
      ['RATELIMIT', 'RATE_LIMITED', 429, 'NO_CODE', 'Too Many Requests'],
    ];

    itMapsMagicFailures(
      pm,
      {
        accountId: (magic) => fresh(`${magic}-`),
        statusCalls: (calls, id) => calls.filter((c) => c.url !== TOKEN_PATH && pathAccount(c) === id),
      },
      cases.map(([magic, code, httpStatus, pismoCode, message]) => ({
        magic,
        detail: `keeping ${pismoCode}`,
        change: { status: 'SUSPENDED', reason: 'FRAUD' },
        code,
        provider: { httpStatus, code: pismoCode, message },
        retryAfter: code === 'RATE_LIMITED' ? /^[1-9]\d*$/ : null,
        history: true,
        // The request really reached Pismo, with this account's own token.
        also: async ({ accountId: id }: FailureContext) => {
          const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
          expect(tokenCalls).toHaveLength(1);
          expect(accountCalls.length).toBeGreaterThanOrEqual(1);
          for (const w of accountCalls) {
            expect({ method: w.method, url: w.url, body: w.body }).toEqual({
              method: 'PATCH',
              url: CORPORATE_WRITE(id),
              body: { status: 'BLOCKED', reason_external_id: 'FRAUD' },
            });
            expect(tokenAccount(bearer(w))).toBe(id);
          }
        },
      })),
    );

    it('should map Pismo 404 WCAC0021 (unknown reason) to PROVIDER_REJECTED, not ACCOUNT_NOT_FOUND', async () => {
      const id = fresh();
      const res = await api.put(id, {
        status: 'SUSPENDED',
        providerOptions: { reasonExternalId: 'NO_SUCH_REASON' },
      });
      expect(expectProblem(res, 422, 'PROVIDER_REJECTED').provider).toEqual({
        id: 'pismo',
        httpStatus: 404,
        code: 'WCAC0021',
        message: 'Reason not found',
      });
      const { accountCalls } = await pismoLog(pm.sandbox, id);
      expect(accountCalls.map((c) => c.body)).toEqual([
        { status: 'BLOCKED', reason_external_id: 'NO_SUCH_REASON' },
      ]);
    });

    it('should map read errors too: unknown account, rate limit, 500', async () => {
      const notFound = expectProblem(await api.get(fresh('NOTFOUND-')), 404, 'ACCOUNT_NOT_FOUND');
      expect(notFound.provider).toMatchObject({ id: 'pismo', httpStatus: 404, code: 'WCAC0012' });
      const limited = await api.get(fresh('RATELIMIT-'));
      expectProblem(limited, 429, 'RATE_LIMITED');
      expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(expectProblem(await api.get(fresh('ERROR500-')), 502, 'PROVIDER_ERROR').provider).toMatchObject({
        httpStatus: 500,
        code: 'ECMN9999',
      });
    });

    it('should answer 502 PROVIDER_ERROR and send no status call when the token endpoint fails', async () => {
      const id = fresh();
      await withSandboxControl(
        pm.sandbox,
        'token-outage',
        [{ enabled: true }, { enabled: false }],
        async () => {
          const problem = expectProblem(await api.put(id, { status: 'ACTIVE' }), 502, 'PROVIDER_ERROR');
          expect(problem.provider).toEqual({
            id: 'pismo',
            httpStatus: 500,
            code: 'ECMN9999',
            message: 'Internal error',
          });
          expect(problem.retryable).toBe(true);
        },
      );
      const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
      expect(tokenCalls.length).toBeGreaterThanOrEqual(1);
      expect(accountCalls).toEqual([]);
    });
  });

  describe('GET status (live read)', () => {
    it('should read the status Pismo holds after a change, with source "provider"', async () => {
      const id = fresh();
      await api.put(id, { status: 'SUSPENDED', reason: 'FRAUD' });
      const res = await api.get(id);
      expectRead(res, 'pismo', id, {
        status: 'SUSPENDED',
        reason: 'FRAUD',
        providerStatus: 'BLOCKED',
        source: 'provider',
        expectedStatus: 'SUSPENDED',
        inSync: true,
        asOf: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
      expect(tokenCalls).toHaveLength(1); // the write's token is reused for the read
      expect(accountCalls.map((c) => [c.method, c.url])).toEqual([
        ['PATCH', CORPORATE_WRITE(id)],
        ['GET', CORPORATE_READ(id)],
      ]);
      expect(tokenAccount(bearer(accountCalls[1]))).toBe(id);

      await api.put(id, { status: 'ACTIVE' });
      expect((await api.get(id)).body).toMatchObject({
        status: 'ACTIVE',
        reason: null,
        providerStatus: 'NORMAL',
      });
    });

    it('should read an untouched account as ACTIVE and a dormant one as status null', async () => {
      expect((await api.get(fresh())).body).toMatchObject({
        status: 'ACTIVE',
        providerStatus: 'NORMAL',
        source: 'provider',
      });
      expect((await api.get(fresh('DORMANT-'))).body).toMatchObject({
        status: null,
        reason: null,
        providerStatus: 'DORMANT',
      });
      expect((await api.get(fresh('CLOSED-'))).body).toMatchObject({
        status: 'CLOSED',
        providerStatus: 'CANCELLED',
      });
    });

    it("should never pass on the sandbox's personal data", async () => {
      const id = fresh();
      const res = await api.get(id);
      expect(Object.keys(res.body).sort()).toEqual(READ_KEYS);
      // The sandbox did send personal data on that read; the gateway dropped it (checked() on every answer).
      const calls = await sandboxCalls(pm.sandbox);
      expect(calls.some((c) => c.url === CORPORATE_READ(id))).toBe(true);
      await new Promise<void>((resolve) => pm.gw.gateway.logger.flush(() => resolve()));
      for (const leak of FAKE_PERSONAL_DATA) expect(pm.gw.rawLogs()).not.toContain(leak);
    });
  });

  describe('dry run', () => {
    it('should answer the exact provider request with an absolute URL and call nothing', async () => {
      const id = fresh();
      const res = await api.dryRun(id, {
        status: 'SUSPENDED',
        reason: 'FRAUD',
        providerOptions: { updateChildren: true, metadata: { k: 'v' } },
      });
      expectDryRun(res, {
        method: 'PATCH',
        url: `${pm.sandbox}${CORPORATE_WRITE(id)}`,
        body: {
          status: 'BLOCKED',
          reason_external_id: 'FRAUD',
          update_children: true,
          metadata: { k: 'v' },
        },
      });
      expect(res.body.providerRequest.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/corporate\//);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(PISMO_SANDBOX_SETTINGS.serverKey);
      expect(text).not.toContain(PISMO_SANDBOX_SETTINGS.serverSecret);
      expect(text).not.toMatch(/Bearer|authorization|token|eyJ/i);
      // Pismo's write needs no token to prepare: neither a token nor a status call was made.
      const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
      expect({ tokenCalls, accountCalls }).toEqual({ tokenCalls: [], accountCalls: [] });
      expect((await api.history(id)).body.items).toEqual([]);
    });

    it('should percent-encode the account id in the provider URL', async () => {
      const id = 'acc:1@x+y~z';
      const res = await api.dryRun(id, { status: 'ACTIVE' });
      expect(res.body.providerRequest.url).toBe(`${pm.sandbox}${CORPORATE_WRITE(encodeURIComponent(id))}`);
    });
  });

  describe('request ids', () => {
    it('should send the caller X-Request-Id on to Pismo on the token and the status call', async () => {
      const id = fresh();
      const requestId = 'pismo-trace-42';
      const res = await api.put(id, { status: 'SUSPENDED' }, { headers: { 'x-request-id': requestId } });
      expect(res.headers.get('x-request-id')).toBe(requestId);
      expect(res.body.requestId).toBe(requestId);
      const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
      expect(accountCalls[0].headers['x-request-id']).toBe(requestId);
      expect(tokenCalls[0].headers['x-request-id']).toBe(requestId);

      const read = await api.get(id, { headers: { 'x-request-id': 'pismo-read-43' } });
      expect(read.headers.get('x-request-id')).toBe('pismo-read-43');
      const after = await pismoLog(pm.sandbox, id);
      expect(after.accountCalls[1]).toMatchObject({
        method: 'GET',
        headers: { 'x-request-id': 'pismo-read-43' },
      });
    });
  });

  describe('providerOptions and id validation', () => {
    const invalid = [
      { options: { foo: 1 }, field: 'providerOptions.foo' },
      { options: { ztmSessionKey: 'k' }, field: 'providerOptions.ztmSessionKey' },
      { options: { updateChildren: 'yes' }, field: 'providerOptions.updateChildren' },
      { options: { reasonExternalId: '' }, field: 'providerOptions.reasonExternalId' },
      { options: { reasonExternalId: 'R'.repeat(121) }, field: 'providerOptions.reasonExternalId' },
      { options: { reasonExternalId: 7 }, field: 'providerOptions.reasonExternalId' },
      { options: { metadata: ['x'] }, field: 'providerOptions.metadata' },
      { options: { metadata: 'x' }, field: 'providerOptions.metadata' },
    ];

    it.each(invalid)(
      'should refuse $field ($options) with 400 before any call',
      async ({ options, field }) => {
        const id = fresh();
        const problem = expectProblem(
          await api.put(id, { status: 'SUSPENDED', providerOptions: options }),
          400,
          'VALIDATION_FAILED',
        );
        expect(problem.errors).toEqual([expect.objectContaining({ field })]);
        expect((await pismoLog(pm.sandbox, id)).calls.filter((c) => c.url.includes(id))).toEqual([]);
      },
    );

    it('should accept a reasonExternalId of exactly 120 characters', async () => {
      const id = fresh();
      const res = await api.dryRun(id, {
        status: 'SUSPENDED',
        providerOptions: { reasonExternalId: 'R'.repeat(120) },
      });
      expect(res.body.providerRequest.body).toEqual({
        status: 'BLOCKED',
        reason_external_id: 'R'.repeat(120),
      });
    });

    it('should refuse a corporate external account id longer than 60 characters', async () => {
      const id = `x${'1'.repeat(60)}`;
      const problem = expectProblem(await api.put(id, { status: 'ACTIVE' }), 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([expect.objectContaining({ field: 'accountId' })]);
      expect((await sandboxCalls(pm.sandbox)).filter((c) => c.url.includes(id))).toEqual([]);
    });
  });
});

describe('Pismo per-account tokens through the gateway (built-in sandbox)', () => {
  const pm = usePismo();
  const { api } = pm;

  /** Changes the account to each status in turn, each answered 200. */
  async function changeInTurn(id: string, ...statuses: string[]): Promise<void> {
    for (const status of statuses) expect((await api.put(id, { status })).status).toBe(200);
  }

  /** How many tokens were minted for the account, and the bearer token of each of its calls, in order. */
  async function tokensUsed(id: string): Promise<{ mints: number; tokens: string[] }> {
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    return { mints: tokenCalls.length, tokens: accountCalls.map(bearer) };
  }

  it('should mint one token per account and never send account A’s token for account B', async () => {
    const a = fresh();
    const b = fresh();
    expect((await api.put(a, { status: 'SUSPENDED' })).status).toBe(200);
    expect((await api.put(b, { status: 'SUSPENDED' })).status).toBe(200);
    expect((await api.put(a, { status: 'ACTIVE' })).status).toBe(200);
    expect((await api.get(b)).status).toBe(200);

    const logA = await pismoLog(pm.sandbox, a);
    const logB = await pismoLog(pm.sandbox, b);
    expect(logA.tokenCalls).toHaveLength(1);
    expect(logB.tokenCalls).toHaveLength(1);
    const tokensA = new Set(logA.accountCalls.map(bearer));
    const tokensB = new Set(logB.accountCalls.map(bearer));
    expect(tokensA.size).toBe(1); // reused for the second change
    expect(tokensB.size).toBe(1); // reused for the read
    const [tokenA] = [...tokensA];
    const [tokenB] = [...tokensB];
    expect(tokenA).not.toBe(tokenB);
    expect(tokenAccount(tokenA)).toBe(a);
    expect(tokenAccount(tokenB)).toBe(b);
    // No call in the whole log used a token bound to another account than its path names.
    for (const c of logA.calls.filter((x) => pathAccount(x) !== undefined)) {
      expect(tokenAccount(bearer(c))).toBe(pathAccount(c));
    }
  });

  it('should share one mint among 8 parallel requests for one account', async () => {
    const id = fresh();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api.put(id, { status: i % 2 === 0 ? 'SUSPENDED' : 'ACTIVE' })),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls).toHaveLength(1);
    expect(accountCalls).toHaveLength(8);
    expect(new Set(accountCalls.map(bearer)).size).toBe(1);
  });

  it('should mint exactly one token per account for parallel requests on two accounts', async () => {
    const a = fresh();
    const b = fresh();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api.put(i % 2 === 0 ? a : b, { status: 'SUSPENDED' })),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    for (const id of [a, b]) {
      const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
      expect(tokenCalls).toHaveLength(1);
      expect(accountCalls).toHaveLength(4);
      for (const c of accountCalls) expect(tokenAccount(bearer(c))).toBe(id);
    }
  });

  it('should re-mint once and retry when Pismo answers 401 (token expired mid-flight)', async () => {
    const id = fresh('AUTHEXPIRED-');
    await expectApplied(api, id, { status: 'SUSPENDED', reason: 'FRAUD' }, 'BLOCKED');
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls).toHaveLength(2);
    expect(accountCalls).toHaveLength(2);
    const [first, second] = accountCalls.map(bearer);
    expect(first).not.toBe(second);
    expect(accountCalls.map((c) => c.body)).toEqual([
      { status: 'BLOCKED', reason_external_id: 'FRAUD' },
      { status: 'BLOCKED', reason_external_id: 'FRAUD' },
    ]);
  });

  it('should re-mint after the sandbox expires every token, then reuse the new one', async () => {
    const id = fresh();
    await changeInTurn(id, 'SUSPENDED');
    await control(pm.sandbox, 'expire-tokens', {});
    await changeInTurn(id, 'ACTIVE', 'SUSPENDED');
    const { mints, tokens } = await tokensUsed(id);
    expect(mints).toBe(2);
    // 1 (old token) + 1 refused (expired) + 1 retried + 1 (new token reused)
    expect(tokens).toHaveLength(4);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[2]).toBe(tokens[3]);
    expect(tokens[1]).not.toBe(tokens[2]);
  });

  it('should mint a new token before the old one expires (token lifetime from the JWT exp)', async () => {
    const id = fresh();
    // 22 s tokens: fresh to the gateway for 1–2 s (it drops them 20 s before exp).
    await withSandboxControl(pm.sandbox, 'token-lifetime', [{ seconds: 22 }, { seconds: 600 }], async () => {
      await changeInTurn(id, 'SUSPENDED', 'ACTIVE');
      expect((await tokensUsed(id)).mints).toBe(1);
      await new Promise((r) => setTimeout(r, 2100));
      await changeInTurn(id, 'SUSPENDED');
    });
    const { mints, tokens } = await tokensUsed(id);
    expect(mints).toBe(2);
    // Proactive refresh: no call was refused, so no retry.
    expect(tokens).toHaveLength(3);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[2]).not.toBe(tokens[1]);
  });

  it('should answer 502 PROVIDER_AUTH_FAILED after one re-mint when every token is refused', async () => {
    const id = fresh();
    let res!: JsonResponse;
    await withSandboxControl(pm.sandbox, 'token-lifetime', [{ seconds: 0 }, { seconds: 600 }], async () => {
      res = await api.put(id, { status: 'SUSPENDED' });
    });
    expectFailure(res, 'PROVIDER_AUTH_FAILED', {
      id: 'pismo',
      httpStatus: 401,
      code: 'EPSP0401',
      message: 'Unauthorized',
    });
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls).toHaveLength(2);
    expect(accountCalls).toHaveLength(2);
  });
});

describe('Pismo regular accounts API (built-in sandbox, PISMO_ACCOUNT_API=accounts)', () => {
  const pm = usePismo({ env: { PISMO_ACCOUNT_API: 'accounts' } });
  /** One token request bound to the account's number, and one PATCH of `body` to its status path. */
  const expectAccountsWrite = (id: string, body: unknown) =>
    expectOneMintAndWrite(pm.sandbox, id, ACCOUNTS_WRITE(id), body, Number(id));
  const { api } = pm;

  it('should list CLOSED as supported (CANCELLED, terminal) and the rest as in the corporate API', async () => {
    const p = await listedProvider(pm);
    expect(p.statuses.CLOSED).toMatchObject({ supported: true, providerValue: 'CANCELLED', terminal: true });
    expect(p.statuses.ACTIVE).toMatchObject({ supported: true, providerValue: 'NORMAL' });
    expect(p.statuses.SUSPENDED).toMatchObject({ supported: true, providerValue: 'BLOCKED' });
    for (const s of ['DELINQUENT', 'DISPUTED', 'DO_NOT_CONTACT']) expect(p.statuses[s].supported).toBe(false);
  });

  it('should send ACTIVE and SUSPENDED to PATCH /accounts/v2/accounts/{id}/status with a numeric token account', async () => {
    const active = freshNumeric();
    await expectApplied(api, active, { status: 'ACTIVE' }, 'NORMAL');
    await expectAccountsWrite(active, { status: 'NORMAL' });

    const suspended = freshNumeric();
    await expectApplied(api, suspended, { status: 'SUSPENDED', reason: 'FRAUD' }, 'BLOCKED');
    await expectAccountsWrite(suspended, { status: 'BLOCKED', reason_id: 'FRAUD' });

    const explicit = freshNumeric();
    await api.put(explicit, {
      status: 'SUSPENDED',
      reason: 'FRAUD',
      providerOptions: { reasonExternalId: 'CREDIT_ONLY' },
    });
    await expectAccountsWrite(explicit, { status: 'BLOCKED', reason_id: 'CREDIT_ONLY' });
  });

  it('should send CLOSED as CANCELLED, read it back as CLOSED, then treat the account as terminal', async () => {
    const id = freshNumeric();
    await expectApplied(api, id, { status: 'CLOSED', reason: 'CUSTOMER_REQUEST' }, 'CANCELLED');
    await expectAccountsWrite(id, { status: 'CANCELLED', reason_id: 'CUSTOMER_REQUEST' });

    await expectReadBack(api, id, ['CLOSED', 'CUSTOMER_REQUEST', 'CANCELLED']);
    expect(
      (await sandboxCalls(pm.sandbox)).some((c) => c.method === 'GET' && c.url === ACCOUNTS_READ(id)),
    ).toBe(true);

    // CANCELLED is final at Pismo: a later change is refused as ACCOUNT_CLOSED (CONTRACT section 5).
    const again = await api.put(id, { status: 'ACTIVE' });
    const problem = expectProblem(again, 409, 'ACCOUNT_CLOSED');
    expect(problem.provider).toMatchObject({
      id: 'pismo',
      httpStatus: 400,
      message: 'Account is in a final status',
    });
    expect((await api.get(id)).body).toMatchObject({ status: 'CLOSED', providerStatus: 'CANCELLED' });
  });

  it('should answer ACCOUNT_CLOSED for an account already CANCELLED at Pismo', async () => {
    const id = fresh('CLOSED-');
    const problem = expectProblem(await api.put(id, { status: 'SUSPENDED' }), 409, 'ACCOUNT_CLOSED');
    expect(problem.provider).toMatchObject({ httpStatus: 400, message: 'Account is in a final status' });
  });

  it('should map the accounts API errors that carry no code by message or HTTP status, keeping the message', async () => {
    const notFound = expectProblem(
      await api.put(fresh('NOTFOUND-'), { status: 'ACTIVE' }),
      404,
      'ACCOUNT_NOT_FOUND',
    );
    expect(notFound.provider).toEqual({
      id: 'pismo',
      httpStatus: 404,
      code: 'NO_CODE',
      message: 'Account not found',
    });
    const transition = expectProblem(
      await api.put(fresh('TRANSITION-'), { status: 'ACTIVE' }),
      409,
      'INVALID_TRANSITION',
    );
    expect(transition.provider).toMatchObject({ httpStatus: 422, code: 'NO_CODE' });
    const error = expectProblem(
      await api.put(fresh('ERROR500-'), { status: 'ACTIVE' }),
      502,
      'PROVIDER_ERROR',
    );
    expect(error.provider).toMatchObject({ httpStatus: 500, code: 'ECMN9999' });
  });

  it('should refuse corporate-only providerOptions and allow ids over 60 characters', async () => {
    for (const key of ['updateChildren', 'metadata']) {
      const value = key === 'updateChildren' ? true : { a: 1 };
      const problem = expectProblem(
        await api.put(freshNumeric(), { status: 'SUSPENDED', providerOptions: { [key]: value } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors).toEqual([expect.objectContaining({ field: `providerOptions.${key}` })]);
    }
    const long = `9${'1'.repeat(70)}`;
    expectDryRun(await api.dryRun(long, { status: 'CLOSED' }), {
      method: 'PATCH',
      url: `${pm.sandbox}${ACCOUNTS_WRITE(long)}`,
      body: { status: 'CANCELLED' },
    });
    expect((await sandboxCalls(pm.sandbox)).filter((c) => c.url.includes(long))).toEqual([]);
  });

  it("should not pass on the accounts API's personal data on a read", async () => {
    const id = freshNumeric();
    const res = await api.get(id);
    expect(res.body).toMatchObject({ status: 'ACTIVE', providerStatus: 'NORMAL', source: 'provider' });
    expect(Object.keys(res.body).sort()).toEqual(READ_KEYS);
  });
});

describe('Pismo in live mode (standalone sandbox at PISMO_BASE_URL)', () => {
  const { serverKey, serverSecret } = PISMO_SANDBOX_SETTINGS;
  const pm = usePismo({ live: { PISMO_SERVER_KEY: serverKey, PISMO_SERVER_SECRET: serverSecret } });
  const { api } = pm;

  it('should report Pismo as live and the others on their sandboxes', async () => {
    // Against the standalone sandbox's own URL (pm.sandbox is the gateway's URL, so it proves nothing).
    await expectLiveMode(pm);
  });

  it("should send the contract's requests with a per-account token to PISMO_BASE_URL", async () => {
    const id = fresh();
    const change = { status: 'SUSPENDED', reason: 'FRAUD', providerOptions: { updateChildren: true } };
    await expectApplied(api, id, change, 'BLOCKED');
    await expectOneMintAndWrite(pm.sandbox, id, CORPORATE_WRITE(id), {
      status: 'BLOCKED',
      reason_external_id: 'FRAUD',
      update_children: true,
    });
    await expectReadBack(api, id, ['SUSPENDED', 'FRAUD', 'BLOCKED']);
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls).toHaveLength(1);
    expect(accountCalls.map((c) => [c.method, c.url])).toEqual([
      ['PATCH', CORPORATE_WRITE(id)],
      ['GET', CORPORATE_READ(id)],
    ]);

    const dry = await api.dryRun(id, { status: 'ACTIVE' });
    expect(dry.body.providerRequest).toEqual({
      method: 'PATCH',
      url: `${pm.sandbox}${CORPORATE_WRITE(id)}`,
      body: { status: 'NORMAL' },
    });
    expect((await pismoLog(pm.sandbox, id)).accountCalls).toHaveLength(2);

    await new Promise<void>((resolve) => pm.gw.gateway.logger.flush(() => resolve()));
    expect(pm.gw.rawLogs()).not.toContain(PISMO_SANDBOX_SETTINGS.serverSecret);
    expect(pm.gw.rawLogs()).not.toContain(bearer(accountCalls[0]));
  });

  it('should refuse CLOSED before any call, as in sandbox mode', async () => {
    const id = fresh();
    expectProblem(await api.put(id, { status: 'CLOSED', reason: 'FRAUD' }), 422, 'STATUS_NOT_SUPPORTED');
    expect(
      (await sandboxCalls(pm.sandbox)).filter(
        (c) => c.url.includes(id) || JSON.stringify(c.body ?? null).includes(id),
      ),
    ).toEqual([]);
  });
});

describe('Pismo in live mode with wrong credentials', () => {
  const pm = usePismo({
    live: { PISMO_SERVER_KEY: PISMO_SANDBOX_SETTINGS.serverKey, PISMO_SERVER_SECRET: 'not-the-secret' },
  });
  const { api } = pm;

  it('should answer 502 PROVIDER_AUTH_FAILED with Passport’s answer and send no status call', async () => {
    const id = fresh();
    const res = await api.put(id, { status: 'SUSPENDED' });
    const problem = expectFailure(res, 'PROVIDER_AUTH_FAILED', INVALID_CREDENTIALS);
    expect(JSON.stringify(problem)).not.toContain('not-the-secret');
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls.length).toBeGreaterThanOrEqual(1);
    expect(tokenCalls.length).toBeLessThanOrEqual(2);
    expect(tokenCalls[0].body).toMatchObject({ server_secret: 'not-the-secret', account_id: id });
    expect(accountCalls).toEqual([]);
    expectFailure(await api.get(id), 'PROVIDER_AUTH_FAILED', INVALID_CREDENTIALS);
  });
});

describe('Pismo timeouts (PISMO_TIMEOUT_MS=300)', () => {
  const SLOW_MS = 1500;
  let lastSlowAt = 0;
  const slowAccount = () => {
    lastSlowAt = Date.now();
    return fresh(`SLOW${SLOW_MS}-`);
  };
  // Timeouts, not the breaker, are under test here: keep the circuit closed through repeated timeouts.
  const pm = usePismo({
    env: { PISMO_TIMEOUT_MS: '300', CIRCUIT_FAILURE_THRESHOLD: '1000' },
    // Let the sandbox finish its delayed answers, so no timer outlives the test run.
    beforeClose: () => new Promise((r) => setTimeout(r, Math.max(0, lastSlowAt + SLOW_MS + 50 - Date.now()))),
  });
  const { api } = pm;

  it('should answer 504 PROVIDER_TIMEOUT within timeout × attempts plus a margin for a slow status call', async () => {
    const id = slowAccount();
    const started = Date.now();
    const res = await api.put(id, { status: 'SUSPENDED' });
    const elapsed = Date.now() - started;
    const problem = expectProblem(res, 504, 'PROVIDER_TIMEOUT');
    expect(problem.retryable).toBe(true);
    expect(elapsed).toBeLessThan(2_500);
    const { tokenCalls, accountCalls } = await pismoLog(pm.sandbox, id);
    expect(tokenCalls).toHaveLength(1);
    expect(accountCalls.length).toBeGreaterThanOrEqual(1);
    expect(accountCalls[0]).toMatchObject({ method: 'PATCH', url: CORPORATE_WRITE(id) });
    const history = await api.history(id);
    expect(history.body.items[0]).toMatchObject({ outcome: 'FAILED', errorCode: 'PROVIDER_TIMEOUT' });
  });

  it('should answer 504 PROVIDER_TIMEOUT for a slow read and still serve a fast account', async () => {
    const started = Date.now();
    expectProblem(await api.get(slowAccount()), 504, 'PROVIDER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
    const id = fresh();
    expect((await api.put(id, { status: 'ACTIVE' })).status).toBe(200);
  });
});

describe('Pismo OpenID account tokens through the gateway (issue 15)', () => {
  const OPENID_PATH = '/passport/v1/oauth2/token';
  const claimsOf = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

  async function expectOpenIdChangeAndRead(gw: TestGateway, base: string): Promise<void> {
    const api = statusClient('pismo', () => gw, checked);
    const id = fresh();
    await expectApplied(api, id, { status: 'SUSPENDED' }, 'BLOCKED');
    expect((await api.get(id)).body).toMatchObject({ status: 'SUSPENDED', providerStatus: 'BLOCKED' });
    const calls = (await sandboxCalls(base)).filter((c) =>
      c.url === OPENID_PATH
        ? claimsOf((c.body as any).token).external_account_id === id
        : pathAccount(c) === id,
    );
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `POST ${OPENID_PATH}`,
      `PATCH ${CORPORATE_WRITE(id)}`,
      `GET ${CORPORATE_READ(id)}`,
    ]);
    expect(claimsOf((calls[0].body as any).token)).toMatchObject({
      tenant_id: 'TN-SANDBOX',
      external_account_id: id,
      sub: id,
      aud: base,
    });
    expect(tokenAccount(bearer(calls[1]))).toBe(id);
    expect(bearer(calls[2])).toBe(bearer(calls[1]));
    expect((await sandboxCalls(base)).some((c) => c.url === TOKEN_PATH)).toBe(false);
  }

  it('should use OpenID by default in sandbox mode, sandbox and adapter agreeing on a generated key', async () => {
    const gw = await startGateway();
    try {
      await expectOpenIdChangeAndRead(gw, gw.providerUrl('pismo'));
    } finally {
      await gw.close();
    }
  });

  it('should use OpenID in live mode with PISMO_TENANT_ID and PISMO_PRIVATE_KEY, never logging the key', async () => {
    const sandbox = await startSandbox('pismo');
    const gw = await startGateway({
      PISMO_BASE_URL: sandbox.url,
      PISMO_TENANT_ID: 'TN-SANDBOX',
      PISMO_PRIVATE_KEY: PISMO_SANDBOX_SETTINGS.privateKey,
      AUTH_DISABLED: 'true',
    });
    try {
      await expectOpenIdChangeAndRead(gw, sandbox.url);
      const keyBody = PISMO_SANDBOX_SETTINGS.privateKey.split('\n')[1];
      expect(gw.rawLogs()).not.toContain(keyBody);
    } finally {
      await gw.close();
      await sandbox.close();
    }
  });
});
