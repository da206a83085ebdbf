import type { ProviderDefinition } from '../provider-definition.js';
import { SpidrAdapter } from './spidr.adapter.js';
import { SPIDR_SETTINGS, type SpidrSettings } from './spidr.settings.js';
import { SPIDR_PROVIDER } from './spidr.wire.js';

export const spidrProvider: ProviderDefinition<SpidrSettings> = {
  ...SPIDR_PROVIDER,
  settings: SPIDR_SETTINGS,
  createAdapter: (endpoint) => new SpidrAdapter(endpoint),
  // Loaded only when the provider runs on its sandbox: a live gateway never loads the simulator.
  loadSandbox: async () => (await import('./spidr.sandbox.js')).spidrSandbox,
};
