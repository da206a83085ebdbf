/**
 * The gateway's configuration: read once from the environment, validated, frozen, and injected
 * typed. This is the only module that reads `process.env` (main.ts passes it in).
 */
import {
  PROVIDER_IDS,
  SettingError,
  type ProviderId,
  type ProviderMode,
  type SettingSpec,
  type SettingsSchema,
} from '../domain/index.js';
import {
  ConfigError,
  baseUrl,
  bool,
  databaseUrl,
  int,
  oneOf,
  reconcileInterval,
  setting,
  type Env,
} from './env-readers.js';
import { parseApiKeys, parseWebhooks, type ApiKeyEntry, type WebhookSubscriber } from './json-lists.js';

// Importers take everything configuration from here.
export { ConfigError, type Env } from './env-readers.js';
export { API_SCOPES, type ApiKeyEntry, type ApiScope, type WebhookSubscriber } from './json-lists.js';

export interface ProviderConfig<Id extends ProviderId = ProviderId> {
  id: Id;
  mode: ProviderMode;
  /** Set for live providers; sandbox URLs are known only once the sandbox listens. */
  baseUrl?: string;
  timeoutMs: number;
  /**
   * As the provider's schema reads them: every field in live mode; in sandbox mode only the fields
   * marked `sandbox` (options the sandbox serves); undefined when disabled.
   */
  settings?: object;
}

export type ProvidersConfig = { [Id in ProviderId]: ProviderConfig<Id> };

/** Each provider's settings schema, declared in its own folder and gathered by the composition root. */
export type ProviderSchemas = { readonly [Id in ProviderId]: SettingsSchema<object> };

export interface AppConfig {
  nodeEnv: string;
  port: number;
  host: string;
  logLevel: string;
  databaseUrl: string;
  apiKeys: ApiKeyEntry[];
  authDisabled: boolean;
  /** True when caller authentication is enforced. */
  authEnabled: boolean;
  sandbox: boolean;
  rateLimitPerMinute: number;
  /** Retries toward providers: attempts in all (1 = none) and the time budget of one call's attempts. */
  retry: { maxAttempts: number; budgetMs: number };
  /** Circuit breaker and bulkhead per provider. */
  guard: { failureThreshold: number; halfOpenAfterMs: number; maxConcurrent: number; maxQueue: number };
  /** How long a SIGTERM waits for in-flight requests before the process exits anyway. */
  drainTimeoutMs: number;
  /** The drift watch (CONTRACT §8): every `intervalMs` (0 = off), accounts applied within `windowDays`. */
  reconcile: { intervalMs: number; windowDays: number; readsPerMinute: number };
  /** Subscribers receiving every event by HTTP POST (CONTRACT §7). */
  webhooks: WebhookSubscriber[];
  /** How long events stay in the feed. */
  eventRetentionDays: number;
  providers: ProvidersConfig;
  /** Start-up warnings to log once the logger exists. */
  warnings: string[];
}

export const APP_CONFIG = Symbol('APP_CONFIG');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Hand-written rather than zod/env-schema: the variables are few, flat strings, and every refusal must
 * be one line naming the variable with the provider's own rule, which a schema library would only wrap.
 * Provider variables come from each provider's schema (`schemas`), so this file names none of them.
 */
export function loadConfig(env: Env, schemas: ProviderSchemas): AppConfig {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const warnings: string[] = [];
  const sandbox = bool(env, 'SANDBOX', nodeEnv !== 'production');
  const providers = Object.fromEntries(
    PROVIDER_IDS.map((id) => [id, provider(env, id, sandbox, schemas[id])]),
  ) as ProvidersConfig;

  const apiKeys = parseApiKeys(env.API_KEYS);
  const authDisabled = bool(env, 'AUTH_DISABLED', false);
  const anyLive = PROVIDER_IDS.some((id) => providers[id].mode === 'live');
  let authEnabled = apiKeys.length > 0 && !authDisabled;
  if (apiKeys.length === 0 && !authDisabled) {
    if (anyLive) {
      throw new ConfigError('API_KEYS', 'is required when any provider is live (or set AUTH_DISABLED=true)');
    }
    warnings.push(
      'Caller authentication is off: no API_KEYS and no live provider (every provider is on its sandbox or disabled)',
    );
  }
  if (authDisabled) {
    authEnabled = false;
    warnings.push('Caller authentication is off: AUTH_DISABLED=true');
  }

  const config: AppConfig = {
    nodeEnv,
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    databaseUrl: databaseUrl(env),
    apiKeys,
    authDisabled,
    authEnabled,
    sandbox,
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 6000, 0, 10_000_000),
    retry: {
      maxAttempts: int(env, 'PROVIDER_MAX_ATTEMPTS', 3, 1, 10),
      budgetMs: int(env, 'PROVIDER_RETRY_BUDGET_MS', 30_000, 100, 600_000),
    },
    guard: {
      failureThreshold: int(env, 'CIRCUIT_FAILURE_THRESHOLD', 5, 1, 1000),
      halfOpenAfterMs: int(env, 'CIRCUIT_HALF_OPEN_AFTER_MS', 10_000, 10, 3_600_000),
      maxConcurrent: int(env, 'PROVIDER_MAX_CONCURRENCY', 64, 1, 10_000),
      maxQueue: int(env, 'PROVIDER_MAX_QUEUE', 256, 0, 100_000),
    },
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 25_000, 0, 600_000),
    reconcile: {
      intervalMs: reconcileInterval(env),
      windowDays: int(env, 'RECONCILE_WINDOW_DAYS', 30, 1, 3650),
      readsPerMinute: int(env, 'RECONCILE_READS_PER_MINUTE', 60, 1, 100_000),
    },
    webhooks: parseWebhooks(env.WEBHOOKS),
    eventRetentionDays: int(env, 'EVENT_RETENTION_DAYS', 30, 1, 3650),
    providers,
    warnings,
  };
  return deepFreeze(config);
}

function provider<Id extends ProviderId>(
  env: Env,
  id: Id,
  sandbox: boolean,
  schema: SettingsSchema<object>,
): ProviderConfig<Id> {
  const prefix = id.toUpperCase();
  const timeoutMs = int(env, `${prefix}_TIMEOUT_MS`, 10_000, 1, 600_000);
  const rawUrl = env[`${prefix}_BASE_URL`]?.trim();
  if (!rawUrl) {
    // Options are checked even when the provider is disabled: a typo should not wait for the day it is enabled.
    const options = providerSettings(env, prefix, schema, false);
    return sandbox
      ? { id, mode: 'sandbox', timeoutMs, settings: options }
      : { id, mode: 'disabled', timeoutMs };
  }
  return {
    id,
    mode: 'live',
    baseUrl: baseUrl(`${prefix}_BASE_URL`, rawUrl),
    timeoutMs,
    settings: providerSettings(env, prefix, schema, true),
  };
}

/** Reads a provider's fields by its schema (in sandbox mode only those marked `sandbox`). */
function providerSettings(env: Env, prefix: string, schema: SettingsSchema<object>, live: boolean): object {
  const raw: Record<string, string | undefined> = {};
  for (const [field, spec] of Object.entries(schema.fields as Record<string, SettingSpec>)) {
    if (live || spec.sandbox) raw[field] = setting(env, `${prefix}_${spec.variable}`, spec, live);
  }
  if (!schema.finish) return raw;
  try {
    return schema.finish(raw, live);
  } catch (error) {
    if (error instanceof SettingError) throw new ConfigError(`${prefix}_${error.variable}`, error.reason);
    throw error;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
