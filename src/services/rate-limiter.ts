/** The answer of the rate limiter for one request. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A token bucket per caller: up to `perMinute` requests in a burst, refilled continuously at
 * `perMinute` per minute. Buckets that have refilled completely are dropped, so memory follows the
 * number of recently active callers.
 *
 * Hand-written rather than a library: it runs synchronously in the auth guard, keyed by the authenticated
 * caller, and answers with the seconds to wait for RATE_LIMITED's Retry-After; @fastify/rate-limit runs
 * before authentication with its own error body, and rate-limiter-flexible's memory limiter is promise-based
 * with fixed windows and a timer per key — more machinery than these 40 lines, for the same behaviour.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private lastSweep: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    this.lastSweep = now();
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  take(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)),
    };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}
