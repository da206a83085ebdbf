import type { CanopySettings } from '../../config/provider-settings.js';
import type { ProviderDefinition } from '../provider-definition.js';
import { CanopyAdapter } from './canopy.adapter.js';
import { CANOPY_SANDBOX_SETTINGS, createCanopySandbox } from './canopy.sandbox.js';

export const canopyProvider: ProviderDefinition<CanopySettings> = {
  id: 'canopy',
  name: 'Canopy Servicing',
  createAdapter: (endpoint) => new CanopyAdapter(endpoint),
  createSandbox: createCanopySandbox,
  sandboxSettings: CANOPY_SANDBOX_SETTINGS,
};
