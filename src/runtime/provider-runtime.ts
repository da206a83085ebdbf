import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/config.js';
import { PROVIDER_IDS, type GatewayError, type ProviderId, type SettingSpec } from '../domain/index.js';
import type { TokenMintReason } from '../providers/auth/token-cache.js';
import { PROVIDER_DEFINITIONS } from '../providers/definitions.js';
import type { ProviderEndpoint } from '../providers/provider-adapter.js';
import type { ProviderDefinition } from '../providers/provider-definition.js';
import { ProviderRegistry, type ProviderEntry } from '../providers/provider-registry.js';
import { listenOnLoopback } from '../providers/sandbox/sandbox-kit.js';
import { ProviderGuard, type CircuitName } from '../resilience/provider-guard.js';
import { ResilientAdapter } from '../resilience/resilient-adapter.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../resilience/retry-policy.js';

export type RetryListener = (event: {
  provider: ProviderId;
  operation: string;
  code: string;
  attempt: number;
  delayMs: number;
}) => void;

/** What the runtime reports about providers, for logs and metrics. */
export interface ProviderEvents {
  retry?: RetryListener;
  circuit?: (provider: ProviderId, state: CircuitName) => void;
  tokenMinted?: (event: { provider: ProviderId; reason: TokenMintReason; ok: boolean }) => void;
  /** A provider error no rule recognised (see GatewayError.unmapped), once per failed request. */
  unmappedError?: (provider: ProviderId, error: GatewayError) => void;
}

/**
 * The composition root of the providers (application level, so providers/ never imports resilience/).
 * Builds the provider registry: live providers point at their base URL; providers without one start
 * their built-in sandbox on an ephemeral loopback port of this process (so adapters use the same HTTP
 * path as live); the rest are disabled. Owns the sandboxes' lifetime.
 */
export class ProviderRuntime {
  private constructor(
    readonly registry: ProviderRegistry,
    private readonly sandboxes: FastifyInstance[],
  ) {}

  static async start(config: AppConfig, events: ProviderEvents = {}): Promise<ProviderRuntime> {
    const { retry: onRetry, circuit: onCircuit, unmappedError } = events;
    const sandboxes: FastifyInstance[] = [];
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...config.retry };
    try {
      const entries: ProviderEntry[] = [];
      for (const id of PROVIDER_IDS) {
        const entry = await ProviderRuntime.entry(id, config, sandboxes, events);
        if (entry.adapter) {
          const listener =
            onRetry &&
            ((op: string, code: string, attempt: number, delayMs: number) =>
              onRetry({ provider: id, operation: op, code, attempt, delayMs }));
          const guard = new ProviderGuard(id, config.guard, (state) => onCircuit?.(id, state));
          entry.adapter = new ResilientAdapter(
            entry.adapter,
            policy,
            guard,
            listener,
            entry.secrets ?? [],
            unmappedError && ((error) => unmappedError(id, error)),
          );
          entry.circuit = () => guard.circuit;
          entry.refusing = () => guard.refusing;
        }
        entries.push(entry);
      }
      return new ProviderRuntime(new ProviderRegistry(entries), sandboxes);
    } catch (error) {
      await Promise.allSettled(sandboxes.map((s) => s.close()));
      throw error;
    }
  }

  private static async entry(
    id: ProviderId,
    config: AppConfig,
    sandboxes: FastifyInstance[],
    events: ProviderEvents,
  ): Promise<ProviderEntry> {
    const providerConfig = config.providers[id];
    const definition: ProviderDefinition = PROVIDER_DEFINITIONS[id];
    const base = { id, name: definition.name, mode: providerConfig.mode };
    if (providerConfig.mode === 'disabled') return base;
    let endpoint: ProviderEndpoint<object>;
    if (providerConfig.mode === 'live') {
      endpoint = {
        mode: 'live',
        baseUrl: providerConfig.baseUrl!,
        timeoutMs: providerConfig.timeoutMs,
        settings: providerConfig.settings ?? {},
      };
    } else {
      const { create, settings: sandboxSettings } = await definition.loadSandbox();
      const sandbox = create();
      sandboxes.push(sandbox);
      const baseUrl = await listenOnLoopback(sandbox);
      // Options the sandbox serves too (e.g. PISMO_ACCOUNT_API) come from the configuration.
      const settings = { ...sandboxSettings, ...providerConfig.settings };
      endpoint = { mode: 'sandbox', baseUrl, timeoutMs: providerConfig.timeoutMs, settings };
    }
    const secrets = secretValues(
      definition.settings.fields as Record<string, SettingSpec>,
      endpoint.settings,
    );
    const { tokenMinted } = events;
    if (tokenMinted)
      endpoint.observer = { tokenMinted: (reason, ok) => tokenMinted({ provider: id, reason, ok }) };
    return { ...base, baseUrl: endpoint.baseUrl, adapter: definition.createAdapter(endpoint), secrets };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sandboxes.map((s) => s.close()));
  }
}

/** The values of the fields the provider's schema marks secret, to mask wherever a provider echoes them. */
function secretValues(fields: Record<string, SettingSpec>, settings: object): string[] {
  const values = settings as Record<string, unknown>;
  return Object.keys(fields)
    .filter((field) => fields[field]?.secret)
    .map((field) => values[field])
    .filter((value): value is string => typeof value === 'string' && value !== '');
}
