import type { FastifyInstance } from 'fastify';
import type { ProviderId, SettingsSchema } from '../domain/index.js';
import type { ProviderAdapter, ProviderEndpoint } from './provider-adapter.js';

/**
 * Everything the application needs to know about one provider, declared in the provider's own folder
 * (`index.ts`): its id and name, its settings schema, how to build its adapter for an endpoint, and
 * how to build its built-in sandbox with the credentials that sandbox accepts.
 */
export interface ProviderDefinition<Settings extends object = object> {
  id: ProviderId;
  name: string;
  /** The `<ID>_…` variables, defaults, validation and which are secrets (config/ composes them). */
  settings: SettingsSchema<Settings>;
  createAdapter(endpoint: ProviderEndpoint<Settings>): ProviderAdapter;
  /** The built-in sandbox, imported on demand (only when the provider runs on it). */
  loadSandbox(): Promise<ProviderSandbox<Settings>>;
}

export interface ProviderSandbox<Settings extends object = object> {
  create(): FastifyInstance;
  /** Credentials the sandbox accepts; used when the provider runs on its sandbox. */
  settings: Settings;
}
