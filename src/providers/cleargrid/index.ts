import type { ProviderDefinition } from '../provider-definition.js';
import { ClearGridAdapter } from './cleargrid.adapter.js';
import { CLEARGRID_SETTINGS, type ClearGridSettings } from './cleargrid.settings.js';
import { CLEARGRID_PROVIDER } from './cleargrid.wire.js';

export const cleargridProvider: ProviderDefinition<ClearGridSettings> = {
  ...CLEARGRID_PROVIDER,
  settings: CLEARGRID_SETTINGS,
  createAdapter: (endpoint) => new ClearGridAdapter(endpoint),
  // Loaded only when the provider runs on its sandbox: a live gateway never loads the simulator.
  loadSandbox: async () => (await import('./cleargrid.sandbox.js')).cleargridSandbox,
};
