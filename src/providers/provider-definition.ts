import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/config.js';
import type { ProviderId } from '../domain/index.js';
import type { ProviderAdapter, ProviderEndpoint } from './provider-adapter.js';

/**
 * Everything the registry needs to know about one provider: how to build its adapter for an
 * endpoint, and how to build its built-in sandbox with the credentials that sandbox accepts.
 * `Settings` holds the provider's credentials and options (see config/provider-settings.ts).
 */
export interface ProviderDefinition<Settings = Record<string, unknown>> {
  id: ProviderId;
  name: string;
  createAdapter(endpoint: ProviderEndpoint<Settings>): ProviderAdapter;
  createSandbox(): FastifyInstance;
  /** Credentials the sandbox accepts; used when the provider runs on its sandbox. */
  sandboxSettings: Settings;
  /** Options from the configuration that apply in sandbox mode too (e.g. Pismo's account API). */
  sandboxOptions?(config: AppConfig): Partial<Settings>;
}
