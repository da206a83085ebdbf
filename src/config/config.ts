/**
 * The gateway's configuration: read once from the environment, validated, frozen, and injected
 * typed. This is the only module that reads `process.env` (main.ts passes it in).
 */
import { createHash } from 'node:crypto';
import { EVENT_TYPES, type EventType } from '../events/cloud-events.js';
import {
  PROVIDER_IDS,
  SettingError,
  type ProviderId,
  type ProviderMode,
  type SettingSpec,
  type SettingsSchema,
} from '../domain/index.js';

export const API_SCOPES = ['status:read', 'status:write', 'status:close', 'events:read'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiKeyEntry {
  id: string;
  /** Lower-case hex SHA-256 of the key; plain keys are hashed at load so only hashes are kept. */
  sha256: string;
  scopes: ApiScope[];
}

/** One webhook subscriber (CONTRACT §7). */
export interface WebhookSubscriber {
  id: string;
  url: string;
  /** The HMAC key, base64 (the part of `whsec_…` after the prefix); a string so the config can be frozen. */
  keyBase64: string;
  /** Only these event types; undefined: every type. */
  types?: EventType[];
}

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

export type Env = Record<string, string | undefined>;

/** A configuration error: the message is one line that names the variable and the reason. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

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

function setting(env: Env, variable: string, spec: SettingSpec, live: boolean): string | undefined {
  const value = env[variable]?.trim();
  if (!value) {
    if (spec.default !== undefined || spec.optional || !live) return spec.default;
    throw new ConfigError(variable, 'is required when the provider has a base URL');
  }
  if (spec.oneOf && !spec.oneOf.includes(value)) {
    throw new ConfigError(variable, `must be one of ${spec.oneOf.join(', ')}, got "${value}"`);
  }
  if (spec.pattern && !spec.pattern.test(value)) throw new ConfigError(variable, spec.rule ?? 'is malformed');
  return value;
}

function baseUrl(variable: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, `is not a URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(variable, 'must be http(s)');
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(variable, 'must be a host root without query, fragment or credentials');
  }
  return url.toString().replace(/\/+$/, '');
}

function bool(env: Env, variable: string, fallback: boolean): boolean {
  const raw = env[variable]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(variable, `must be true or false, got "${env[variable]}"`);
}

function int(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(variable, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(variable, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** 0 turns the watch off; below 100 ms it would only query the database in a loop. */
function reconcileInterval(env: Env): number {
  const value = int(env, 'RECONCILE_INTERVAL_MS', 60_000, 0, 86_400_000);
  if (value !== 0 && value < 100)
    throw new ConfigError('RECONCILE_INTERVAL_MS', `must be 0 (off) or at least 100, got ${value}`);
  return value;
}

function oneOf(env: Env, variable: string, allowed: string[], fallback: string): string {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw))
    throw new ConfigError(variable, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
}

function databaseUrl(env: Env): string {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return 'sqlite:./data/gateway.sqlite';
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return raw;
  }
  if (/^sqlite:.+/.test(raw)) return raw;
  throw new ConfigError('DATABASE_URL', 'must be postgres://… or sqlite:<path>');
}

