import type { PismoSettings } from '../../config/provider-settings.js';
import type { ProviderDefinition } from '../provider-definition.js';
import { PismoAdapter } from './pismo.adapter.js';
import { PISMO_SANDBOX_SETTINGS, createPismoSandbox } from './pismo.sandbox.js';

export const pismoProvider: ProviderDefinition<PismoSettings> = {
  id: 'pismo',
  name: 'Pismo',
  createAdapter: (endpoint) => new PismoAdapter(endpoint),
  createSandbox: createPismoSandbox,
  sandboxSettings: PISMO_SANDBOX_SETTINGS,
  // The sandbox serves both account APIs, so PISMO_ACCOUNT_API applies in sandbox mode too.
  sandboxOptions: (config) => ({ accountApi: config.pismoAccountApi }),
};
