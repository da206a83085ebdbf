import type { ProviderDefinition } from '../provider-definition.js';
import { PismoAdapter } from './pismo.adapter.js';
import { PISMO_SANDBOX_SETTINGS, createPismoSandbox } from './pismo.sandbox.js';
import { PISMO_SETTINGS, type PismoSettings } from './pismo.settings.js';
import { PISMO_PROVIDER } from './pismo.wire.js';

export const pismoProvider: ProviderDefinition<PismoSettings> = {
  ...PISMO_PROVIDER,
  settings: PISMO_SETTINGS,
  createAdapter: (endpoint) => new PismoAdapter(endpoint),
  createSandbox: createPismoSandbox,
  sandboxSettings: PISMO_SANDBOX_SETTINGS,
};
