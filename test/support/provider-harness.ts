/**
 * The one harness the four provider end-to-end specs share (test/{cleargrid,canopy,pismo,spidr}.e2e-spec.ts):
 * - `useProviderGateway`: a gateway per describe block (built-in sandboxes, or the provider "live" at a
 *   standalone sandbox), started before and closed after its tests;
 * - `statusClient`: PUT/GET status and GET history for one provider's accounts;
 * - `expectLiveMode`, `listedProvider`: the suite's provider as /v1/providers (and /health/ready) report it;
 * - `itMapsMagicFailures`: a provider's "magic account id → documented failure" matrix (sections 4 and 5)
 *   as one `it.each` table: the harness sends the change through the real gateway to the provider's
 *   sandbox and checks the problem, the provider's own answer kept under `provider`, Retry-After, the
 *   history item and what reached the sandbox.
 */
import type { Env } from '../../src/config/config.js';
import { PROVIDER_IDS, type ProviderId } from '../../src/domain/index.js';
import type { SandboxCall } from '../../src/providers/sandbox/sandbox-kit.js';
import {
  expectFailure,
  PROVIDER_FAILURES,
  type ProviderAnswer,
  type ProviderFailureCode,
} from './answers.js';
import {
  call,
  sandboxCalls,
  startSandbox,
  useGateway,
  type JsonResponse,
  type StandaloneSandbox,
  type TestGateway,
} from './gateway.js';

export interface ProviderSuiteOptions {
  /** Gateway settings on top of the test defaults (a function when they need set-up of their own). */
  env?: Env | (() => Promise<Env>);
  /**
   * Live mode: the provider is a standalone sandbox given to the gateway as `<PROVIDER>_BASE_URL`, with
   * these settings (its credentials); callers need no API key (AUTH_DISABLED).
   */
  live?: Env;
  /** Runs after the gateway is up (e.g. warming a token). */
  ready?: (suite: ProviderSuite) => Promise<void>;
  /** Runs before the gateway closes (e.g. waiting out a sandbox's delayed answers). */
  beforeClose?: () => Promise<unknown>;
  /** Applied to every answer `api` receives (e.g. "carries no personal data"). */
  check?: (response: JsonResponse) => void;
}

export interface ProviderSuite {
  readonly provider: ProviderId;
  readonly gw: TestGateway;
  /** The provider's base URL: its built-in sandbox, or the standalone one in live mode. */
  readonly sandbox: string;
  /** Live mode: the standalone sandbox's own URL (what the gateway must have been given). */
  readonly liveUrl: string;
  /** Status calls for this provider on this gateway. */
  readonly api: StatusClient;
  /** The suite's `check` (a no-op without one), for answers fetched outside `api`. */
  readonly check: (response: JsonResponse) => void;
}

/** One gateway for the enclosing describe block: started in `beforeAll`, closed in `afterAll`. */
export function useProviderGateway(provider: ProviderId, options: ProviderSuiteOptions = {}): ProviderSuite {
  let standalone: StandaloneSandbox | undefined;
  const gw = useGateway(
    async () => {
      const env = typeof options.env === 'function' ? await options.env() : options.env;
      if (!options.live) return { ...env };
      standalone = await startSandbox(provider);
      return {
        ...env,
        [`${provider.toUpperCase()}_BASE_URL`]: standalone.url,
        AUTH_DISABLED: 'true',
        ...options.live,
      };
    },
    { beforeClose: options.beforeClose, afterClose: async () => standalone?.close() },
  );
  const check = options.check ?? (() => undefined);
  const suite: ProviderSuite = {
    provider,
    gw,
    get sandbox() {
      return gw.providerUrl(provider);
    },
    get liveUrl() {
      if (!standalone) throw new Error(`the ${provider} suite is not in live mode`);
      return standalone.url;
    },
    api: statusClient(provider, () => gw, check),
    check,
  };
  if (options.ready) beforeAll(() => options.ready!(suite));
  return suite;
}

/**
 * A live-mode suite as the gateway reports it: its provider live (the others on their sandboxes) in
 * /v1/providers and /health/ready, at the standalone sandbox's URL.
 */
export async function expectLiveMode(suite: ProviderSuite): Promise<void> {
  const providers = await call('GET', `${suite.gw.url}/v1/providers`);
  suite.check(providers);
  const modes = Object.fromEntries(providers.body.items.map((p: any) => [p.id, p.mode]));
  const sandboxes = Object.fromEntries(PROVIDER_IDS.map((id) => [id, 'sandbox']));
  expect(modes).toEqual({ ...sandboxes, [suite.provider]: 'live' });
  expect(suite.gw.providerUrl(suite.provider)).toBe(suite.liveUrl);
  const ready = await call('GET', `${suite.gw.url}/health/ready`);
  suite.check(ready);
  expect(ready.body.details[suite.provider].mode).toBe('live');
}

/** The suite's provider as GET /v1/providers lists it; the answer is checked (200, and the suite's `check`). */
export async function listedProvider(suite: ProviderSuite): Promise<any> {
  const response = await call('GET', `${suite.gw.url}/v1/providers`);
  suite.check(response);
  expect(response.status).toBe(200);
  return response.body.items.find((p: any) => p.id === suite.provider);
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Appended to the URL as is, e.g. `?dryRun=true`. */
  query?: string;
}

export interface StatusClient {
  /** `/v1/accounts/<provider>/<id>/status` on the gateway, plus `query`. */
  statusUrl(id: string, query?: string): string;
  put(id: string, body: unknown, options?: RequestOptions): Promise<JsonResponse>;
  /** `put` with `?dryRun=true`: the provider request the change would send, sending nothing. */
  dryRun(id: string, body: unknown, options?: RequestOptions): Promise<JsonResponse>;
  get(id: string, options?: RequestOptions): Promise<JsonResponse>;
  history(id: string, options?: RequestOptions): Promise<JsonResponse>;
}

