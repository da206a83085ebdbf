/**
 * Soak test (not part of `npm test`): `npm run soak` (SOAK_SECONDS, default 120; SOAK_CONCURRENCY, default 16;
 * SOAK_DATABASE, `postgres` (default where a private cluster can run) or `sqlite`).
 *
 * Starts a Spidr and a Canopy sandbox as "live" providers and a real gateway process (dist/main.js) on a
 * private PostgreSQL cluster of its own (never the shared one) or a fresh SQLite file, then sends changes
 * with idempotency keys for the whole duration while faults are injected at the sandboxes: slow answers
 * beyond the timeout, 500s, 429s, 503-then-200, connection resets, malformed bodies, expired tokens. Every
 * key is re-sent once after its first answer (a client retry). At a third of the run PostgreSQL is stopped
 * and started again; at two thirds the gateway is killed with SIGKILL and started again on the same store.
 * It prints the counts and exits 1 unless: duplicate provider writes = 0 (a re-sent key never reaches the
 * provider again after a final answer), lost audit records = 0 (every answered change is in the history
 * with its request id; a 5xx inside a restart window may have no record), no 500 INTERNAL and no dropped
 * connection outside the restart windows (each from the fault until the gateway is ready again, plus 2 s).
 * A webhook subscriber (soak-subscriber.ts) receives the events all along, failing some attempts on purpose;
 * at the end the events expected (the feed, each ended change record with its one event) must all have been
 * delivered, duplicates (at least once) counted apart, or it exits 1 too.
 */
import { megabytes, sampleWal } from './wal-size.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANOPY_SANDBOX_SETTINGS, createCanopySandbox } from '../providers/canopy/canopy.sandbox.js';
import { listenOnLoopback } from '../providers/sandbox/sandbox-kit.js';
import { SPIDR_SANDBOX_SETTINGS, createSpidrSandbox } from '../providers/spidr/spidr.sandbox.js';
import { waitForOutput } from './child-output.js';
import { FAULTS, arrange, post, writes } from './soak-faults.js';
import { drainDeliveries, startSoakSubscriber, webhookReport } from './soak-subscriber.js';
import { privatePostgresUnavailable, startPrivatePostgres } from './private-postgres.js';

const seconds = Number(process.env.SOAK_SECONDS ?? 120);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16);
const noPostgres = privatePostgresUnavailable();
const engine = process.env.SOAK_DATABASE ?? (noPostgres ? 'sqlite' : 'postgres');
/** After a restart window closes, answers are still counted as inside it for this long. */
const WINDOW_GRACE_MS = 2_000;

interface Outcome {
  provider: 'spidr' | 'canopy';
  accountId: string;
  requestId: string;
  /** 0: the connection failed (no answer). */
  httpStatus: number;
  code: string;
  startedAt: number;
  endedAt: number;
}

