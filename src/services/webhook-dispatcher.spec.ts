import { GIVE_UP_AFTER_MS, MAX_RETRY_MS, nextAttemptAt } from './webhook-dispatcher.js';
import { webhookSignature } from '../events/webhook-signature.js';
import { createHmac } from 'node:crypto';

describe(nextAttemptAt.name, () => {
  const created = new Date('2026-12-01T00:00:00Z');
  const after = (attempts: number, now: Date) =>
    (nextAttemptAt(attempts, created, now)?.getTime() ?? NaN) - now.getTime();

  it('should wait 1 s after the first failure, doubling after each, capped at 10 minutes', () => {
    expect([1, 2, 3, 4, 10, 11, 50].map((n) => after(n, created))).toEqual([
      1_000,
      2_000,
      4_000,
      8_000,
      512_000,
      MAX_RETRY_MS,
      MAX_RETRY_MS,
    ]);
  });

  it('should give up once the next try would fall past 24 hours', () => {
    expect(
      nextAttemptAt(100, created, new Date(created.getTime() + GIVE_UP_AFTER_MS - MAX_RETRY_MS)),
    ).toBeDefined();
    expect(nextAttemptAt(100, created, new Date(created.getTime() + GIVE_UP_AFTER_MS - 1))).toBeUndefined();
  });
});

describe(webhookSignature.name, () => {
  it('should be v1, + base64 HMAC-SHA256 over id.timestamp.body keyed with the decoded secret', () => {
    const key = Buffer.alloc(32, 1);
    const expected = createHmac('sha256', key).update('msg_1.1700000000.{"a":1}').digest('base64');
    expect(webhookSignature(key.toString('base64'), 'msg_1', 1700000000, '{"a":1}')).toBe(`v1,${expected}`);
  });
});
