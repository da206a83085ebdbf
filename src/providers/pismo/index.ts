import type { ProviderDefinition } from '../provider-definition.js';
import { PismoAdapter } from './pismo.adapter.js';
import { PISMO_SETTINGS, type PismoSettings } from './pismo.settings.js';
import { PISMO_PROVIDER } from './pismo.wire.js';

export const pismoProvider: ProviderDefinition<PismoSettings> = {
  ...PISMO_PROVIDER,
  settings: PISMO_SETTINGS,
  createAdapter: (endpoint) => new PismoAdapter(endpoint),
  // Loaded only when the provider runs on its sandbox: a live gateway never loads the simulator.
  loadSandbox: async () => (await import('./pismo.sandbox.js')).pismoSandbox,
};
