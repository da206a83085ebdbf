/**
 * The one sandbox harness of the adapter specs: a provider's real sandbox on loopback (started before
 * the spec, reset before each test, closed after), its call log and control routes. Adapters are tested
 * over real HTTP against it, never against a mocked client. Not part of the build (`*.spec-*.ts`).
 */
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { GatewayError, type CanonicalReason, type CanonicalStatus } from '../../domain/index.js';
import type {
  CallContext,
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderEndpoint,
} from '../provider-adapter.js';
import type { ProviderDefinition } from '../provider-definition.js';
import { translateChange } from '../translation.js';
import { listenOnLoopback, type SandboxCall } from './sandbox-kit.js';

export class SandboxHarness {
  baseUrl = '';
  private app?: FastifyInstance;

  constructor(private readonly definition: Pick<ProviderDefinition, 'loadSandbox'>) {}

  /** A harness whose sandbox lives for the spec file and is reset before each test. */
  static forSpec(definition: Pick<ProviderDefinition, 'loadSandbox'>): SandboxHarness {
    return SandboxHarness.useForSpec(new SandboxHarness(definition));
  }

  /** Starts `harness` before the spec file, resets it before each test and stops it after. */
  static useForSpec<H extends SandboxHarness>(harness: H): H {
    beforeAll(() => harness.start());
    afterAll(() => harness.stop());
    beforeEach(() => harness.reset());
    return harness;
  }

  async start(): Promise<void> {
    this.app = (await this.definition.loadSandbox()).create();
    this.baseUrl = await listenOnLoopback(this.app);
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }

