/**
 * At most `perMinute` reads per key (a provider) in any 60 seconds: a sliding log of the last minute's
 * read times. Hand-written rather than the gateway's token bucket (RateLimiter), which allows a full
 * burst plus its refill within one minute, or a library: the log holds at most `perMinute` numbers per
 * provider and the clock is injectable, so a test can pass a minute without waiting for one.
 */
export class ReadBudget {
  private readonly reads = new Map<string, number[]>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads `key` may still make now. */
  available(key: string): number {
    return this.perMinute - this.recent(key).length;
  }

  /** Spends one read; false (nothing spent) when the last minute already had `perMinute`. */
  take(key: string): boolean {
    const recent = this.recent(key);
    if (recent.length >= this.perMinute) return false;
    recent.push(this.now());
    return true;
  }

  private recent(key: string): number[] {
    const since = this.now() - 60_000;
    const log = (this.reads.get(key) ?? []).filter((at) => at > since);
    this.reads.set(key, log);
    return log;
  }
}