interface Window {
  what: string;
  from: number;
  to: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  if (engine === 'postgres' && noPostgres) throw new Error(`SOAK_DATABASE=postgres: ${noPostgres}`);
  const spidr = createSpidrSandbox();
  const canopy = createCanopySandbox();
  const spidrUrl = await listenOnLoopback(spidr);
  const canopyUrl = await listenOnLoopback(canopy);
  const dbFile = join(tmpdir(), `statusgate-soak-${randomUUID()}.sqlite`);
  const postgres = engine === 'postgres' ? await startPrivatePostgres() : undefined;
  const subscriber = await startSoakSubscriber();
  const env = {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: postgres?.url ?? `sqlite:${dbFile}`,
    AUTH_DISABLED: 'true',
    RATE_LIMIT_PER_MINUTE: '0',
    SPIDR_BASE_URL: spidrUrl,
    SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
    CANOPY_BASE_URL: canopyUrl,
    CANOPY_CLIENT_ID: CANOPY_SANDBOX_SETTINGS.clientId,
    CANOPY_CLIENT_SECRET: CANOPY_SANDBOX_SETTINGS.clientSecret,
    SPIDR_TIMEOUT_MS: '300',
    CANOPY_TIMEOUT_MS: '300',
    CIRCUIT_FAILURE_THRESHOLD: '50',
    CIRCUIT_HALF_OPEN_AFTER_MS: '500',
    WEBHOOKS: JSON.stringify([{ id: 'soak', url: subscriber.url, secret: subscriber.secret }]),
  };
  const startGateway = async () => {
    const child = spawn(process.execPath, ['dist/main.js'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    return { child, url: await listeningUrl(child) };
  };
  let gateway = await startGateway();
  const wal = engine === 'sqlite' ? sampleWal(dbFile) : undefined;
  const outcomes: Outcome[] = [];
  const windows: Window[] = [];
  let duplicates = 0;
  let sequence = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();

  const worker = async () => {
    while (Date.now() < deadline) {
      const n = ++sequence;
      const provider = n % 3 === 0 ? 'canopy' : 'spidr';
      const base = provider === 'spidr' ? spidrUrl : canopyUrl;
      const fault = FAULTS[Math.floor(n / 3) % FAULTS.length];
      const accountId = await arrange(base, fault, `soak-${n}`);
      if (provider === 'canopy' && n % 50 === 0) await post(`${canopyUrl}/__sandbox/expire-tokens`, {});
      const key = `soak-key-${n}`;
      const body = {
        status: n % 2 === 0 ? 'SUSPENDED' : 'DELINQUENT',
        reason: n % 2 === 0 ? 'FRAUD' : undefined,
      };
      const first = await change(gateway.url, provider, accountId, body, key);
      outcomes.push(first);
      if (first.httpStatus === 0) await sleep(100);
      const writesBefore = await writes(base, provider, accountId);
      const again = await change(gateway.url, provider, accountId, body, key);
      outcomes.push(again);
      const writesAfter = await writes(base, provider, accountId);
      // A re-sent key may legitimately run again only when the first answer was not final (none, 5xx, 429).
      const final = first.httpStatus > 0 && first.httpStatus < 500 && first.httpStatus !== 429;
      if (final) duplicates += writesAfter - writesBefore;
    }
  };
  const waitReady = async () => {
    for (const until = Date.now() + 60_000; Date.now() < until;) {
      try {
        if ((await fetch(`${gateway.url}/health/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error('the gateway was not ready again within 60 s');
  };
  const restarts = async () => {
    await sleep((seconds * 1000) / 3);
    if (postgres) {
      const from = Date.now();
      postgres.stop();
      await sleep(2_000);
      postgres.start();
      await waitReady();
      windows.push({ what: 'PostgreSQL restart', from, to: Date.now() });
    }
    await sleep(Math.max(0, started + (seconds * 2000) / 3 - Date.now()));
    const from = Date.now();
    gateway.child.kill('SIGKILL');
    await new Promise((resolve) => gateway.child.once('exit', resolve));
    gateway = await startGateway();
    await waitReady();
    windows.push({ what: 'gateway kill -9 and restart', from, to: Date.now() });
  };
  await Promise.all([restarts(), ...Array.from({ length: concurrency }, worker)]);
  const elapsed = (Date.now() - started) / 1000;
  const inWindow = (o: Outcome) =>
    windows.some((w) => o.startedAt <= w.to + WINDOW_GRACE_MS && o.endedAt >= w.from);

  // Every answered change (not refused before the provider: 400/422 STATUS_NOT_SUPPORTED are recorded too)
  // must be in the history; a 5xx inside a restart window may be the store being unreachable.
  // First the retries deliver the rest, so that no change still ends while the history is read.
  const drained = await drainDeliveries(gateway.url, subscriber);
  let lost = 0;
  const endedChanges = new Set<string>();
  const byAccount = new Map<string, Outcome[]>();
  for (const o of outcomes)
    byAccount.set(`${o.provider}/${o.accountId}`, [
      ...(byAccount.get(`${o.provider}/${o.accountId}`) ?? []),
      o,
    ]);
  for (const [path, list] of byAccount) {
    const history = (await (await fetch(`${gateway.url}/v1/accounts/${path}/history?limit=100`)).json()) as {
      items: Array<{ requestId: string; changeId: string; outcome: string }>;
    };
    const recorded = new Set(history.items.map((i) => i.requestId));
    for (const i of history.items) if (await ended(gateway.url, i)) endedChanges.add(i.changeId);
    for (const o of list) {
      const replayed = o.code === 'REPLAYED' || o.code === 'IDEMPOTENCY_IN_PROGRESS';
      const unanswered = o.httpStatus === 0 || (o.httpStatus >= 500 && inWindow(o));
      if (!replayed && !unanswered && !recorded.has(o.requestId)) lost++;
    }
  }
  const webhooks = webhookReport(subscriber, drained, endedChanges);
  const walLargest = wal?.stop();
  gateway.child.kill('SIGTERM');
  await new Promise((resolve) => gateway.child.once('exit', resolve));
  await subscriber.close();
  await spidr.close();
  await canopy.close();
  postgres?.destroy();
  rmSync(dbFile, { force: true });

  const counts = new Map<string, number>();
  for (const o of outcomes)
    counts.set(`${o.httpStatus} ${o.code}`, (counts.get(`${o.httpStatus} ${o.code}`) ?? 0) + 1);
  const outside = outcomes.filter((o) => !inWindow(o));
  const internal = outside.filter((o) => o.code === 'INTERNAL').length;
  const dropped = outside.filter((o) => o.httpStatus === 0).length;
  const lines = [
    `soak: ${seconds} s requested, ${elapsed.toFixed(1)} s run, concurrency ${concurrency}, ${engine}`,
    `requests: ${outcomes.length} (${(outcomes.length / elapsed).toFixed(1)}/s)`,
    ...(noPostgres && engine === 'sqlite' ? [`PostgreSQL restart: skipped (${noPostgres})`] : []),
    ...windows.map((w) => `${w.what}: ${((w.to - w.from) / 1000).toFixed(1)} s until ready again`),
    `answers inside the restart windows: ${outcomes.length - outside.length}`,
    'outcomes:',
    ...[...counts.entries()].sort().map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    `duplicate provider writes: ${duplicates}`,
    `lost audit records: ${lost}`,
    `internal errors outside the restart windows: ${internal}`,
    `dropped connections outside the restart windows: ${dropped}`,
    ...(walLargest === undefined ? [] : [`largest SQLite WAL: ${megabytes(walLargest)}`]),
    ...webhooks.lines,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const ok = duplicates === 0 && lost === 0 && internal === 0 && dropped === 0 && webhooks.ok;
  process.exit(ok ? 0 : 1);
}

async function change(
  gateway: string,
  provider: string,
  accountId: string,
  body: unknown,
  key: string,
): Promise<Outcome> {
  const requestId = randomUUID();
  const startedAt = Date.now();
  const outcome = { provider: provider as Outcome['provider'], accountId, requestId, startedAt };
  try {
    const response = await fetch(`${gateway}/v1/accounts/${provider}/${accountId}/status`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-request-id': requestId },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { code?: string; outcome?: string };
    const replayed = response.headers.get('idempotent-replayed') === 'true';
    const code = replayed ? 'REPLAYED' : (json.code ?? json.outcome ?? 'UNKNOWN');
    return { ...outcome, httpStatus: response.status, code, endedAt: Date.now() };
  } catch {
    // The gateway was killed under the request, or is not listening yet.
    return { ...outcome, httpStatus: 0, code: 'NO_ANSWER', endedAt: Date.now() };
  }
}

/** The history shows a change still PENDING (cut by the kill -9, never settled) as UNFINISHED; its record tells. */
async function ended(gateway: string, item: { changeId: string; outcome: string }): Promise<boolean> {
  if (item.outcome !== 'UNFINISHED') return true;
  const record = (await (await fetch(`${gateway}/v1/changes/${item.changeId}`)).json()) as {
    outcome: string;
  };
  return record.outcome !== 'PENDING';
}

async function listeningUrl(child: ChildProcess): Promise<string> {
  const match = await waitForOutput(child, /listening on http:\/\/[^:]+:(\d+)/, 'gateway');
  return `http://127.0.0.1:${match[1]}`;
}

await main();
