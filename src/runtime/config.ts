/**
 * The application's configuration with every provider's settings schema composed in: the one place
 * config/ (which knows no provider) meets the provider registrations.
 */
import {
  loadConfig as loadConfigWith,
  type AppConfig,
  type Env,
  type ProviderSchemas,
} from '../config/config.js';
import { PROVIDER_IDS } from '../domain/index.js';
import { PROVIDER_DEFINITIONS } from '../providers/definitions.js';

const PROVIDER_SCHEMAS = Object.fromEntries(
  PROVIDER_IDS.map((id) => [id, PROVIDER_DEFINITIONS[id].settings]),
) as ProviderSchemas;

export function loadConfig(env: Env): AppConfig {
  return loadConfigWith(env, PROVIDER_SCHEMAS);
}
