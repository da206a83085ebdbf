import { GatewayError } from '../domain/index.js';
import { backoffMs, isRetryable, withRetries, type RetryPolicy } from './retry-policy.js';

const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 10_000 };

/** A fake clock: sleeping advances it, so budgets are checked without real waiting. */
function clock() {
  let t = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: (ms: number) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

describe(backoffMs.name, () => {
  it('should grow exponentially up to the cap with full jitter', () => {
    expect(backoffMs(policy, 1, undefined, () => 0.999)).toBe(99);
    expect(backoffMs(policy, 2, undefined, () => 0.999)).toBe(199);
    expect(backoffMs(policy, 5, undefined, () => 0.999)).toBe(999);
    expect(backoffMs(policy, 3, undefined, () => 0)).toBe(0);
  });

  it('should never wait less than Retry-After', () => {
    expect(backoffMs(policy, 1, 2, () => 0.5)).toBe(2000);
  });
});

describe(isRetryable.name, () => {
  it.each([
    ['RATE_LIMITED', true],
    ['PROVIDER_ERROR', true],
    ['PROVIDER_UNAVAILABLE', true],
    ['PROVIDER_TIMEOUT', true],
    ['ACCOUNT_NOT_FOUND', false],
    ['PROVIDER_REJECTED', false],
    ['PROVIDER_AUTH_FAILED', false],
    ['INVALID_TRANSITION', false],
  ] as const)('should treat %s as retryable: %s', (code, expected) => {
    expect(isRetryable(new GatewayError(code, 'x'))).toBe(expected);
  });

  it('should not retry errors that are not gateway errors', () => {
    expect(isRetryable(new Error('boom'))).toBe(false);
  });
});

describe(withRetries.name, () => {
  it('should retry a retryable failure and return the later success', async () => {
    const c = clock();
    let calls = 0;
    const result = await withRetries(
      policy,
      () => (++calls < 2 ? Promise.reject(new GatewayError('PROVIDER_ERROR', '503')) : Promise.resolve('ok')),
      c,
    );
    expect({ result, calls }).toEqual({ result: 'ok', calls: 2 });
  });

  it('should give up after maxAttempts with the last error', async () => {
    const c = clock();
    let calls = 0;
    await expect(
      withRetries(policy, () => Promise.reject(new GatewayError('PROVIDER_TIMEOUT', `t${++calls}`)), c),
    ).rejects.toMatchObject({ code: 'PROVIDER_TIMEOUT', detail: 't3' });
    expect(calls).toBe(3);
    expect(c.waits).toHaveLength(2);
  });

  it('should not retry a final refusal', async () => {
    let calls = 0;
    await expect(
      withRetries(policy, () => {
        calls++;
        return Promise.reject(new GatewayError('ACCOUNT_NOT_FOUND', 'no'));
      }),
    ).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    expect(calls).toBe(1);
  });

  it('should honour Retry-After and stop when the budget cannot hold the wait', async () => {
    const c = clock();
    let calls = 0;
    const tight = { ...policy, budgetMs: 3000 };
    await expect(
      withRetries(
        tight,
        () => {
          calls++;
          return Promise.reject(new GatewayError('RATE_LIMITED', '429', { retryAfter: 2 }));
        },
        c,
      ),
    ).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(c.waits).toEqual([2000]);
    expect(calls).toBe(2);
  });

  it('should return the settled value instead of repeating when the check says it already happened', async () => {
    const c = clock();
    let calls = 0;
    const result = await withRetries(
      policy,
      () => {
        calls++;
        return Promise.reject(new GatewayError('PROVIDER_TIMEOUT', 'lost answer'));
      },
      { ...c, beforeRepeat: () => Promise.resolve({ settled: true as const, value: 'closed already' }) },
    );
    expect({ result, calls }).toEqual({ result: 'closed already', calls: 1 });
  });
});
