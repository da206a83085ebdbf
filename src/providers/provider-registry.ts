import {
  CANONICAL_REASONS,
  CANONICAL_STATUSES,
  GatewayError,
  PROVIDER_IDS,
  type CanonicalReason,
  type CanonicalStatus,
  type ProviderId,
} from '../domain/index.js';
import type { ProviderAdapter, ProviderMode, ProviderStatusValue } from './provider-adapter.js';

export interface StatusCapability {
  supported: boolean;
  /** The provider value without a reason; null when only some reasons are supported, or unsupported. */
  providerValue: ProviderStatusValue | null;
  /** Present only where the reason changes the value: reason → value, or null when unsupported with it. */
  providerValueByReason?: Partial<Record<CanonicalReason, ProviderStatusValue | null>>;
  terminal: boolean;
}

export interface ProviderEntry {
  id: ProviderId;
  name: string;
  mode: ProviderMode;
  /** Absent when disabled. */
  adapter?: ProviderAdapter;
  baseUrl?: string;
  /** The provider's configured credential values (to mask in echoed error text); absent when disabled. */
  secrets?: string[];
  /** The circuit state of the provider's breaker; absent when disabled. */
  circuit?: () => 'closed' | 'open' | 'half-open';
  /** Whether the breaker would refuse a call now (open, or half-open with its probe out); absent when disabled. */
  refusing?: () => boolean;
}

/** Adapters chosen by provider id; the capability matrix is derived from each adapter's pure translation. */
export class ProviderRegistry {
  private readonly entries: ReadonlyMap<ProviderId, ProviderEntry>;

  constructor(entries: ProviderEntry[]) {
    this.entries = new Map(entries.map((e) => [e.id, e]));
  }

  /** The adapter for a path value; PROVIDER_NOT_FOUND when unknown or disabled. */
  get(id: string): ProviderAdapter {
    const entry = this.entries.get(id as ProviderId);
    if (!entry) {
      throw new GatewayError(
        'PROVIDER_NOT_FOUND',
        `Unknown provider "${id}"; known: ${PROVIDER_IDS.join(', ')}`,
      );
    }
    if (!entry.adapter) {
      throw new GatewayError(
        'PROVIDER_NOT_FOUND',
        `Provider "${id}" is disabled: it has no ${id.toUpperCase()}_BASE_URL and SANDBOX is false`,
      );
    }
    return entry.adapter;
  }

  list(): ProviderEntry[] {
    return PROVIDER_IDS.map((id) => this.entries.get(id)).filter((e): e is ProviderEntry => e !== undefined);
  }

  static capabilities(adapter: ProviderAdapter): Record<CanonicalStatus, StatusCapability> {
    return Object.fromEntries(
      CANONICAL_STATUSES.map((status) => [status, ProviderRegistry.capability(adapter, status)]),
    ) as Record<CanonicalStatus, StatusCapability>;
  }

  /** Statuses the adapter can express with at least one reason (or none), for STATUS_NOT_SUPPORTED bodies. */
  static supportedStatuses(adapter: ProviderAdapter): CanonicalStatus[] {
    return CANONICAL_STATUSES.filter((status) => ProviderRegistry.capability(adapter, status).supported);
  }

  private static capability(adapter: ProviderAdapter, status: CanonicalStatus): StatusCapability {
    const base = adapter.translate(status, undefined);
    const baseValue = base.supported ? base.providerStatus : null;
    const byReason: Partial<Record<CanonicalReason, ProviderStatusValue | null>> = {};
    let reasonMatters = false;
    let anySupported = base.supported;
    for (const reason of CANONICAL_REASONS) {
      const t = adapter.translate(status, reason);
      const value = t.supported ? t.providerStatus : null;
      anySupported ||= t.supported;
      byReason[reason] = value;
      if (JSON.stringify(value) !== JSON.stringify(baseValue)) reasonMatters = true;
    }
    return {
      supported: anySupported,
      providerValue: baseValue,
      ...(reasonMatters ? { providerValueByReason: byReason } : {}),
      terminal: anySupported && adapter.isTerminal(status),
    };
  }
}
