/**
 * ClearGrid end to end: the real gateway over HTTP against the ClearGrid sandbox (built-in, or started
 * on its own as a "live" provider). Checks CONTRACT.md sections 3, 4 and 5 for ClearGrid, and what the
 * sandbox received for every change (its call log), including the lender login / refresh-token flows.
 */
import {
  CLEARGRID_SANDBOX_LENDER_PUBLIC_ID,
  CLEARGRID_SANDBOX_SETTINGS,
} from '../src/providers/cleargrid/cleargrid.sandbox.js';
import type { SandboxCall } from '../src/providers/sandbox/sandbox-kit.js';
import { expectChange, expectDryRun, expectFailure, expectHistory, expectRead } from './support/answers.js';
import { call, expectProblem, startSandbox, type JsonResponse } from './support/gateway.js';
import {
  callsFrom,
  expectLiveMode,
  itMapsMagicFailures,
  listedProvider,
  sandboxControl as control,
  withSandboxControl,
  useProviderGateway,
  type FailureContext,
  type MagicFailure,
  type ProviderSuite,
} from './support/provider-harness.js';

const SETTINGS = CLEARGRID_SANDBOX_SETTINGS;
const LENDER_PUBLIC_ID = CLEARGRID_SANDBOX_LENDER_PUBLIC_ID;
const LOGIN_PATH = `/admin/auth/${SETTINGS.lender}/login`;
const REFRESH_PATH = `/admin/auth/${SETTINGS.lender}/refresh-token`;
const UPDATE_STATUS_PATH = `/admin/v3/lenders/${LENDER_PUBLIC_ID}/accounts/update-status`;
const ACCOUNTS_PATH = `/admin/v3/lenders/${LENDER_PUBLIC_ID}/accounts`;
/** ClearGrid's answers (no code of its own): to a token it refuses, and its documented 500. */
const UNAUTHORIZED = { id: 'cleargrid', httpStatus: 401, code: 'NO_CODE', message: 'Unauthorized' } as const;
const SERVER_ERROR = {
  httpStatus: 500,
  code: 'NO_CODE',
  message: 'Something went wrong. Please try again later.',
};
const SUPPORTED = ['DISPUTED', 'DO_NOT_CONTACT', 'CLOSED'];
const UNSUPPORTED = ['ACTIVE', 'SUSPENDED', 'DELINQUENT'];

let counter = 0;
/** A fresh account id (state persists in a sandbox); a magic prefix such as `NOTFOUND` selects a failure. */
function accountId(prefix = 'cg'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

type CallKind = 'login' | 'refresh' | 'update-status' | 'accounts' | 'other';

function kindOf(c: SandboxCall): CallKind {
  const path = c.url.split('?')[0];
  if (c.method !== 'POST') return 'other';
  if (path === LOGIN_PATH) return 'login';
  if (path === REFRESH_PATH) return 'refresh';
  if (path === UPDATE_STATUS_PATH) return 'update-status';
  if (path === ACCOUNTS_PATH) return 'accounts';
  return 'other';
}

function isWrite(c: SandboxCall): boolean {
  return c.url.startsWith('/admin/v3/');
}

function bearer(c: SandboxCall): string | undefined {
  const header = c.headers.authorization;
  return typeof header === 'string' ? /^Bearer (.+)$/.exec(header)?.[1] : undefined;
}

/** The (unverified) claims of a sandbox JWT. */
function claims(token: string | undefined): Record<string, unknown> {
  const payload = token?.split('.')[1];
  return payload
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>)
    : {};
}

/** Writes at the sandbox that name this account in their batch. */
function writesFor(calls: SandboxCall[], account: string): SandboxCall[] {
  return calls.filter(
    (c) => isWrite(c) && ((c.body as any)?.accounts ?? []).some((item: any) => item.accountId === account),
  );
}

/** The sandbox's own view of an account, once it has processed the accepted change (async at ClearGrid). */
async function sandboxAccount(
  sandboxUrl: string,
  account: string,
  until: (view: any) => boolean,
): Promise<any> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const res = await call('GET', `${sandboxUrl}/__sandbox/accounts/${account}`);
    if (res.status === 200 && until(res.body)) return res.body;
    if (Date.now() > deadline) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function expectAccepted(res: JsonResponse, account: string, status: string, providerStatus: number): void {
  expectChange(res, 'cleargrid', account, {
    status,
    reason: null,
    outcome: 'ACCEPTED',
    providerStatus,
  });
}

/** Sends a change ClearGrid accepts (202 ACCEPTED, `providerStatus`) and returns the calls it made there. */
async function acceptedCalls(
  cg: ProviderSuite,
  account: string,
  change: { status: string; customerId: string },
  providerStatus: number,
): Promise<SandboxCall[]> {
  const since = await callsFrom(cg.sandbox);
  expectAccepted(await cg.api.put(account, change), account, change.status, providerStatus);
  return since();
}

/** One DISPUTED change for a fresh account as `debtor`, accepted (to hold a token first, or to use one). */
async function expectDisputed(cg: ProviderSuite, debtor: string): Promise<void> {
  expect((await cg.api.put(accountId(), { status: 'DISPUTED', customerId: debtor })).status).toBe(202);
}

