/** Readers of single environment variables: each refusal is one ConfigError naming the variable. */
import type { SettingSpec } from '../domain/index.js';

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

export function setting(env: Env, variable: string, spec: SettingSpec, live: boolean): string | undefined {
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

export function baseUrl(variable: string, raw: string): string {
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

export function bool(env: Env, variable: string, fallback: boolean): boolean {
  const raw = env[variable]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(variable, `must be true or false, got "${env[variable]}"`);
}

export function int(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(variable, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(variable, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** 0 turns the watch off; below 100 ms it would only query the database in a loop. */
export function reconcileInterval(env: Env): number {
  const value = int(env, 'RECONCILE_INTERVAL_MS', 60_000, 0, 86_400_000);
  if (value !== 0 && value < 100)
    throw new ConfigError('RECONCILE_INTERVAL_MS', `must be 0 (off) or at least 100, got ${value}`);
  return value;
}

export function oneOf(env: Env, variable: string, allowed: string[], fallback: string): string {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw))
    throw new ConfigError(variable, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
}

export function databaseUrl(env: Env): string {
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
  // The writer thread opens the file with a connection of its own; two connections cannot share memory.
  if (raw === 'sqlite::memory:')
    throw new ConfigError('DATABASE_URL', 'must name a file: sqlite::memory: is not supported');
  if (/^sqlite:.+/.test(raw)) return raw;
  throw new ConfigError('DATABASE_URL', 'must be postgres://… or sqlite:<path>');
}
