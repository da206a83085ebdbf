import type { ErrorCode } from '../domain/index.js';
import { GatewayError } from '../domain/index.js';
import { PROVIDER_UNWELL } from './provider-guard.js';

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Bounds all attempts and waits of one call together. */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 2000,
  budgetMs: 30_000,
};

/** Failures worth repeating unchanged (CONTRACT.md section 5): 429 and whatever says the provider is unwell. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['RATE_LIMITED', ...PROVIDER_UNWELL]);

export function isRetryable(error: unknown): error is GatewayError {
  return error instanceof GatewayError && RETRYABLE.has(error.code) && !error.noRetry;
}

/**
 * The wait before attempt `attempt + 1`: capped exponential backoff with full jitter
 * (random between 0 and min(cap, base · 2^(attempt-1))), but never less than the provider's Retry-After.
 */
export function backoffMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfterSeconds?: number,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
}

export interface RetryHooks {
  /** Called before each repeat; may decide the repeat is unnecessary by returning a value. */
  beforeRepeat?: () => Promise<{ settled: true; value: unknown } | { settled: false }>;
  onRetry?: (error: GatewayError, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Runs `operation` with retries on retryable failures, within the policy's attempts and time budget.
 * When the budget cannot hold the next wait (e.g. a long Retry-After), the last failure is answered at once.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  operation: () => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + policy.budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isRetryable(error) || attempt >= policy.maxAttempts) throw error;
      const delay = backoffMs(policy, attempt, error.retryAfter);
      if (now() + delay >= deadline) throw error;
      hooks.onRetry?.(error, attempt, delay);
      await sleep(delay);
      if (hooks.beforeRepeat) {
        const check = await hooks.beforeRepeat();
        if (check.settled) return check.value as T;
      }
    }
  }
}
