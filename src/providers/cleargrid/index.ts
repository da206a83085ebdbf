import type { ClearGridSettings } from '../../config/provider-settings.js';
import type { ProviderDefinition } from '../provider-definition.js';
import { CLEARGRID_ID, CLEARGRID_NAME, ClearGridAdapter } from './cleargrid.adapter.js';
import { CLEARGRID_SANDBOX_SETTINGS, createClearGridSandbox } from './cleargrid.sandbox.js';

export const cleargridProvider: ProviderDefinition<ClearGridSettings> = {
  id: CLEARGRID_ID,
  name: CLEARGRID_NAME,
  createAdapter: (endpoint) => new ClearGridAdapter(endpoint),
  createSandbox: createClearGridSandbox,
  sandboxSettings: CLEARGRID_SANDBOX_SETTINGS,
};
