import { Inject, Injectable } from '@nestjs/common';
import { ProviderRegistry, type StatusCapability } from '../providers/provider-registry.js';

export interface ProviderInfo {
  id: string;
  name: string;
  mode: string;
  circuit: 'closed' | 'open' | 'half-open';
  liveRead: boolean;
  statuses: Record<string, StatusCapability>;
}

@Injectable()
export class ProvidersService {
  private readonly matrix: Map<string, Record<string, StatusCapability>>;

  constructor(@Inject(ProviderRegistry) private readonly registry: ProviderRegistry) {
    // Pure translation tables do not change at run time: compute the matrix once.
    this.matrix = new Map(
      registry.list().map((e) => [e.id, e.adapter ? ProviderRegistry.capabilities(e.adapter) : {}]),
    );
  }

  list(): { items: ProviderInfo[] } {
    return {
      items: this.registry.list().map((entry) => ({
        id: entry.id,
        name: entry.name,
        mode: entry.mode,
        circuit: entry.circuit?.() ?? 'closed',
        liveRead: entry.adapter?.liveRead ?? false,
        statuses: this.matrix.get(entry.id) ?? {},
      })),
    };
  }
}
