import type { ProviderDefinition } from '../provider-definition.js';
import { SpidrAdapter } from './spidr.adapter.js';
import { SPIDR_SANDBOX_SETTINGS, createSpidrSandbox } from './spidr.sandbox.js';
import { SPIDR_SETTINGS, type SpidrSettings } from './spidr.settings.js';
import { SPIDR_PROVIDER } from './spidr.wire.js';

export const spidrProvider: ProviderDefinition<SpidrSettings> = {
  ...SPIDR_PROVIDER,
  settings: SPIDR_SETTINGS,
  createAdapter: (endpoint) => new SpidrAdapter(endpoint),
  createSandbox: createSpidrSandbox,
  sandboxSettings: SPIDR_SANDBOX_SETTINGS,
};
