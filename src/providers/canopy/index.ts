import type { ProviderDefinition } from '../provider-definition.js';
import { CanopyAdapter } from './canopy.adapter.js';
import { CANOPY_SETTINGS, type CanopySettings } from './canopy.settings.js';
import { CANOPY_PROVIDER } from './canopy.wire.js';

export const canopyProvider: ProviderDefinition<CanopySettings> = {
  ...CANOPY_PROVIDER,
  settings: CANOPY_SETTINGS,
  createAdapter: (endpoint) => new CanopyAdapter(endpoint),
  // Loaded only when the provider runs on its sandbox: a live gateway never loads the simulator.
  loadSandbox: async () => (await import('./canopy.sandbox.js')).canopySandbox,
};
