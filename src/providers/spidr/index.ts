import type { SpidrSettings } from '../../config/provider-settings.js';
import type { ProviderDefinition } from '../provider-definition.js';
import { SpidrAdapter } from './spidr.adapter.js';
import { SPIDR_SANDBOX_SETTINGS, createSpidrSandbox } from './spidr.sandbox.js';

export const spidrProvider: ProviderDefinition<SpidrSettings> = {
  id: 'spidr',
  name: 'Spidr',
  createAdapter: (endpoint) => new SpidrAdapter(endpoint),
  createSandbox: createSpidrSandbox,
  sandboxSettings: SPIDR_SANDBOX_SETTINGS,
};
