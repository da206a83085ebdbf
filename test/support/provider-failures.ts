/**
 * One harness for every provider's "magic account id → documented failure" matrix (CONTRACT.md
 * sections 4 and 5): a provider spec lists its rows, the harness sends the change through the real
 * gateway to the provider's sandbox and checks the problem, the provider's own answer kept under
 * `provider`, Retry-After, the history item and what reached the sandbox.
 */
import type { ProviderId } from '../../src/domain/index.js';
import type { SandboxCall } from '../../src/providers/sandbox/sandbox-kit.js';
import { call, expectProblem, sandboxCalls, type JsonResponse, type TestGateway } from './gateway.js';

/** One row: a magic id prefix, the change sent, and what the caller must see. */
export interface MagicFailure {
  /** Row title, e.g. `NOTFOUND- → 404 ACCOUNT_NOT_FOUND`; defaults to magic, HTTP status and code. */
  title?: string;
  /** The magic account id prefix (as the sandbox documents it), e.g. `NOTFOUND`. */
  magic: string;
  /** The canonical change body sent to PUT …/status. */
  change: Record<string, unknown>;
  http: number;
  code: string;
  retryable: boolean;
  /** The provider's own answer kept in the problem; a function when it names the account. */
  provider:
    | { httpStatus: number; code: string; message: unknown }
    | ((accountId: string) => { httpStatus: number; code: string; message: unknown });
  /** Retry-After expected on the answer: exact text, a pattern, or null for none; unchecked when absent. */
  retryAfter?: string | RegExp | null;
  /** Status calls the provider received for the account: exact count, 'retried' (> 1), or ≥ 1 when absent. */
  providerCalls?: number | 'retried';
  /** Also read GET …/status for the account and expect the same failure (providers with a live read). */
  read?: boolean;
  /** Check the newest history item: FAILED with this code and the provider's HTTP status. */
  history?: boolean;
  /** Provider-specific checks on top (e.g. the token bound to the account, the exact body sent). */
  also?: (context: FailureContext) => Promise<void> | void;
}

export interface FailureContext {
  accountId: string;
  response: JsonResponse;
  problem: any;
  calls: SandboxCall[];
}

/** What a provider spec gives the harness. */
export interface FailureHarness {
  provider: ProviderId;
  gateway: () => TestGateway;
  /** A fresh account id starting with the magic prefix (sandbox state persists between tests). */
  accountId: (magic: string) => string;
  /** Of the sandbox's calls, those that are this account's status calls (writes and reads). */
  statusCalls: (calls: SandboxCall[], accountId: string) => SandboxCall[];
}

/** Registers one `it.each` over the rows. */
export function itMapsMagicFailures(harness: FailureHarness, rows: MagicFailure[], timeoutMs?: number): void {
  const titled = rows.map((row) => ({
    ...row,
    title: row.title ?? `${row.magic}- → ${row.http} ${row.code}`,
  }));
  it.each(titled)(
    'should map $title, keeping the provider answer',
    async (row) => {
      const gw = harness.gateway();
      const accountId = harness.accountId(row.magic);
      const sandbox = gw.providerUrl(harness.provider);
      const before = (await sandboxCalls(sandbox)).length;
      const path = `/v1/accounts/${harness.provider}/${encodeURIComponent(accountId)}/status`;
      const response = await call('PUT', `${gw.url}${path}`, { body: row.change });
      const problem = expectProblem(response, row.http, row.code);
      const provider = typeof row.provider === 'function' ? row.provider(accountId) : row.provider;
      expect(problem).toMatchObject({ retryable: row.retryable, instance: path });
      expect(problem.provider).toEqual({ id: harness.provider, ...provider });
      expectRetryAfter(response, row.retryAfter);
      if (row.read) {
        const readResponse = await call('GET', `${gw.url}${path}`);
        const read = expectProblem(readResponse, row.http, row.code);
        expect(read.retryable).toBe(row.retryable);
        expect(read.provider).toEqual({ id: harness.provider, ...provider });
        expectRetryAfter(readResponse, row.retryAfter);
      }
      if (row.history) {
        const history = await call(
          'GET',
          `${gw.url}/v1/accounts/${harness.provider}/${encodeURIComponent(accountId)}/history`,
        );
        expect(history.body.items[0]).toMatchObject({
          outcome: 'FAILED',
          errorCode: row.code,
          providerHttpStatus: provider.httpStatus,
        });
      }
      const calls = harness.statusCalls((await sandboxCalls(sandbox)).slice(before), accountId);
      if (row.providerCalls === 'retried') expect(calls.length).toBeGreaterThan(1);
      else if (row.providerCalls !== undefined) expect(calls).toHaveLength(row.providerCalls);
      else expect(calls.length).toBeGreaterThanOrEqual(1);
      await row.also?.({ accountId, response, problem, calls });
    },
    timeoutMs,
  );
}

function expectRetryAfter(response: JsonResponse, expected: MagicFailure['retryAfter']): void {
  if (expected === undefined) return;
  const header = response.headers.get('retry-after');
  if (expected === null) expect(header).toBeNull();
  else if (typeof expected === 'string') expect(header).toBe(expected);
  else expect(header).toMatch(expected);
}
