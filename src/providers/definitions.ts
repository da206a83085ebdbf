/** The one place providers are registered. Adding a provider means adding its definition here. */
import type { ProviderId } from '../domain/index.js';
import type { ProviderSettingsMap } from '../config/provider-settings.js';
import { canopyProvider } from './canopy/index.js';
import { cleargridProvider } from './cleargrid/index.js';
import { pismoProvider } from './pismo/index.js';
import { spidrProvider } from './spidr/index.js';
import type { ProviderDefinition } from './provider-definition.js';

export const PROVIDER_DEFINITIONS: { [Id in ProviderId]: ProviderDefinition<ProviderSettingsMap[Id]> } = {
  cleargrid: cleargridProvider,
  canopy: canopyProvider,
  pismo: pismoProvider,
  spidr: spidrProvider,
};
