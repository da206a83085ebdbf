import http from 'node:http';
import {
  expectKeptAnswer,
  failureOf as failure,
  useAdapterSandbox,
} from '../sandbox/sandbox.spec-harness.js';
import { SpidrAdapter } from './spidr.adapter.js';
import { spidrProvider } from './index.js';
import { SPIDR_SANDBOX_SETTINGS } from './spidr.sandbox.js';
import { SPIDR_API_KEY_HEADER } from './spidr.wire.js';

const API_KEY = SPIDR_SANDBOX_SETTINGS.apiKey;
// The header's name is a guess kept in one constant; the test follows it so changing the guess is one edit.
const AUTH_HEADER = SPIDR_API_KEY_HEADER.name;
const AUTH_VALUE = SPIDR_API_KEY_HEADER.value(API_KEY);

const { sandbox, ctx, adapterFor, calls, change, prepare, itAnswersTransportFailures } = useAdapterSandbox(
  spidrProvider,
  'req-spidr-1',
  ({ apiKey }: { apiKey?: string }, endpoint) => new SpidrAdapter(endpoint({ apiKey: apiKey ?? API_KEY })),
);

describe(SpidrAdapter.name, () => {
  describe('applyChange', () => {
    // CONTRACT.md section 5, Spidr column: every supported row, written out.
    it.each([
      ['ACTIVE', undefined, 'active'],
      ['SUSPENDED', undefined, 'suspended'],
      ['SUSPENDED', 'FRAUD', 'suspended'],
      ['DELINQUENT', undefined, 'delinquent'],
      ['CLOSED', undefined, 'close_with_refund'],
      ['CLOSED', 'CUSTOMER_REQUEST', 'close_with_refund'],
      ['CLOSED', 'FRAUD', 'close_without_refund'],
      ['CLOSED', 'COMPLIANCE', 'close_without_refund'],
      ['CLOSED', 'CHARGED_OFF', 'close_charged_off'],
      ['CLOSED', 'PAID_OFF', 'close_paid_off'],
    ] as const)('should send %s (reason %s) as PATCH status %s', async (status, reason, expected) => {
      const result = await change('acc-1', status, reason);

      expect(result).toEqual({ outcome: 'APPLIED', providerStatus: expected, providerHttpStatus: 200 });
      const [call, ...rest] = await calls();
      expect(rest).toEqual([]);
      expect(call.method).toBe('PATCH');
      expect(call.url).toBe('/v1/account/acc-1');
      expect(call.body).toEqual({ status: expected });
      expect(call.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
      expect(call.headers['x-request-id']).toBe(ctx.requestId);
    });

    it('should pass ztmSessionKey and bypassZtm through to Spidr', async () => {
      await change('ZTM-a', 'SUSPENDED', undefined, { ztmSessionKey: 'ztm_sess_1' });
      await change('ZTM-b', 'DELINQUENT', undefined, { bypassZtm: true });

      const [first, second] = await calls();
      expect(first.body).toEqual({ status: 'suspended', ztmSessionKey: 'ztm_sess_1' });
      expect(second.body).toEqual({ status: 'delinquent', bypassZtm: true });
    });

    it('should answer PROVIDER_REJECTED with ZTM_ERROR kept when a ZTM account gets no session', async () => {
      const error = await failure(change('ZTM-c', 'SUSPENDED', undefined, { bypassZtm: false }));

      expect(error.code).toBe('PROVIDER_REJECTED');
      expectKeptAnswer(error, ['spidr', 400, 'ZTM_SESSION_REQUIRED', 'A ZTM session key is required']);
    });

    it('should percent-encode the account id in the path', async () => {
      await change('acc/1 x?', 'SUSPENDED');

      expect((await calls())[0].url).toBe('/v1/account/acc%2F1%20x%3F');
      expect((await adapterFor().readStatus('acc/1 x?', ctx)).status).toBe('SUSPENDED');
    });

    it('should refuse an unsupported status before any call', async () => {
      for (const status of ['DISPUTED', 'DO_NOT_CONTACT'] as const) {
        const error = await failure(prepare({ accountId: 'acc-1', status }));
        expect(error.code).toBe('STATUS_NOT_SUPPORTED');
        expect(error.detail).toContain(status);
      }
      expect(await calls()).toEqual([]);
    });

    it('should build an absolute providerRequest without the API key and send nothing', async () => {
      const prepared = await prepare(
        { accountId: 'acc-1', status: 'CLOSED', reason: 'FRAUD' },
        adapterFor({ url: `${sandbox.baseUrl}/` }),
      );

      expect(prepared.providerRequest).toEqual({
        method: 'PATCH',
        url: `${sandbox.baseUrl}/v1/account/acc-1`,
        body: { status: 'close_without_refund' },
      });
      expect(prepared.providerStatus).toBe('close_without_refund');
      expect(JSON.stringify(prepared)).not.toContain(API_KEY);
      expect(await calls()).toEqual([]);
    });
  });

  describe('errors', () => {
    it('should map a closed account to ACCOUNT_CLOSED keeping Spidr code and message', async () => {
      const error = await failure(change('CLOSED-1', 'ACTIVE'));

      expect(error.code).toBe('ACCOUNT_CLOSED');
      expectKeptAnswer(error, [
        'spidr',
        400,
        'ACCOUNT_CLOSED',
        'Account CLOSED-1 is closed (close_with_refund); a closed account cannot be changed',
      ]);
    });

    it('should refuse any change after the gateway closed the account', async () => {
      await change('acc-2', 'CLOSED', 'CHARGED_OFF');

      const error = await failure(change('acc-2', 'ACTIVE'));
      expect(error.code).toBe('ACCOUNT_CLOSED');
      expect(error.provider?.code).toBe('ACCOUNT_CLOSED');
    });

    it.each([
      ['NOTFOUND-1', 'ACCOUNT_NOT_FOUND', 404, 'NOT_FOUND', 'Account NOTFOUND-1 not found'],
      ['ERROR500-1', 'PROVIDER_ERROR', 500, 'LOOKUP_FAILED', 'Could not look up the account'],
      ['RATELIMIT-1', 'RATE_LIMITED', 429, 'TOO_MANY_REQUESTS', 'Too many requests'],
      ['REJECT-1', 'PROVIDER_REJECTED', 400, 'REQUEST_REJECTED', 'The request was rejected'],
    ] as const)(
      'should map %s to %s keeping Spidr code and message',
      async (id, code, httpStatus, providerCode, message) => {
        const error = await failure(change(id, 'SUSPENDED'));

        expect(error.code).toBe(code);
        expectKeptAnswer(error, ['spidr', httpStatus, providerCode, message]);
        expect(error.message).toContain('spidr change status failed');
        expect(await calls()).toHaveLength(1);
      },
    );

    it('should carry Retry-After from a 429', async () => {
      expect((await failure(change('RATELIMIT-2', 'ACTIVE'))).retryAfter).toBe(2);
    });

    it('should answer PROVIDER_AUTH_FAILED after exactly one call when the key is refused', async () => {
      const error = await failure(
        change('acc-1', 'SUSPENDED', undefined, undefined, adapterFor({ apiKey: 'sk_wrong' })),
      );

      expect(error.code).toBe('PROVIDER_AUTH_FAILED');
      expectKeptAnswer(error, ['spidr', 401, 'UNAUTHORIZED', 'Invalid or missing API key']);
      expect(error.message).not.toContain('sk_wrong');
      expect(await calls()).toHaveLength(1);
    });

    it('should not retry when Spidr keeps answering 401 (AUTHEXPIRED)', async () => {
      const error = await failure(change('AUTHEXPIRED-1', 'SUSPENDED'));

      expect(error.code).toBe('PROVIDER_AUTH_FAILED');
      expect(error.provider?.code).toBe('UNAUTHORIZED');
      expect(await calls()).toHaveLength(1);
    });

    itAnswersTransportFailures('Spidr', { status: 'SUSPENDED', slowAccountId: 'SLOW300-1', timeoutMs: 50 });

    it('should answer PROVIDER_ERROR when a 200 is not the account JSON', async () => {
      const garbage = http.createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>ok</html>'),
      );
      await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(garbage.address() as { port: number }).port}`;
      try {
        const adapter = adapterFor({ url });
        expect((await failure(change('acc-1', 'SUSPENDED', undefined, undefined, adapter))).code).toBe(
          'PROVIDER_ERROR',
        );
        expect((await failure(adapter.readStatus('acc-1', ctx))).code).toBe('PROVIDER_ERROR');
      } finally {
        await new Promise((resolve) => garbage.close(resolve));
      }
    });
  });

  describe('readStatus', () => {
    it('should read a fresh account as ACTIVE with the key and request id sent', async () => {
      const reading = await adapterFor().readStatus('acc-1', ctx);

      expect(reading).toEqual({
        status: 'ACTIVE',
        reason: null,
        providerStatus: { status: 'active', statusReason: null },
      });
      const [call] = await calls();
      expect(call.method).toBe('GET');
      expect(call.url).toBe('/v1/account/acc-1');
      expect(call.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
      expect(call.headers['x-request-id']).toBe(ctx.requestId);
    });

    it.each([
      ['DELINQUENT', undefined, 'DELINQUENT', null, { status: 'delinquent', statusReason: null }],
      [
        'CLOSED',
        'CHARGED_OFF',
        'CLOSED',
        'CHARGED_OFF',
        { status: 'closed', statusReason: 'close_charged_off' },
      ],
      ['CLOSED', 'PAID_OFF', 'CLOSED', 'PAID_OFF', { status: 'closed', statusReason: 'close_paid_off' }],
      ['CLOSED', 'FRAUD', 'CLOSED', null, { status: 'closed', statusReason: 'close_without_refund' }],
    ] as const)(
      'should see a write of %s (reason %s) in a later read as %s / %s',
      async (status, reason, expected, expectedReason, providerStatus) => {
        await change('acc-3', status, reason);

        expect(await adapterFor().readStatus('acc-3', ctx)).toEqual({
          status: expected,
          reason: expectedReason,
          providerStatus,
        });
      },
    );

    it('should read a CLOSED- account as CLOSED with no reason', async () => {
      expect(await adapterFor().readStatus('CLOSED-9', ctx)).toEqual({
        status: 'CLOSED',
        reason: null,
        providerStatus: { status: 'closed', statusReason: 'close_with_refund' },
      });
    });

    it('should never copy the personal data Spidr returns', async () => {
      const raw = (await (
        await fetch(`${sandbox.baseUrl}/v1/account/acc-4`, { headers: { [AUTH_HEADER]: AUTH_VALUE } })
      ).json()) as { email: string; phone: string };
      expect(raw.email).toMatch(/@example\.com$/);

      const serialised = JSON.stringify([
        await adapterFor().readStatus('acc-4', ctx),
        await change('acc-4', 'SUSPENDED'),
      ]);
      expect(serialised).not.toContain(raw.email);
      expect(serialised).not.toContain(raw.phone);
    });

    it.each([
      ['NOTFOUND-2', 'ACCOUNT_NOT_FOUND', 'NOT_FOUND'],
      ['ERROR500-2', 'PROVIDER_ERROR', 'LOOKUP_FAILED'],
      ['AUTHEXPIRED-2', 'PROVIDER_AUTH_FAILED', 'UNAUTHORIZED'],
    ] as const)('should map a read of %s to %s', async (id, code, providerCode) => {
      const error = await failure(adapterFor().readStatus(id, ctx));

      expect(error.code).toBe(code);
      expect(error.provider?.code).toBe(providerCode);
      expect(error.message).toContain('spidr read status failed');
      expect(await calls()).toHaveLength(1);
    });
  });

  it('should send the API key on every call', async () => {
    const adapter = adapterFor();
    await change('acc-5', 'SUSPENDED', undefined, undefined, adapter);
    await adapter.readStatus('acc-5', ctx);
    await change('acc-5', 'CLOSED', 'PAID_OFF', undefined, adapter);
    await adapter.readStatus('acc-5', ctx);

    const log = await calls();
    expect(log.map((c) => `${c.method} ${c.url}`)).toEqual([
      'PATCH /v1/account/acc-5',
      'GET /v1/account/acc-5',
      'PATCH /v1/account/acc-5',
      'GET /v1/account/acc-5',
    ]);
    for (const call of log) expect(call.headers[AUTH_HEADER]).toBe(AUTH_VALUE);
  });
});