describe('ClearGrid through the gateway (sandbox mode)', () => {
  const cg = useProviderGateway('cleargrid');

  describe('capabilities', () => {
    it('should list ClearGrid in GET /v1/providers as sandbox, liveRead false, with the section 5 matrix', async () => {
      const cleargrid = await listedProvider(cg);
      expect(cleargrid).toMatchObject({ mode: 'sandbox', circuit: 'closed', liveRead: false });
      expect(cleargrid.statuses.DISPUTED).toEqual({ supported: true, providerValue: 5, terminal: false });
      expect(cleargrid.statuses.DO_NOT_CONTACT).toEqual({
        supported: true,
        providerValue: 6,
        terminal: false,
      });
      expect(cleargrid.statuses.CLOSED).toEqual({ supported: true, providerValue: 3, terminal: true });
      for (const s of UNSUPPORTED) {
        expect(cleargrid.statuses[s]).toEqual({ supported: false, providerValue: null, terminal: false });
      }
    });
  });

  describe('supported statuses', () => {
    it('should send DISPUTED as update-status 5 with a bearer from the lender login and answer 202 ACCEPTED', async () => {
      const account = accountId();
      const calls = await acceptedCalls(cg, account, { status: 'DISPUTED', customerId: 'debtor-1' }, 5);
      const writes = writesFor(calls, account);
      expect(writes).toHaveLength(1);
      const [write] = writes;
      expect(write.method).toBe('POST');
      expect(write.url).toBe(UPDATE_STATUS_PATH);
      expect(write.body).toEqual({
        accounts: [{ status: 5, debtorCompanyId: 'debtor-1', accountId: account }],
      });
      expect(write.headers['content-type']).toMatch(/^application\/json/);
      expect(claims(bearer(write))).toMatchObject({ typ: 'access', lenderPublicId: LENDER_PUBLIC_ID });
      // The first change of this gateway logs in first, with the sandbox credentials.
      const login = calls.find((c) => kindOf(c) === 'login');
      expect(login?.body).toEqual({ email: SETTINGS.email, password: SETTINGS.password });
      expect(login?.headers.authorization).toBeUndefined();
      expect(calls.map(kindOf)).toEqual(['login', 'update-status']);

      const view = await sandboxAccount(cg.sandbox, account, (v) => v.status === 5);
      expect(view).toMatchObject({
        accountId: account,
        debtorCompanyId: 'debtor-1',
        status: 5,
        disputed: true,
      });
    });

    it('should send DO_NOT_CONTACT as update-status 6 reusing the token', async () => {
      const account = accountId();
      const calls = await acceptedCalls(
        cg,
        account,
        { status: 'DO_NOT_CONTACT', customerId: 'debtor-dnc' },
        6,
      );
      expect(calls.map(kindOf)).toEqual(['update-status']);
      expect(calls[0].body).toEqual({
        accounts: [{ status: 6, debtorCompanyId: 'debtor-dnc', accountId: account }],
      });
      const view = await sandboxAccount(cg.sandbox, account, (v) => v.status === 6);
      expect(view).toMatchObject({ status: 6, doNotContact: true, disputed: false });
    });

    it('should send CLOSED as the accounts withdraw item (status 3) and answer 202 ACCEPTED', async () => {
      const account = accountId();
      const calls = await acceptedCalls(cg, account, { status: 'CLOSED', customerId: 'debtor-3' }, 3);
      expect(calls.map(kindOf)).toEqual(['accounts']);
      expect(calls[0].url).toBe(ACCOUNTS_PATH);
      expect(calls[0].body).toEqual({
        accounts: [{ status: 3, accountId: account, debtorCompanyId: 'debtor-3' }],
      });
      expect(claims(bearer(calls[0]))).toMatchObject({ typ: 'access' });
      const view = await sandboxAccount(cg.sandbox, account, (v) => v.withdrawn);
      expect(view).toMatchObject({ status: 3, withdrawn: true });

      // Withdrawn is final at ClearGrid: a later change is refused by the provider as ACCOUNT_CLOSED.
      const again = await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-3' });
      expectFailure(again, 'ACCOUNT_CLOSED', {
        id: 'cleargrid',
        httpStatus: 400,
        code: 'NO_CODE',
        message: 'Account has been withdrawn',
      });
    });

    it('should send the same request whatever the reason (ClearGrid takes none) and echo the reason', async () => {
      for (const reason of ['FRAUD', 'CUSTOMER_REQUEST', 'BANKRUPTCY']) {
        const account = accountId();
        const since = await callsFrom(cg.sandbox);
        const res = await cg.api.put(account, { status: 'DISPUTED', reason, customerId: 'debtor-r' });
        expect(res.status).toBe(202);
        expect(res.body).toMatchObject({
          status: 'DISPUTED',
          reason,
          providerStatus: 5,
          outcome: 'ACCEPTED',
        });
        const [write] = writesFor(await since(), account);
        expect(write.body).toEqual({
          accounts: [{ status: 5, debtorCompanyId: 'debtor-r', accountId: account }],
        });
      }
      const account = accountId();
      const since = await callsFrom(cg.sandbox);
      const closed = await cg.api.put(account, {
        status: 'CLOSED',
        reason: 'PAID_OFF',
        customerId: 'debtor-r',
      });
      expect(closed.status).toBe(202);
      expect(closed.body).toMatchObject({ status: 'CLOSED', reason: 'PAID_OFF', providerStatus: 3 });
      const [write] = writesFor(await since(), account);
      expect(write.body).toEqual({
        accounts: [{ status: 3, accountId: account, debtorCompanyId: 'debtor-r' }],
      });
    });

    it('should send the caller X-Request-Id to ClearGrid on the status call and echo it', async () => {
      const account = accountId();
      const requestId = `cg-trace-${counter}`;
      const since = await callsFrom(cg.sandbox);
      const res = await cg.api.put(
        account,
        { status: 'DISPUTED', customerId: 'debtor-rid' },
        { headers: { 'x-request-id': requestId } },
      );
      expect(res.status).toBe(202);
      expect(res.headers.get('x-request-id')).toBe(requestId);
      expect(res.body.requestId).toBe(requestId);
      const [write] = writesFor(await since(), account);
      expect(write.headers['x-request-id']).toBe(requestId);
    });

    it('should replay an idempotent change without a second call to ClearGrid', async () => {
      const account = accountId();
      const since = await callsFrom(cg.sandbox);
      const headers = { 'idempotency-key': `cg-key-${account}` };
      const body = { status: 'DISPUTED', customerId: 'debtor-idem' };
      const first = await cg.api.put(account, body, { headers });
      const second = await cg.api.put(account, body, { headers });
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(writesFor(await since(), account)).toHaveLength(1);
    });
  });

  describe('unsupported statuses', () => {
    it.each(UNSUPPORTED)(
      'should refuse %s with 422 STATUS_NOT_SUPPORTED before any ClearGrid call',
      async (status) => {
        const account = accountId();
        const since = await callsFrom(cg.sandbox);
        for (const reason of [undefined, 'FRAUD']) {
          const res = await cg.api.put(account, { status, reason, customerId: 'debtor-x' });
          const problem = expectProblem(res, 422, 'STATUS_NOT_SUPPORTED');
          expect(problem.supportedStatuses).toEqual(SUPPORTED);
          expect(problem.retryable).toBe(false);
          expect(problem.provider).toBeUndefined();
          expect(problem.detail).toContain(status);
        }
        expect(await since()).toEqual([]);
        // Still an audited attempt (refused before any call, so no provider request).
        const history = await cg.api.history(account);
        expect(history.body.items).toHaveLength(2);
        for (const item of history.body.items) {
          expect(item).toMatchObject({
            status,
            outcome: 'FAILED',
            errorCode: 'STATUS_NOT_SUPPORTED',
            providerRequest: null,
            providerHttpStatus: null,
          });
        }
      },
    );

    it('should refuse an unsupported status in a dry run too, without calling ClearGrid', async () => {
      const since = await callsFrom(cg.sandbox);
      const res = await cg.api.dryRun(accountId(), { status: 'ACTIVE', customerId: 'debtor-x' });
      expect(expectProblem(res, 422, 'STATUS_NOT_SUPPORTED').supportedStatuses).toEqual(SUPPORTED);
      expect(await since()).toEqual([]);
    });
  });

  describe('request validation', () => {
    it('should require customerId (400 naming customerId) and call nothing', async () => {
      const since = await callsFrom(cg.sandbox);
      for (const body of [
        { status: 'DISPUTED' },
        { status: 'DO_NOT_CONTACT' },
        { status: 'CLOSED', reason: 'PAID_OFF' },
      ]) {
        const res = await cg.api.put(accountId(), body);
        const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(problem.errors).toEqual([{ field: 'customerId', message: expect.any(String) }]);
      }
      const dry = await cg.api.dryRun(accountId(), { status: 'DISPUTED' });
      expect(expectProblem(dry, 400, 'VALIDATION_FAILED').errors[0].field).toBe('customerId');
      expect(await since()).toEqual([]);
    });

    it('should refuse any providerOptions key (400 naming providerOptions.<key>) and call nothing', async () => {
      const since = await callsFrom(cg.sandbox);
      const account = accountId();
      const unknown = await cg.api.put(account, {
        status: 'DISPUTED',
        customerId: 'debtor-o',
        providerOptions: { foo: 1 },
      });
      expect(expectProblem(unknown, 400, 'VALIDATION_FAILED').errors).toEqual([
        { field: 'providerOptions.foo', message: expect.any(String) },
      ]);
      // Another provider's option is not ClearGrid's either.
      const pismo = await cg.api.put(account, {
        status: 'DISPUTED',
        customerId: 'debtor-o',
        providerOptions: { updateChildren: true },
      });
      expect(expectProblem(pismo, 400, 'VALIDATION_FAILED').errors.map((e: any) => e.field)).toEqual([
        'providerOptions.updateChildren',
      ]);
      expect(await since()).toEqual([]);
      // Validation failures are not audited attempts.
      const history = await cg.api.history(account);
      expect(history.body).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('provider errors', () => {
    // Every row sends this change; every status call must go to update-status.
    const base = {
      change: { status: 'DISPUTED', customerId: 'debtor-e' },
      also: ({ calls }: FailureContext) => {
        for (const c of calls) expect(c.url).toBe(UPDATE_STATUS_PATH);
      },
    };
    const rows: MagicFailure[] = [
      {
        ...base,
        magic: 'NOTFOUND',
        title: 'a per-account "Account not found" (NOTFOUND-) to 404 ACCOUNT_NOT_FOUND',
        code: 'ACCOUNT_NOT_FOUND',
        provider: { httpStatus: 400, code: 'NO_CODE', message: 'Account not found' },
        providerCalls: 1,
      },
      {
        ...base,
        magic: 'CLOSED',
        title: 'a withdrawn account (CLOSED-) to 409 ACCOUNT_CLOSED',
        code: 'ACCOUNT_CLOSED',
        provider: { httpStatus: 400, code: 'NO_CODE', message: 'Account has been withdrawn' },
        providerCalls: 1,
      },
      {
        ...base,
        magic: 'REJECT',
        title: 'a per-account validation error (REJECT-) to 422 PROVIDER_REJECTED',
        code: 'PROVIDER_REJECTED',
        provider: {
          httpStatus: 400,
          code: 'NO_CODE',
          message: 'debtorCompanyId does not match the debtor of this account',
        },
        providerCalls: 1,
      },
      {
        ...base,
        magic: 'ERROR500',
        title: 'a 500 (ERROR500-) to 502 PROVIDER_ERROR keeping the documented message',
        code: 'PROVIDER_ERROR',
        provider: SERVER_ERROR,
      },
      {
        ...base,
        magic: 'RATELIMIT',
        title:
          'a 429 (RATELIMIT-) to 429 RATE_LIMITED with Retry-After, retried with backoff first (CONTRACT section 5)',
        code: 'RATE_LIMITED',
        provider: { httpStatus: 429, code: 'NO_CODE', message: 'Too Many Requests' },
        retryAfter: /^\d+$/,
        providerCalls: 'retried',
      },
    ];
    itMapsMagicFailures(cg, { accountId, statusCalls: writesFor }, rows);

    it('should log in again once on a 403 lender mismatch (FORBIDDEN-), then answer 502 PROVIDER_AUTH_FAILED', async () => {
      const account = accountId('FORBIDDEN');
      const since = await callsFrom(cg.sandbox);
      const res = await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-e' });
      expectFailure(res, 'PROVIDER_AUTH_FAILED', {
        id: 'cleargrid',
        httpStatus: 403,
        code: 'NO_CODE',
        message: 'Forbidden',
      });
      const calls = await since();
      expect(calls.map(kindOf)).toEqual(['update-status', 'login', 'update-status']);
      expect(bearer(calls[2])).not.toBe(bearer(calls[0]));
    });

    it('should record a failed change in the history with the provider answer, and not in GET status', async () => {
      const account = accountId('NOTFOUND');
      const res = await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-e', note: 'why not' });
      expectProblem(res, 404, 'ACCOUNT_NOT_FOUND');
      expectHistory(await cg.api.history(account), 1, {
        status: 'DISPUTED',
        note: 'why not',
        outcome: 'FAILED',
        errorCode: 'ACCOUNT_NOT_FOUND',
        providerHttpStatus: 400,
        providerRequest: {
          method: 'POST',
          url: `${cg.sandbox}${UPDATE_STATUS_PATH}`,
          body: { accounts: [{ status: 5, debtorCompanyId: 'debtor-e', accountId: account }] },
        },
      });
      const read = await cg.api.get(account);
      expectProblem(read, 404, 'ACCOUNT_NOT_FOUND');
    });
  });

  describe('dry run', () => {
    it('should answer the exact update-status request with an absolute URL and send no status call', async () => {
      const account = accountId();
      const since = await callsFrom(cg.sandbox);
      const res = await cg.api.dryRun(account, { status: 'DISPUTED', customerId: 'debtor-d' });
      expectDryRun(res, {
        method: 'POST',
        url: `${cg.sandbox}${UPDATE_STATUS_PATH}`,
        body: { accounts: [{ status: 5, debtorCompanyId: 'debtor-d', accountId: account }] },
      });
      const text = JSON.stringify(res.body);
      for (const secret of [SETTINGS.email, SETTINGS.password, 'Bearer', 'token', 'eyJ']) {
        expect(text).not.toContain(secret);
      }
      // At most a token call (to learn the lenderPublicId); never a write.
      expect((await since()).filter((c) => kindOf(c) !== 'login' && kindOf(c) !== 'refresh')).toEqual([]);
      // Dry runs are not audited.
      const history = await cg.api.history(account);
      expect(history.body.items).toEqual([]);
    });

    it('should answer the withdraw request for CLOSED and the 6 for DO_NOT_CONTACT', async () => {
      const account = accountId();
      const since = await callsFrom(cg.sandbox);
      const closed = await cg.api.dryRun(account, { status: 'CLOSED', customerId: 'debtor-d' });
      expect(closed.body.providerRequest).toEqual({
        method: 'POST',
        url: `${cg.sandbox}${ACCOUNTS_PATH}`,
        body: { accounts: [{ status: 3, accountId: account, debtorCompanyId: 'debtor-d' }] },
      });
      const dnc = await cg.api.dryRun(account, { status: 'DO_NOT_CONTACT', customerId: 'debtor-d' });
      expect(dnc.body.providerRequest.body).toEqual({
        accounts: [{ status: 6, debtorCompanyId: 'debtor-d', accountId: account }],
      });
      expect((await since()).filter(isWrite)).toEqual([]);
      expect((await call('GET', `${cg.sandbox}/__sandbox/accounts/${account}`)).status).toBe(404);
    });
  });

  describe('GET status (liveRead false: the gateway record)', () => {
    it('should answer 404 ACCOUNT_NOT_FOUND before any change, without calling ClearGrid', async () => {
      const account = accountId();
      const since = await callsFrom(cg.sandbox);
      const res = await cg.api.get(account);
      const problem = expectProblem(res, 404, 'ACCOUNT_NOT_FOUND');
      expect(problem.provider).toBeUndefined();
      expect(await since()).toEqual([]);
    });

    it('should answer the last accepted change (source gateway) and ignore later failed changes', async () => {
      const account = accountId();
      const changed = await cg.api.put(account, {
        status: 'DISPUTED',
        reason: 'FRAUD',
        customerId: 'debtor-g',
      });
      expect(changed.status).toBe(202);
      const since = await callsFrom(cg.sandbox);
      const read = await cg.api.get(account);
      expectRead(read, 'cleargrid', account, {
        status: 'DISPUTED',
        reason: 'FRAUD',
        providerStatus: 5,
        source: 'gateway',
        asOf: changed.body.completedAt,
      });
      expect(await since()).toEqual([]);

      // A refused (unsupported) change and a provider-refused change do not become the last known status.
      expectProblem(
        await cg.api.put(account, { status: 'ACTIVE', customerId: 'debtor-g' }),
        422,
        'STATUS_NOT_SUPPORTED',
      );
      await withSandboxControl(cg.sandbox, 'refuse-tokens', [{ on: true }, { on: false }], async () => {
        const refused = await cg.api.put(account, { status: 'DO_NOT_CONTACT', customerId: 'debtor-g' });
        expectProblem(refused, 502, 'PROVIDER_AUTH_FAILED');
      });
      const after = await cg.api.get(account);
      expect(after.body).toMatchObject({ status: 'DISPUTED', providerStatus: 5, source: 'gateway' });

      const history = await cg.api.history(account);
      expect(history.body.items.map((i: any) => [i.status, i.outcome, i.errorCode])).toEqual([
        ['DO_NOT_CONTACT', 'FAILED', 'PROVIDER_AUTH_FAILED'],
        ['ACTIVE', 'FAILED', 'STATUS_NOT_SUPPORTED'],
        ['DISPUTED', 'ACCEPTED', null],
      ]);
      expect(history.body.items[2]).toMatchObject({
        providerHttpStatus: 200,
        changeId: changed.body.changeId,
      });
    });

    it('should keep CLOSED as the last status when a later change fails on the withdrawn account', async () => {
      const account = accountId();
      const closed = await cg.api.put(account, { status: 'CLOSED', customerId: 'debtor-w' });
      expect(closed.status).toBe(202);
      await sandboxAccount(cg.sandbox, account, (v) => v.withdrawn);
      expectProblem(
        await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-w' }),
        409,
        'ACCOUNT_CLOSED',
      );
      const read = await cg.api.get(account);
      expect(read.body).toMatchObject({
        status: 'CLOSED',
        providerStatus: 3,
        source: 'gateway',
        reason: null,
      });
    });

    it('should answer the newest of two accepted changes', async () => {
      const account = accountId();
      expect((await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-n' })).status).toBe(202);
      const second = await cg.api.put(account, { status: 'DO_NOT_CONTACT', customerId: 'debtor-n' });
      expect(second.status).toBe(202);
      const read = await cg.api.get(account);
      expect(read.body).toMatchObject({
        status: 'DO_NOT_CONTACT',
        providerStatus: 6,
        asOf: second.body.completedAt,
      });
    });
  });
});

describe('ClearGrid caller scopes', () => {
  const cg = useProviderGateway('cleargrid', {
    env: {
      API_KEYS: JSON.stringify([
        { id: 'writer', key: 'cg-writer-key-0123456789', scopes: ['status:read', 'status:write'] },
        {
          id: 'closer',
          key: 'cg-closer-key-0123456789',
          scopes: ['status:read', 'status:write', 'status:close'],
        },
      ]),
    },
  });

  it('should need status:close for CLOSED (a withdrawal) and refuse it before any ClearGrid call', async () => {
    const account = accountId();
    const since = await callsFrom(cg.sandbox);
    const body = { status: 'CLOSED', customerId: 'debtor-s' };
    expectProblem(
      await cg.api.put(account, body, { headers: { 'x-api-key': 'cg-writer-key-0123456789' } }),
      403,
      'FORBIDDEN',
    );
    expect(await since()).toEqual([]);
    const dispute = await cg.api.put(
      account,
      { status: 'DISPUTED', customerId: 'debtor-s' },
      { headers: { 'x-api-key': 'cg-writer-key-0123456789' } },
    );
    expect(dispute.status).toBe(202);
    const closed = await cg.api.put(account, body, {
      headers: { authorization: 'Bearer cg-closer-key-0123456789' },
    });
    expect(closed.status).toBe(202);
    expect(writesFor(await since(), account).map(kindOf)).toEqual(['update-status', 'accounts']);
  });
});

describe('ClearGrid auth flows through the gateway', () => {
  /** A status call refused for its token (401), the refresh, and the call again. */
  const REFRESHED: CallKind[] = ['update-status', 'refresh', 'update-status'];
  // Each flow gets its own gateway (its own token cache) on its own sandbox.
  describe('login once, then reuse', () => {
    const cg = useProviderGateway('cleargrid');

    it('should log in once and reuse the token for every later change', async () => {
      const since = await callsFrom(cg.sandbox);
      for (const status of ['DISPUTED', 'DO_NOT_CONTACT', 'DISPUTED', 'CLOSED']) {
        expect((await cg.api.put(accountId(), { status, customerId: 'debtor-a' })).status).toBe(202);
      }
      const calls = await since();
      expect(calls.map(kindOf)).toEqual([
        'login',
        'update-status',
        'update-status',
        'update-status',
        'accounts',
      ]);
      expect(calls[0].url).toBe(LOGIN_PATH);
      expect(calls[0].body).toEqual({ email: SETTINGS.email, password: SETTINGS.password });
      const tokens = new Set(calls.filter(isWrite).map(bearer));
      expect(tokens.size).toBe(1);
      expect([...tokens][0]).toEqual(expect.any(String));
      // Credentials never reach the logs.
      expect(cg.gw.rawLogs()).not.toContain(SETTINGS.password);
      expect(cg.gw.rawLogs()).not.toContain([...tokens][0]);
    });
  });

  describe('401 → refresh → retry', () => {
    const cg = useProviderGateway('cleargrid');

    it('should refresh the token with the refresh token after a 401 and retry once (revoked tokens)', async () => {
      await expectDisputed(cg, 'debtor-b');
      await control(cg.sandbox, 'revoke-tokens');
      const account = accountId();
      const calls = await acceptedCalls(cg, account, { status: 'DISPUTED', customerId: 'debtor-b' }, 5);
      expect(calls.map(kindOf)).toEqual(REFRESHED);
      expect(claims((calls[1].body as any).refreshToken)).toMatchObject({
        typ: 'refresh',
        lenderPublicId: LENDER_PUBLIC_ID,
      });
      expect(calls[1].headers.authorization).toBeUndefined();
      expect(bearer(calls[2])).not.toBe(bearer(calls[0]));
      expect(calls[2].body).toEqual(calls[0].body);
    });

    it('should refresh and retry when the token expires in flight (AUTHEXPIRED-)', async () => {
      const account = accountId('AUTHEXPIRED');
      const calls = await acceptedCalls(cg, account, { status: 'DO_NOT_CONTACT', customerId: 'debtor-b' }, 6);
      expect(calls.map(kindOf)).toEqual(REFRESHED);
      // The refreshed token is then reused.
      const next = await callsFrom(cg.sandbox);
      await expectDisputed(cg, 'debtor-b');
      const later = await next();
      expect(later.map(kindOf)).toEqual(['update-status']);
      expect(bearer(later[0])).toBe(bearer(calls[2]));
    });

    it('should refresh ahead of expiry, without a 401, when the token is about to expire', async () => {
      // A token living 1 s is inside the gateway's expiry margin at once: each change needs a new one.
      // The 1 s lifetime is set back even when an expectation fails, so no later test inherits it.
      await withSandboxControl(cg.sandbox, 'token-lifetime', [{ seconds: 1 }, { seconds: 900 }], async () => {
        await control(cg.sandbox, 'revoke-tokens');
        const since = await callsFrom(cg.sandbox);
        await expectDisputed(cg, 'debtor-b');
        await expectDisputed(cg, 'debtor-b');
        const calls = await since();
        // First: the revoked token is refused, refreshed; then the 1 s token is refreshed before use.
        expect(calls.map(kindOf)).toEqual([...REFRESHED, 'refresh', 'update-status']);
        expect(calls.filter((c) => kindOf(c) === 'login')).toEqual([]);
      });
    });

    it('should answer 502 PROVIDER_AUTH_FAILED when the new token is refused too, after one retry', async () => {
      // A usable token in the cache first, so only the refusal is counted.
      await expectDisputed(cg, 'debtor-b');
      await withSandboxControl(cg.sandbox, 'refuse-tokens', [{ on: true }, { on: false }], async () => {
        const since = await callsFrom(cg.sandbox);
        const res = await cg.api.put(accountId(), { status: 'DISPUTED', customerId: 'debtor-b' });
        expectFailure(res, 'PROVIDER_AUTH_FAILED', UNAUTHORIZED);
        const calls = await since();
        expect(calls.filter(isWrite)).toHaveLength(2);
        expect(calls.filter((c) => !isWrite(c))).toHaveLength(1);
      });
    });
  });

  describe('refresh refused → re-login', () => {
    const cg = useProviderGateway('cleargrid');

    it('should log in again when ClearGrid refuses the refresh token, then retry', async () => {
      await expectDisputed(cg, 'debtor-c');
      await control(cg.sandbox, 'revoke-tokens');
      await control(cg.sandbox, 'revoke-refresh-tokens');
      const account = accountId();
      const calls = await acceptedCalls(cg, account, { status: 'DISPUTED', customerId: 'debtor-c' }, 5);
      expect(calls.map(kindOf)).toEqual(['update-status', 'refresh', 'login', 'update-status']);
      expect(calls[2].body).toEqual({ email: SETTINGS.email, password: SETTINGS.password });
      // The new login's refresh token is used next time.
      await control(cg.sandbox, 'revoke-tokens');
      const next = await callsFrom(cg.sandbox);
      await expectDisputed(cg, 'debtor-c');
      expect((await next()).map(kindOf)).toEqual(REFRESHED);
    });

    it('should log in directly (no refresh call) once the refresh token has expired', async () => {
      const [short, usual] = [
        { seconds: 1, refreshSeconds: 1 },
        { seconds: 900, refreshSeconds: 604800 },
      ];
      await withSandboxControl(cg.sandbox, 'token-lifetime', [short, usual], async () => {
        await control(cg.sandbox, 'revoke-tokens');
        await control(cg.sandbox, 'revoke-refresh-tokens');
        // This change ends with a login issuing 1 s tokens.
        await expectDisputed(cg, 'debtor-c');
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const since = await callsFrom(cg.sandbox);
        await expectDisputed(cg, 'debtor-c');
        expect((await since()).map(kindOf)).toEqual(['login', 'update-status']);
      });
    });
  });

  describe('concurrency', () => {
    const cg = useProviderGateway('cleargrid');

    it('should make 8 parallel first changes share 1 login', async () => {
      const since = await callsFrom(cg.sandbox);
      const accounts = Array.from({ length: 8 }, () => accountId());
      const answers = await Promise.all(
        accounts.map((a) => cg.api.put(a, { status: 'DISPUTED', customerId: 'debtor-p' })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
      const calls = await since();
      expect(calls.filter((c) => kindOf(c) === 'login')).toHaveLength(1);
      expect(calls.filter((c) => kindOf(c) === 'refresh')).toHaveLength(0);
      expect(calls.filter(isWrite)).toHaveLength(8);
      expect(new Set(calls.filter(isWrite).map(bearer)).size).toBe(1);
      for (const a of accounts) expect(writesFor(calls, a)).toHaveLength(1);
    });

    it('should make 8 parallel changes refused with 401 share 1 refresh', async () => {
      await control(cg.sandbox, 'revoke-tokens');
      const since = await callsFrom(cg.sandbox);
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          cg.api.put(accountId(), { status: 'DO_NOT_CONTACT', customerId: 'debtor-p' }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
      const calls = await since();
      expect(calls.filter((c) => kindOf(c) === 'refresh')).toHaveLength(1);
      expect(calls.filter((c) => kindOf(c) === 'login')).toHaveLength(0);
      expect(calls.filter(isWrite)).toHaveLength(16);
    });
  });
});

describe('ClearGrid live mode (a standalone sandbox at CLEARGRID_BASE_URL)', () => {
  const login = { CLEARGRID_LENDER: SETTINGS.lender, CLEARGRID_EMAIL: SETTINGS.email };
  const cg = useProviderGateway('cleargrid', { live: { ...login, CLEARGRID_PASSWORD: SETTINGS.password } });
  const wrong = useProviderGateway('cleargrid', {
    live: { ...login, CLEARGRID_PASSWORD: 'not-the-password' },
  });

  it('should report ClearGrid as live (the others on their sandboxes) and use the given URL', async () => {
    await expectLiveMode(cg);
  });

  it('should log in with the configured lender and credentials and send the contract requests', async () => {
    const since = await callsFrom(cg.sandbox);
    const disputed = accountId();
    const closed = accountId();
    const requestId = `cg-live-${counter}`;
    const a = await cg.api.put(
      disputed,
      { status: 'DISPUTED', customerId: 'live-debtor' },
      { headers: { 'x-request-id': requestId } },
    );
    expectAccepted(a, disputed, 'DISPUTED', 5);
    const b = await cg.api.put(closed, { status: 'CLOSED', customerId: 'live-debtor' });
    expectAccepted(b, closed, 'CLOSED', 3);
    const calls = await since();
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', LOGIN_PATH],
      ['POST', UPDATE_STATUS_PATH],
      ['POST', ACCOUNTS_PATH],
    ]);
    expect(calls[0].body).toEqual({ email: SETTINGS.email, password: SETTINGS.password });
    expect(calls[1].body).toEqual({
      accounts: [{ status: 5, debtorCompanyId: 'live-debtor', accountId: disputed }],
    });
    expect(calls[1].headers['x-request-id']).toBe(requestId);
    expect(calls[2].body).toEqual({
      accounts: [{ status: 3, accountId: closed, debtorCompanyId: 'live-debtor' }],
    });
    expect(bearer(calls[1])).toBe(bearer(calls[2]));
    expect(claims(bearer(calls[1]))).toMatchObject({ typ: 'access', lenderPublicId: LENDER_PUBLIC_ID });
    expect(await sandboxAccount(cg.sandbox, disputed, (v) => v.status === 5)).toMatchObject({
      disputed: true,
    });

    const dry = await cg.api.dryRun(disputed, { status: 'DISPUTED', customerId: 'live-debtor' });
    expect(dry.body.providerRequest.url).toBe(`${cg.sandbox}${UPDATE_STATUS_PATH}`);
  });

  it('should answer 502 PROVIDER_AUTH_FAILED for wrong credentials, with no status call', async () => {
    const since = await callsFrom(wrong.sandbox);
    const account = accountId();
    const res = await wrong.api.put(account, { status: 'DISPUTED', customerId: 'live-debtor' });
    const problem = expectFailure(res, 'PROVIDER_AUTH_FAILED', UNAUTHORIZED);
    const calls = await since();
    expect(calls.map(kindOf)).toEqual(['login']);
    expect(calls[0].body).toEqual({ email: SETTINGS.email, password: 'not-the-password' });
    expect(JSON.stringify(problem)).not.toContain('not-the-password');
    expect(wrong.gw.rawLogs()).not.toContain('not-the-password');
    // A dry run needs the login too (the lenderPublicId is in the URL): same refusal.
    const dry = await wrong.api.dryRun(account, { status: 'DISPUTED', customerId: 'live-debtor' });
    expectProblem(dry, 502, 'PROVIDER_AUTH_FAILED');
  });
});

describe('ClearGrid live mode: login failures and an unreachable host', () => {
  const credentials = { CLEARGRID_EMAIL: SETTINGS.email, CLEARGRID_PASSWORD: SETTINGS.password };
  // The sandbox answers a login for a lender named ERROR500-… with its documented 500.
  const failingLogin = useProviderGateway('cleargrid', {
    live: { ...credentials, CLEARGRID_LENDER: 'ERROR500-lender' },
  });
  const unreachable = useProviderGateway('cleargrid', {
    env: async () => {
      const gone = await startSandbox('cleargrid');
      await gone.close();
      return {
        ...credentials,
        CLEARGRID_BASE_URL: gone.url,
        CLEARGRID_LENDER: SETTINGS.lender,
        AUTH_DISABLED: 'true',
      };
    },
  });

  it('should answer 502 PROVIDER_ERROR when the login answers 500, and audit it without a provider request', async () => {
    const account = accountId();
    const since = await callsFrom(failingLogin.sandbox);
    const res = await failingLogin.api.put(account, { status: 'DISPUTED', customerId: 'live-debtor' });
    expectFailure(res, 'PROVIDER_ERROR', { id: 'cleargrid', ...SERVER_ERROR });
    const calls = await since();
    expect(calls.filter(isWrite)).toEqual([]);
    expect(calls.map((c) => c.url)).toContain('/admin/auth/ERROR500-lender/login');
    const history = await failingLogin.api.history(account);
    expect(history.body.items).toEqual([
      expect.objectContaining({ outcome: 'FAILED', errorCode: 'PROVIDER_ERROR', providerRequest: null }),
    ]);
  });

  it('should answer 503 PROVIDER_UNAVAILABLE when nothing listens at CLEARGRID_BASE_URL', async () => {
    const res = await unreachable.api.put(accountId(), { status: 'DISPUTED', customerId: 'live-debtor' });
    expectFailure(res, 'PROVIDER_UNAVAILABLE', null);
  });
});

describe('ClearGrid timeouts', () => {
  // Timeouts, not the breaker, are under test here: keep the circuit closed through repeated timeouts.
  const cg = useProviderGateway('cleargrid', {
    env: { CLEARGRID_TIMEOUT_MS: '300', CIRCUIT_FAILURE_THRESHOLD: '1000' },
  });

  it('should answer 504 PROVIDER_TIMEOUT within about 1 s when ClearGrid does not answer (SLOW-)', async () => {
    // Log in first, so only the status call is timed.
    await expectDisputed(cg, 'debtor-t');
    const account = accountId('SLOW800');
    const since = await callsFrom(cg.sandbox);
    const started = Date.now();
    const res = await cg.api.put(account, { status: 'DISPUTED', customerId: 'debtor-t' });
    const elapsed = Date.now() - started;
    expectFailure(res, 'PROVIDER_TIMEOUT', null);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2_500);
    expect(writesFor(await since(), account).length).toBeGreaterThanOrEqual(1);
    const history = await cg.api.history(account);
    expect(history.body.items[0]).toMatchObject({ outcome: 'FAILED', errorCode: 'PROVIDER_TIMEOUT' });
    expectProblem(await cg.api.get(account), 404, 'ACCOUNT_NOT_FOUND');
  });
});
