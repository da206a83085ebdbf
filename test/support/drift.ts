/** Helpers of the drift watch's tests: its events as the outbox holds them, and /metrics series. */
import type { DriftEventData } from '../../src/events/cloud-events.js';
import type { TestGateway } from './gateway.js';

/** The `data` of every account.status.drifted event of one account, in the outbox's order. */
export async function driftedEvents(
  gw: TestGateway,
  provider: string,
  accountId: string,
): Promise<DriftEventData[]> {
  const rows = await gw.gateway.store.database.db
    .selectFrom('events')
    .select(['data', 'type', 'subject'])
    .where('type', '=', 'account.status.drifted')
    .where('subject', '=', `${provider}/${accountId}`)
    .orderBy('seq')
    .execute();
  return rows.map((row) => JSON.parse(row.data) as DriftEventData);
}

export async function metricsText(gw: { url: string }): Promise<string> {
  return (await fetch(`${gw.url}/metrics`)).text();
}

/** The value of one series in the exposition text, or undefined when absent. */
export function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
