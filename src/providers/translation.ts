import { GatewayError } from '../domain/index.js';
import type { ChangeRequest, ProviderAdapter, TranslatedChange } from './provider-adapter.js';
import { ProviderRegistry } from './provider-registry.js';

/**
 * The one translation of a change request (canonical status + reason → the provider's value), made once
 * per request before anything is prepared or sent, and the one place STATUS_NOT_SUPPORTED is raised, with
 * the statuses the provider can express. Adapters receive the translated value and never translate.
 */
export function translateChange(adapter: ProviderAdapter, request: ChangeRequest): TranslatedChange {
  const translation = adapter.translate(request.status, request.reason);
  if (!translation.supported) {
    throw new GatewayError('STATUS_NOT_SUPPORTED', translation.why, {
      extensions: { supportedStatuses: ProviderRegistry.supportedStatuses(adapter) },
    });
  }
  return { request, providerStatus: translation.providerStatus };
}