/** The status API of one provider on a gateway; `check` runs on every answer. */
export function statusClient(
  provider: ProviderId,
  gateway: () => TestGateway,
  check: (response: JsonResponse) => void = () => undefined,
): StatusClient {
  const statusUrl = (id: string, query = '') =>
    `${gateway().url}/v1/accounts/${provider}/${id}/status${query}`;
  const checked = async (pending: Promise<JsonResponse>) => {
    const response = await pending;
    check(response);
    return response;
  };
  return {
    statusUrl,
    put: (id, body, options = {}) =>
      checked(call('PUT', statusUrl(id, options.query), { body, headers: options.headers })),
    dryRun: (id, body, options = {}) =>
      checked(call('PUT', statusUrl(id, '?dryRun=true'), { body, headers: options.headers })),
    get: (id, options = {}) =>
      checked(call('GET', statusUrl(id, options.query), { headers: options.headers })),
    history: (id, options = {}) =>
      checked(
        call('GET', `${gateway().url}/v1/accounts/${provider}/${id}/history${options.query ?? ''}`, {
          headers: options.headers,
        }),
      ),
  };
}

/** Marks a sandbox's call log now; the returned function gives the calls it received since. */
export async function callsFrom(sandboxUrl: string): Promise<() => Promise<SandboxCall[]>> {
  const before = (await sandboxCalls(sandboxUrl)).length;
  return async () => (await sandboxCalls(sandboxUrl)).slice(before);
}

/** Drives a sandbox's control route (`/__sandbox/<route>`: revoke tokens, set token lifetimes, …). */
export async function sandboxControl(sandboxUrl: string, route: string, body: unknown = {}): Promise<void> {
  const response = await call('POST', `${sandboxUrl}/__sandbox/${route}`, { body });
  expect(response.status).toBe(204);
}

/** Runs `test` with a sandbox control route set to `during`, then sets it to `after`, passed or not. */
export async function withSandboxControl(
  sandboxUrl: string,
  route: string,
  [during, after]: [during: unknown, after: unknown],
  test: () => Promise<void>,
): Promise<void> {
  await sandboxControl(sandboxUrl, route, during);
  try {
    await test();
  } finally {
    await sandboxControl(sandboxUrl, route, after);
  }
}

/** One row: a magic id prefix, the change sent, and what the caller must see. */
export interface MagicFailure {
  /** Row title; by default `<magic>- to <HTTP status> <code>`, e.g. `NOTFOUND- to 404 ACCOUNT_NOT_FOUND`. */
  title?: string;
  /** What the default title goes on with, e.g. `keeping Spidr code and message`. */
  detail?: string;
  /** The magic account id prefix (as the sandbox documents it), e.g. `NOTFOUND`. */
  magic: string;
  /** The canonical change body sent to PUT …/status. */
  change: Record<string, unknown>;
  /** The canonical code; its HTTP status and `retryable` are the contract's (PROVIDER_FAILURES). */
  code: ProviderFailureCode;
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

/** What a provider spec gives the harness besides its suite. */
export interface FailureHarness {
  /** A fresh account id starting with the magic prefix (sandbox state persists between tests). */
  accountId: (magic: string) => string;
  /** Of the sandbox's calls, those that are this account's status calls (writes and reads). */
  statusCalls: (calls: SandboxCall[], accountId: string) => SandboxCall[];
}

/** Registers one `it.each` over the rows, sent through the suite's gateway. */
export function itMapsMagicFailures(
  suite: ProviderSuite,
  harness: FailureHarness,
  rows: MagicFailure[],
  timeoutMs?: number,
): void {
  const titled = rows.map((row) => ({ ...row, title: titleOf(row) }));
  it.each(titled)(
    'should map $title, keeping the provider answer',
    async (row) => {
      const { gw, sandbox } = suite;
      const accountId = harness.accountId(row.magic);
      const before = (await sandboxCalls(sandbox)).length;
      const path = `/v1/accounts/${suite.provider}/${encodeURIComponent(accountId)}/status`;
      const response = await call('PUT', `${gw.url}${path}`, { body: row.change });
      const provider = { id: suite.provider, ...answerOf(row, accountId) };
      const problem = expectFailure(response, row.code, provider);
      expect(problem.instance).toBe(path);
      expectRetryAfter(response, row.retryAfter);
      if (row.read) {
        const readResponse = await call('GET', `${gw.url}${path}`);
        expectFailure(readResponse, row.code, provider);
        expectRetryAfter(readResponse, row.retryAfter);
      }
      if (row.history) {
        const history = await call(
          'GET',
          `${gw.url}/v1/accounts/${suite.provider}/${encodeURIComponent(accountId)}/history`,
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

function titleOf(row: MagicFailure): string {
  if (row.title !== undefined) return row.title;
  const title = `${row.magic}- to ${PROVIDER_FAILURES[row.code].http} ${row.code}`;
  return row.detail === undefined ? title : `${title} ${row.detail}`;
}

function answerOf(row: MagicFailure, accountId: string): Omit<ProviderAnswer, 'id'> {
  return typeof row.provider === 'function' ? row.provider(accountId) : row.provider;
}

function expectRetryAfter(response: JsonResponse, expected: MagicFailure['retryAfter']): void {
  if (expected === undefined) return;
  const header = response.headers.get('retry-after');
  if (expected === null) expect(header).toBeNull();
  else if (typeof expected === 'string') expect(header).toBe(expected);
  else expect(header).toMatch(expected);
}