function parseApiKeys(raw: string | undefined): ApiKeyEntry[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('API_KEYS', 'is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new ConfigError('API_KEYS', 'must be a JSON array');
  const seen = new Set<string>();
  return parsed.map((item: unknown, index) => {
    const where = `entry ${index}`;
    if (typeof item !== 'object' || item === null)
      throw new ConfigError('API_KEYS', `${where} must be an object`);
    const entry = item as Record<string, unknown>;
    const known = new Set(['id', 'key', 'sha256', 'scopes']);
    const unknown = Object.keys(entry).filter((k) => !known.has(k));
    if (unknown.length) throw new ConfigError('API_KEYS', `${where} has unknown field ${unknown.join(', ')}`);
    if (typeof entry.id !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(entry.id)) {
      throw new ConfigError('API_KEYS', `${where} needs an id of 1-64 letters, digits, . _ : -`);
    }
    const id: string = entry.id;
    if (seen.has(id)) throw new ConfigError('API_KEYS', `${where} repeats id "${id}"`);
    seen.add(id);
    const hasKey = typeof entry.key === 'string';
    const hasHash = typeof entry.sha256 === 'string';
    if (hasKey === hasHash)
      throw new ConfigError('API_KEYS', `${where} ("${id}") needs exactly one of key or sha256`);
    let sha256: string;
    if (hasKey) {
      const key = entry.key as string;
      if (key.length < 16)
        throw new ConfigError('API_KEYS', `${where} ("${id}") key must be at least 16 characters`);
      sha256 = createHash('sha256').update(key).digest('hex');
    } else {
      sha256 = entry.sha256 as string;
      if (!/^[0-9a-f]{64}$/.test(sha256)) {
        throw new ConfigError('API_KEYS', `${where} ("${id}") sha256 must be 64 lower-case hex digits`);
      }
    }
    if (!Array.isArray(entry.scopes) || entry.scopes.length === 0) {
      throw new ConfigError('API_KEYS', `${where} ("${id}") needs a non-empty scopes array`);
    }
    const scopes = entry.scopes.map((scope: unknown) => {
      if (typeof scope !== 'string' || !(API_SCOPES as readonly string[]).includes(scope)) {
        throw new ConfigError(
          'API_KEYS',
          `${where} ("${id}") has unknown scope ${String(JSON.stringify(scope))}`,
        );
      }
      return scope as ApiScope;
    });
    return { id, sha256, scopes };
  });
}

/** Standard Webhooks: a secret is `whsec_` + base64 of the key; the gateway wants at least 24 bytes of key. */
const MIN_SECRET_BYTES = 24;

function parseWebhooks(raw: string | undefined): WebhookSubscriber[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('WEBHOOKS', 'is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new ConfigError('WEBHOOKS', 'must be a JSON array');
  const seen = new Set<string>();
  return parsed.map((item: unknown, index) => {
    const where = `entry ${index}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new ConfigError('WEBHOOKS', `${where} must be an object`);
    const entry = item as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((k) => !['id', 'url', 'secret', 'types'].includes(k));
    if (unknown.length) throw new ConfigError('WEBHOOKS', `${where} has unknown field ${unknown.join(', ')}`);
    if (typeof entry.id !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(entry.id)) {
      throw new ConfigError('WEBHOOKS', `${where} needs an id of 1-64 letters, digits, . _ : -`);
    }
    const id = entry.id;
    if (seen.has(id)) throw new ConfigError('WEBHOOKS', `${where} repeats id "${id}"`);
    seen.add(id);
    let url: URL;
    try {
      url = new URL(typeof entry.url === 'string' ? entry.url : '');
    } catch {
      throw new ConfigError('WEBHOOKS', `${where} ("${id}") url is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError('WEBHOOKS', `${where} ("${id}") url must be http(s)`);
    if (url.hash) throw new ConfigError('WEBHOOKS', `${where} ("${id}") url must have no fragment`);
    const secret = typeof entry.secret === 'string' ? entry.secret : '';
    const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
    // The secret itself is never quoted in the message.
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
      throw new ConfigError('WEBHOOKS', `${where} ("${id}") secret must be whsec_ followed by base64`);
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length < MIN_SECRET_BYTES) {
      throw new ConfigError(
        'WEBHOOKS',
        `${where} ("${id}") secret is too short: its key must be at least ${MIN_SECRET_BYTES} bytes, got ${key.length}`,
      );
    }
    let types: EventType[] | undefined;
    if (entry.types !== undefined) {
      if (!Array.isArray(entry.types) || entry.types.length === 0)
        throw new ConfigError('WEBHOOKS', `${where} ("${id}") types must be a non-empty array`);
      types = entry.types.map((type: unknown) => {
        if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
          throw new ConfigError(
            'WEBHOOKS',
            `${where} ("${id}") has unknown type ${String(JSON.stringify(type))}; types are ${EVENT_TYPES.join(', ')}`,
          );
        }
        return type as EventType;
      });
    }
    return { id, url: url.toString(), keyBase64: encoded, types };
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
