/** The one place providers are registered. Adding a provider means adding its definition here. */
import type { ProviderId } from '../domain/index.js';
import { canopyProvider } from './canopy/index.js';
import { cleargridProvider } from './cleargrid/index.js';
import { pismoProvider } from './pismo/index.js';
import type { ProviderDefinition } from './provider-definition.js';
import { spidrProvider } from './spidr/index.js';

export const PROVIDER_DEFINITIONS: { readonly [Id in ProviderId]: ProviderDefinition } = {
  cleargrid: cleargridProvider,
  canopy: canopyProvider,
  pismo: pismoProvider,
  spidr: spidrProvider,
};
