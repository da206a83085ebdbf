import type { CanonicalReason, CanonicalStatus, FieldError } from '../domain/index.js';
import type { ChangeRequest, ProviderMapping, Translation } from './provider-adapter.js';

/**
 * The pure side of an adapter, answered by the mapping it holds: a provider's transformers (HttpAdapter) or
 * the adapter it wraps (ResilientAdapter). `translate`, `isTerminal` and `validate` never call a provider.
 */
export abstract class MappedAdapter implements ProviderMapping {
  constructor(private readonly mapping: ProviderMapping) {}

  translate(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation {
    return this.mapping.translate(status, reason);
  }

  isTerminal(status: CanonicalStatus): boolean {
    return this.mapping.isTerminal(status);
  }

  validate(request: ChangeRequest): FieldError[] {
    return this.mapping.validate(request);
  }
}
