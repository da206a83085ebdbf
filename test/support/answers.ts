/**
 * The gateway's answers as CONTRACT.md defines them, each checked whole, for the end-to-end specs:
 * - `expectChange`: a change the provider took (200 APPLIED or 202 ACCEPTED, section 3);
 * - `expectRead`: GET …/status; `expectDryRun`: a dry run's provider request; `expectHistory`: the trail;
 * - `expectFailure`: a provider failure's problem (section 4), its HTTP status and `retryable` from
 *   `PROVIDER_FAILURES`, the provider's own answer kept under `provider`.
 * Any other problem: `expectProblem` (gateway.ts).
 */
import type { ProviderId } from '../../src/domain/index.js';
import { expectProblem, type JsonResponse } from './gateway.js';

/**
 * CONTRACT.md section 4, as the README's "Errors" table has it: the HTTP status and `retryable` of each code
 * a provider failure ends in. Written out here, not read from src/domain, so that the specs hold the gateway
 * to the contract rather than to itself.
 */
export const PROVIDER_FAILURES = {
  ACCOUNT_NOT_FOUND: { http: 404, retryable: false },
  ACCOUNT_CLOSED: { http: 409, retryable: false },
  INVALID_TRANSITION: { http: 409, retryable: false },
  PROVIDER_REJECTED: { http: 422, retryable: false },
  RATE_LIMITED: { http: 429, retryable: true },
  PROVIDER_AUTH_FAILED: { http: 502, retryable: false },
  PROVIDER_ERROR: { http: 502, retryable: true },
  PROVIDER_UNAVAILABLE: { http: 503, retryable: true },
  PROVIDER_TIMEOUT: { http: 504, retryable: true },
} as const satisfies Record<string, { http: number; retryable: boolean }>;

export type ProviderFailureCode = keyof typeof PROVIDER_FAILURES;

/** The provider's own answer a problem keeps under `provider` (CONTRACT.md section 4). */
export interface ProviderAnswer {
  id: ProviderId;
  httpStatus: number;
  code: string;
  message: unknown;
}

/**
 * A provider failure turned into its canonical problem: `code` with the HTTP status and `retryable`
 * PROVIDER_FAILURES gives it, and the provider's answer kept whole (`null`: no provider answer at all, e.g. a
 * timeout). Returns the problem body.
 */
export function expectFailure(
  response: JsonResponse,
  code: ProviderFailureCode,
  provider: ProviderAnswer | null,
): any {
  const problem = expectProblem(response, PROVIDER_FAILURES[code].http, code);
  expect(problem.retryable).toBe(PROVIDER_FAILURES[code].retryable);
  if (provider === null) expect(problem.provider).toBeUndefined();
  else expect(problem.provider).toEqual(provider);
  return problem;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** What a change answer holds besides its ids and times (CONTRACT.md section 3). */
export interface ChangeAnswer {
  status: string;
  reason: string | null;
  /** APPLIED is answered 200, ACCEPTED (the provider applies it later) 202. */
  outcome: 'APPLIED' | 'ACCEPTED';
  providerStatus: unknown;
  /** The caller's X-Request-Id; any when the gateway made one up. */
  requestId?: string;
}

/**
 * The whole answer to a change the provider took: a UUID change id, the request id (also in X-Request-Id)
 * and an ISO completion time, and nothing else in the body.
 */
export function expectChange(
  response: JsonResponse,
  provider: ProviderId,
  accountId: string,
  { requestId, ...change }: ChangeAnswer,
): void {
  expect(response.status).toBe(change.outcome === 'ACCEPTED' ? 202 : 200);
  expect(response.body).toStrictEqual({
    changeId: expect.stringMatching(UUID),
    provider,
    accountId,
    ...change,
    requestId: requestId ?? expect.any(String),
    completedAt: expect.stringMatching(ISO_INSTANT),
  });
  expect(response.headers.get('x-request-id')).toBe(response.body.requestId);
  expect(new Date(response.body.completedAt).toISOString()).toBe(response.body.completedAt);
}

/**
 * A 200 answer to GET …/status for one account: `read` is the rest of its body, all of it, or with
 * `partial` the members it must have.
 */
export function expectRead(
  response: JsonResponse,
  provider: ProviderId,
  accountId: string,
  read: Record<string, unknown>,
  { partial = false } = {},
): void {
  expect(response.status).toBe(200);
  const body = { provider, accountId, ...read };
  if (partial) expect(response.body).toMatchObject(body);
  else expect(response.body).toStrictEqual(body);
}

/** A 200 dry-run answer: exactly the provider request the change would send, and nothing else. */
export function expectDryRun(
  response: JsonResponse,
  providerRequest: { method: string; url: string; body: unknown },
): void {
  expect(response.status).toBe(200);
  expect(response.body).toStrictEqual({ dryRun: true, providerRequest });
}

/** A 200 history answer of `count` items, the newest first and like `newest`; returns the items. */
export function expectHistory(response: JsonResponse, count: number, newest: Record<string, unknown>): any[] {
  expect(response.status).toBe(200);
  expect(response.body.items).toHaveLength(count);
  expect(response.body.items[0]).toMatchObject(newest);
  return response.body.items;
}
