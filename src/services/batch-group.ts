import { GatewayError } from '../domain/index.js';
import type { BatchItemTable } from '../persistence/batches.repository.js';
import type { ChangeResult, PreparedChange, ProviderAdapter } from '../providers/provider-adapter.js';
import type { ProviderRegistry } from '../providers/provider-registry.js';
import type { BatchItemRunner } from './batch-item-runner.js';

/** ClearGrid takes at most this many accounts per request (CONTRACT §6). */
export const GROUP_SIZE = 100;

interface Joined {
  prepared: PreparedChange;
  requestId: string;
  resolve: (result: ChangeResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Items for one ClearGrid endpoint: each runs the single-change path, but its provider call joins one
 * shared request, sent once every item has either joined or ended before sending (refused, say, as
 * STATUS_NOT_SUPPORTED). Accounts ClearGrid names in its per-account errors fail on their own; the
 * rest of a refused request were not processed and are sent again without them.
 */
export async function runGroup(
  registry: ProviderRegistry,
  runner: BatchItemRunner,
  items: BatchItemTable[],
): Promise<void> {
  let adapter: ProviderAdapter;
  try {
    adapter = registry.get(items[0].provider);
  } catch {
    await Promise.all(items.map((item) => runner.runOne(item)));
    return;
  }
  const joined: Joined[] = [];
  let ended = 0;
  let sent = false;
  const flush = () => {
    if (sent || joined.length + ended < items.length) return;
    sent = true;
    void sendGroup(adapter, joined);
  };
  await Promise.all(
    items.map(async (item) => {
      let didJoin = false;
      const send = (prepared: PreparedChange, requestId: string) =>
        new Promise<ChangeResult>((resolve, reject) => {
          didJoin = true;
          joined.push({ prepared, requestId, resolve, reject });
          flush();
        });
      try {
        await runner.runOne(item, send);
      } finally {
        if (!didJoin) {
          ended += 1;
          flush();
        }
      }
    }),
  );
}

async function sendGroup(adapter: ProviderAdapter, joined: Joined[]): Promise<void> {
  const byEndpoint = new Map<string, Joined[]>();
  for (const entry of joined) {
    const key = adapter.groupKey!(entry.prepared);
    byEndpoint.set(key, [...(byEndpoint.get(key) ?? []), entry]);
  }
  for (const group of byEndpoint.values()) {
    let remaining = group;
    while (remaining.length > 0) {
      let results;
      try {
        results = await adapter.applyChanges!(
          remaining.map((e) => e.prepared),
          { requestId: remaining[0].requestId },
        );
      } catch (error) {
        for (const entry of remaining) entry.reject(error);
        break;
      }
      const next: Joined[] = [];
      results.forEach((result, i) => {
        const entry = remaining[i];
        if (result.kind === 'done') entry.resolve(result.result);
        else if (result.kind === 'failed') entry.reject(result.error);
        else next.push(entry);
      });
      if (next.length === remaining.length) {
        const stuck = new GatewayError(
          'PROVIDER_REJECTED',
          'cleargrid refused the request without naming these accounts',
        );
        for (const entry of next) entry.reject(stuck);
        break;
      }
      remaining = next;
    }
  }
}
