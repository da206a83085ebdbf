/** What the batch suites share: polling, the Spidr sandbox's faults and call counts, Spidr items. */
import { sandboxCalls } from './support/gateway.js';

export async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Delays every status call (PATCH) at a Spidr sandbox by `delayMs`. */
export async function addLatency(url: string, delayMs: number): Promise<void> {
  await fetch(`${url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ match: { method: 'PATCH' }, fault: 'latency', delayMs }),
  });
}

/** How many status calls each account got at a Spidr sandbox. */
export async function patchesPerAccount(url: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const c of await sandboxCalls(url)) {
    if (c.method !== 'PATCH') continue;
    const account = decodeURIComponent(c.url.split('/').pop()!);
    counts.set(account, (counts.get(account) ?? 0) + 1);
  }
  return counts;
}

/** `total` Spidr items for accounts `<prefix>-<i>`, SUSPENDED; `fields(i)` adds to or overrides an item's fields. */
export function spidrItems(
  prefix: string,
  total: number,
  fields: (i: number) => Record<string, unknown> = () => ({}),
): Array<Record<string, unknown>> {
  return Array.from({ length: total }, (_, i) => ({
    provider: 'spidr',
    accountId: `${prefix}-${i}`,
    status: 'SUSPENDED',
    ...fields(i),
  }));
}
