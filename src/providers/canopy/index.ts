import type { ProviderDefinition } from '../provider-definition.js';
import { CanopyAdapter } from './canopy.adapter.js';
import { CANOPY_SANDBOX_SETTINGS, createCanopySandbox } from './canopy.sandbox.js';
import { CANOPY_SETTINGS, type CanopySettings } from './canopy.settings.js';
import { CANOPY_PROVIDER } from './canopy.wire.js';

export const canopyProvider: ProviderDefinition<CanopySettings> = {
  ...CANOPY_PROVIDER,
  settings: CANOPY_SETTINGS,
  createAdapter: (endpoint) => new CanopyAdapter(endpoint),
  createSandbox: createCanopySandbox,
  sandboxSettings: CANOPY_SANDBOX_SETTINGS,
};
