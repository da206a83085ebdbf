/**
 * End-to-end harness: boots the real gateway over HTTP on a loopback port, with log lines captured,
 * and gives access to each provider sandbox's call log. Providers are real HTTP servers (the sandboxes).
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createApp, type CreateAppOptions, type GatewayApp } from '../../src/app.factory.js';
import type { Env } from '../../src/config/config.js';
import { loadConfig } from '../../src/runtime/config.js';
import type { ProviderId } from '../../src/domain/index.js';
import { PROVIDER_DEFINITIONS } from '../../src/providers/definitions.js';
import { SPIDR_SANDBOX_SETTINGS } from '../../src/providers/spidr/spidr.sandbox.js';
import { listenOnLoopback, type SandboxCall } from '../../src/providers/sandbox/sandbox-kit.js';

export interface TestGateway {
  url: string;
  gateway: GatewayApp;
  /** Every log line written so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Raw log text, for "never appears in the log" assertions. */
  rawLogs(): string;
  /** The base URL of a provider's endpoint (its built-in sandbox, or the live URL given). */
  providerUrl(provider: ProviderId): string;
  close(): Promise<void>;
}

/** Flushes the gateway's log stream, then waits `settleMs` for the last lines to reach the captured logs. */
export async function flushLogs(gw: TestGateway, settleMs = 50): Promise<void> {
  await new Promise<void>((resolve) => gw.gateway.logger.flush(() => resolve()));
  await new Promise((r) => setTimeout(r, settleMs));
}

export async function startGateway(
  env: Env = {},
  options: Omit<CreateAppOptions, 'logDestination'> = {},
): Promise<TestGateway> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  // Suites share one gateway across many failure tests; the breaker would (rightly) open and turn later
  // tests into 503s. Only the breaker's own tests (test/faults.e2e-spec.ts) set a real threshold.
  const config = loadConfig({
    LOG_LEVEL: 'info',
    DATABASE_URL: temporarySqliteUrl(),
    CIRCUIT_FAILURE_THRESHOLD: '1000',
    // The drift watch reads sandbox accounts on its own; suites that count provider calls must not see
    // its reads. Its own suites (test/drift*.e2e-spec.ts) set it.
    RECONCILE_INTERVAL_MS: '0',
    ...env,
  });
  const gateway = await createApp(config, { ...options, logDestination: sink });
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const address = gateway.app.getHttpServer().address();
  if (!address || typeof address === 'string') throw new Error('gateway did not bind');
  const entries = gateway.runtime.registry.list();
  return {
    url: `http://127.0.0.1:${address.port}`,
    gateway,
    get logs() {
      return chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLogs: () => chunks.join(''),
    providerUrl(provider) {
      const baseUrl = entries.find((e) => e.id === provider)?.baseUrl;
      if (!baseUrl) throw new Error(`${provider} has no endpoint (disabled?)`);
      return baseUrl;
    },
    close: () => gateway.app.close(),
  };
}

/**
 * One gateway for the enclosing describe block: started in its `beforeAll`, closed in its `afterAll`.
 * The answer stands for that gateway (use it inside tests and hooks, not while the suite is declared).
 * `env` may be a function, for settings that need set-up of their own (a sandbox started first, …).
 */
export function useGateway(
  env: Env | (() => Promise<Env>) = {},
  options: Omit<CreateAppOptions, 'logDestination'> & {
    /** Runs before the gateway closes (e.g. waiting out a sandbox's delayed answers). */
    beforeClose?: () => Promise<unknown>;
    /** Runs once it has closed (e.g. closing what `env` started). */
    afterClose?: () => Promise<unknown>;
  } = {},
): TestGateway {
  const { beforeClose, afterClose, ...appOptions } = options;
  let started: TestGateway | undefined;
  const current = () => {
    if (!started) throw new Error('the suite gateway is not started (used outside a test or hook?)');
    return started;
  };
  beforeAll(async () => {
    started = await startGateway(typeof env === 'function' ? await env() : env, appOptions);
  });
  afterAll(async () => {
    await beforeClose?.();
    await started?.close();
    await afterClose?.();
  });
  return {
    get url() {
      return current().url;
    },
    get gateway() {
      return current().gateway;
    },
    get logs() {
      return current().logs;
    },
    rawLogs: () => current().rawLogs(),
    providerUrl: (provider) => current().providerUrl(provider),
    close: () => current().close(),
  };
}

/** A fresh SQLite file under the OS temp folder, so tests never touch ./data. */
export function temporarySqliteUrl(): string {
  return `sqlite:${join(tmpdir(), 'statusgate-test', `${randomUUID()}.sqlite`)}`;
}

/** A provider sandbox started on its own, to act as a "live" provider at `<PROVIDER>_BASE_URL`. */
export interface StandaloneSandbox {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startSandbox(provider: ProviderId): Promise<StandaloneSandbox> {
  const app = (await PROVIDER_DEFINITIONS[provider].loadSandbox()).create();
  const url = await listenOnLoopback(app);
  return { url, app, close: () => app.close() };
}

/** A gateway's environment with Spidr live at a standalone sandbox, and no API keys. */
export function spidrGatewayEnv(databaseUrl: string, spidrUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    SPIDR_BASE_URL: spidrUrl,
    SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
    AUTH_DISABLED: 'true',
  };
}

/** The requests a sandbox has received (control routes excluded). */
export async function sandboxCalls(baseUrl: string): Promise<SandboxCall[]> {
  const response = await fetch(`${baseUrl}/__sandbox/calls`);
  return ((await response.json()) as { calls: SandboxCall[] }).calls;
}

export async function resetSandbox(baseUrl: string): Promise<void> {
  await fetch(`${baseUrl}/__sandbox/reset`, { method: 'POST' });
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Small JSON client for the gateway. */
export async function call<T = any>(
  method: string,
  url: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** Asserts an RFC 9457 problem of the given code and returns its body. */
export function expectProblem(response: JsonResponse, httpStatus: number, code: string): any {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status: httpStatus, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: `urn:problem:${code}`, status: httpStatus, code });
  expect(typeof response.body.requestId).toBe('string');
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .+\(.*:\d+:\d+\)/);
  return response.body;
}