  /** POSTs to a control route (`/__sandbox/x` or just `x`); throws unless the sandbox answered 204. */
  async control(path: string, body?: unknown): Promise<void> {
    const route = path.startsWith('/') ? path : `/__sandbox/${path}`;
    const response = await fetch(`${this.baseUrl}${route}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== 204) throw new Error(`sandbox control ${route} answered ${response.status}`);
  }

  /** An endpoint at this sandbox (or at `url`) in sandbox mode, with a 2 s timeout unless `timeoutMs` says. */
  endpoint<Settings>(
    settings: Settings,
    options: { url?: string; timeoutMs?: number } = {},
  ): ProviderEndpoint<Settings> {
    return {
      baseUrl: options.url ?? this.baseUrl,
      mode: 'sandbox',
      timeoutMs: options.timeoutMs ?? 2000,
      settings,
    };
  }

  reset(): Promise<void> {
    return this.control('/__sandbox/reset');
  }

  /** Every request the sandbox received since the last reset (control routes excluded). */
  async calls(): Promise<SandboxCall[]> {
    const response = await fetch(`${this.baseUrl}/__sandbox/calls`);
    return ((await response.json()) as { calls: SandboxCall[] }).calls;
  }

  async urls(): Promise<string[]> {
    return (await this.calls()).map((c) => c.url);
  }
}

/** A spec's `change(accountId, status, reason?, providerOptions?, adapter?)` arguments. */
export type ChangeArgs<Adapter extends ProviderAdapter = ProviderAdapter> = [
  accountId: string,
  status: CanonicalStatus,
  reason?: CanonicalReason,
  providerOptions?: Record<string, unknown>,
  adapter?: Adapter,
];

/** Where a spec's adapter points: its sandbox unless `url` says, with a 2 s timeout unless `timeoutMs` says. */
export type EndpointOptions = { url?: string; timeoutMs?: number };

/**
 * One adapter spec's sandbox (see {@link SandboxHarness.forSpec}) and the ways its tests reach it:
 * `adapterFor(options)` builds the provider's adapter with `make`, which is handed the spec's own options
 * and the endpoint at the sandbox; `change` (positional {@link ChangeArgs}), `apply` and `prepare` (a
 * request, then optionally the adapter) go through the translation as the change service does, all under
 * one request id; `itAnswersTransportFailures` states the transport cases with them.
 */
export function useAdapterSandbox<Adapter extends ProviderAdapter, Options extends object = object>(
  definition: Pick<ProviderDefinition, 'loadSandbox'>,
  requestId: string,
  make: (
    options: Partial<Options>,
    endpoint: <Settings>(settings: Settings) => ProviderEndpoint<Settings>,
  ) => Adapter,
) {
  const sandbox = SandboxHarness.forSpec(definition);
  const ctx: CallContext = { requestId };
  const adapterFor = (options: Partial<Options> & EndpointOptions = {}) =>
    make(options, (settings) => sandbox.endpoint(settings, options));
  return {
    sandbox,
    ctx,
    adapterFor,
    calls: () => sandbox.calls(),
    change: (...[accountId, status, reason, providerOptions, adapter = adapterFor()]: ChangeArgs<Adapter>) =>
      applyThrough(adapter, { accountId, status, reason, providerOptions }, ctx),
    apply: (request: ChangeRequest, adapter = adapterFor()) => applyThrough(adapter, request, ctx),
    prepare: (request: ChangeRequest, adapter = adapterFor()) => prepareThrough(adapter, request, ctx),
    /** {@link itAnswersTransportFailures} for this spec's adapters, each case changing to `status`. */
    itAnswersTransportFailures: (
      provider: string,
      cases: Pick<TransportCases<Adapter>, 'slowAccountId' | 'timeoutMs'> & { status: CanonicalStatus },
    ) =>
      itAnswersTransportFailures<Adapter>({
        provider,
        // Every property of Partial<Options> is optional, so `{ url, timeoutMs }` alone is one.
        adapterFor: (options) => adapterFor(options as Partial<Options>),
        change: (adapter, accountId) => applyThrough(adapter, { accountId, status: cases.status }, ctx),
        ...cases,
      }),
  };
}

/**
 * Translates and prepares one change, as the change service does (a refused translation, such as
 * STATUS_NOT_SUPPORTED, becomes the returned promise's rejection).
 */
export async function prepareThrough(
  adapter: ProviderAdapter,
  request: ChangeRequest,
  ctx: CallContext,
): Promise<PreparedChange> {
  return adapter.prepareChange(translateChange(adapter, request), ctx);
}

/** Translates, prepares and applies one change, as the change service does. */
export async function applyThrough(
  adapter: ProviderAdapter,
  request: ChangeRequest,
  ctx: CallContext,
): Promise<ChangeResult> {
  return adapter.applyChange(await prepareThrough(adapter, request, ctx), ctx);
}

/** The GatewayError a promise rejects with; throws when it resolves or rejects with something else. */
export async function failureOf(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(error)}`);
  return error;
}

/** The GatewayError a promise rejects with, checked to carry `code`. */
export async function failureWithCode(
  promise: Promise<unknown>,
  code: GatewayError['code'],
): Promise<GatewayError> {
  const error = await failureOf(promise);
  expect(error.code).toBe(code);
  return error;
}

/** A loopback port nothing listens on (taken, then released), for "connection refused" cases. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** How a spec reaches its provider for {@link itAnswersTransportFailures}. */
export interface TransportCases<Adapter extends ProviderAdapter> {
  /** The provider's name, as the test names say it. */
  provider: string;
  /** The spec's adapter, at `url` (default: its sandbox) with `timeoutMs` (default: its own). */
  adapterFor: (options: { url?: string; timeoutMs?: number }) => Adapter;
  /** One change through `adapter` for `accountId`, as the spec's other tests send it. */
  change: (adapter: Adapter, accountId: string) => Promise<unknown>;
  /** An account the sandbox answers only after longer than `timeoutMs` (its `SLOW<ms>-` accounts). */
  slowAccountId: string;
  timeoutMs: number;
}

/**
 * The transport failures every HTTP adapter answers alike, whatever its provider: a provider slower than the
 * timeout is PROVIDER_TIMEOUT, a port nothing listens on is PROVIDER_UNAVAILABLE (for a change and a read).
 */
export function itAnswersTransportFailures<Adapter extends ProviderAdapter>(
  cases: TransportCases<Adapter>,
): void {
  it(`should answer PROVIDER_TIMEOUT when ${cases.provider} is slower than the timeout`, async () => {
    const adapter = cases.adapterFor({ timeoutMs: cases.timeoutMs });
    await failureWithCode(cases.change(adapter, cases.slowAccountId), 'PROVIDER_TIMEOUT');
  });

  it('should answer PROVIDER_UNAVAILABLE when the connection is refused', async () => {
    const adapter = cases.adapterFor({ url: `http://127.0.0.1:${await freePort()}` });
    await failureWithCode(cases.change(adapter, 'acc-1'), 'PROVIDER_UNAVAILABLE');
    await failureWithCode(adapter.readStatus('acc-1', { requestId: 'req-refused' }), 'PROVIDER_UNAVAILABLE');
  });
}

/** A provider's answer as a failure keeps it: [provider id, HTTP status, its code (or NO_CODE), its message]. */
export type KeptAnswer = [id: string, httpStatus: number, code: string, message: string];

/** Checks that a failure kept the provider's own answer, exactly and nothing else (CONTRACT: never lose its code). */
export function expectKeptAnswer(error: GatewayError, [id, httpStatus, code, message]: KeptAnswer): void {
  expect(error.provider).toStrictEqual({ id, httpStatus, code, message });
}
