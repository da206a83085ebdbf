import { webhookReport, type SoakSubscriber } from './soak-subscriber.js';

describe(webhookReport.name, () => {
  const subscriber = (delivered: Record<string, number>, badSignatures = 0): SoakSubscriber => ({
    url: 'http://127.0.0.1:1/hook',
    secret: 'whsec_x',
    delivered: new Map(Object.entries(delivered)),
    failed: 0,
    badSignatures,
    close: () => Promise.resolve(),
  });
  const expected = [
    { id: 'e1', changeId: 'c1' },
    { id: 'e2', changeId: 'c2' },
  ];
  const ended = new Set(['c1', 'c2']);

  it('should pass when every expected event was delivered, counting duplicates apart', () => {
    const report = webhookReport(subscriber({ e1: 1, e2: 3 }), { expected, pending: 0 }, ended);
    expect(report.ok).toBe(true);
    expect(report.lines).toContain('webhook events delivered (unique webhook-id): 2');
    expect(report.lines).toContain('webhook duplicate deliveries (same webhook-id again, at least once): 2');
  });

  it.each([
    ['an event not delivered', subscriber({ e1: 1 }), 0, ended],
    ['an event delivered that the feed does not have', subscriber({ e1: 1, e2: 1, e3: 1 }), 0, ended],
    ['a delivery still pending', subscriber({ e1: 1, e2: 1 }), 1, ended],
    ['a bad signature', subscriber({ e1: 1, e2: 1 }, 1), 0, ended],
    ['an ended change without its event', subscriber({ e1: 1, e2: 1 }), 0, new Set(['c1', 'c2', 'c3'])],
    ['an event of a change not recorded as ended', subscriber({ e1: 1, e2: 1 }), 0, new Set(['c1'])],
  ])('should fail with %s', (_what, sub, pending, changes) => {
    expect(webhookReport(sub, { expected, pending }, changes).ok).toBe(false);
  });
});
