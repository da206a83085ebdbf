/** The two JSON-list variables: API_KEYS (callers and their scopes) and WEBHOOKS (subscribers). */
import { createHash } from 'node:crypto';
import { EVENT_TYPES, type EventType } from '../events/cloud-events.js';
import { ConfigError } from './env-readers.js';

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

export function parseApiKeys(raw: string | undefined): ApiKeyEntry[] {
  return entriesOf('API_KEYS', raw, ['id', 'key', 'sha256', 'scopes']).map(({ entry, id, where }) => {
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

export function parseWebhooks(raw: string | undefined): WebhookSubscriber[] {
  return entriesOf('WEBHOOKS', raw, ['id', 'url', 'secret', 'types']).map(({ entry, id, where }) => {
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

/**
 * The objects of a JSON array variable, each with only `fields` and a unique `id` of 1-64 letters,
 * digits, . _ : - (`where` names the entry in refusals).
 */
function entriesOf(
  variable: string,
  raw: string | undefined,
  fields: readonly string[],
): { entry: Record<string, unknown>; id: string; where: string }[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new ConfigError(variable, 'must be a JSON array');
  const seen = new Set<string>();
  return parsed.map((item: unknown, index) => {
    const where = `entry ${index}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new ConfigError(variable, `${where} must be an object`);
    const entry = item as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((k) => !fields.includes(k));
    if (unknown.length) throw new ConfigError(variable, `${where} has unknown field ${unknown.join(', ')}`);
    if (typeof entry.id !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(entry.id)) {
      throw new ConfigError(variable, `${where} needs an id of 1-64 letters, digits, . _ : -`);
    }
    const id = entry.id;
    if (seen.has(id)) throw new ConfigError(variable, `${where} repeats id "${id}"`);
    seen.add(id);
    return { entry, id, where };
  });
}
