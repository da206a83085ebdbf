/** Security fuzzing: the contract vocabulary and the provider paths a request may cause (moved from test/security-fuzz.e2e-spec.ts). */
import { CANONICAL_REASONS, CANONICAL_STATUSES } from '../../../src/domain/vocabulary.js';
import { stats } from './raw-http.js';
// ---------------------------------------------------------------------------------------------------
// Contract vocabulary (CONTRACT.md sections 2 and 3) and the provider paths of section 5 / the README.
// ---------------------------------------------------------------------------------------------------

export const PROVIDERS = ['spidr', 'canopy', 'pismo', 'cleargrid'] as const;
export type Provider = (typeof PROVIDERS)[number];
// The vocabulary itself is imported (issue 12: retyped in three places); the oracle below stays independent.
export const STATUSES: string[] = [...CANONICAL_STATUSES];
export const REASONS: string[] = [...CANONICAL_REASONS];
export const BODY_FIELDS = ['status', 'reason', 'customerId', 'note', 'providerOptions'];
export const OPTION_KEYS: Record<Provider, string[]> = {
  spidr: ['ztmSessionKey', 'bypassZtm'],
  pismo: ['updateChildren', 'reasonExternalId', 'metadata'],
  canopy: [],
  cleargrid: [],
};
/** README: ids are 1–128 of A-Z a-z 0-9 . _ ~ : @ + -, starting with a letter or digit. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,127}$/;
/** Sandbox magic prefixes (README "The sandboxes"): never used, so every 5xx is the gateway's own. */
export const MAGIC =
  /^(NOTFOUND|CLOSED|ERROR500|SLOW\d*|AUTHEXPIRED|RATELIMIT|REJECT|TRANSITION|FORBIDDEN|DORMANT|ZTM)-/;
export const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Token and login endpoints, allowed on any request that reached a provider adapter. */
export const TOKEN_CALLS: Record<Provider, RegExp[]> = {
  spidr: [],
  canopy: [/^POST \/auth\/token$/],
  pismo: [/^POST \/passport\/v2\/s2s\/access-token$/],
  cleargrid: [/^POST \/admin\/auth\/[A-Za-z0-9._~%-]+\/(login|refresh-token)$/],
};
/** A header name planted by CR/LF injection attempts; it must never surface anywhere. */
export const INJECTED = 'x-fuzz-injected';
export const STACK_TRACE = /\bat .+\(.*:\d+:\d+\)|node_modules|\.(ts|js):\d+:\d+/;

export type Op = 'write' | 'read';
export interface Target {
  provider: Provider;
  id: string;
  op: Op;
}

export const enc = encodeURIComponent;

export function writeCall(provider: Provider, id: string, status: unknown): RegExp | undefined {
  const e = escapeRegExp(enc(id));
  switch (provider) {
    case 'spidr':
      return new RegExp(`^PATCH /v1/account/${e}$`);
    case 'canopy':
      return new RegExp(`^PUT /accounts/${e}/status$`);
    case 'pismo':
      return new RegExp(`^PATCH /corporate/v2/corporate-accounts/${e}/status$`);
    case 'cleargrid':
      if (status === 'CLOSED') return new RegExp(`^POST /admin/v3/lenders/${UUID}/accounts$`);
      if (status === 'DISPUTED' || status === 'DO_NOT_CONTACT')
        return new RegExp(`^POST /admin/v3/lenders/${UUID}/accounts/update-status$`);
      return undefined;
  }
}

export function readCall(provider: Provider, id: string): RegExp | undefined {
  const e = escapeRegExp(enc(id));
  switch (provider) {
    case 'spidr':
      return new RegExp(`^GET /v1/account/${e}$`);
    case 'canopy':
      return new RegExp(`^GET /accounts/${e}$`);
    case 'pismo':
      return new RegExp(`^GET /corporate/v1/corporate-accounts/${e}$`);
    case 'cleargrid':
      return undefined; // no read endpoint: the gateway answers from its own records
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function safeSearchParams(query: string): URLSearchParams | undefined {
  try {
    return new URLSearchParams(query);
  } catch {
    return undefined;
  }
}

export function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The one account operation a request line may legitimately cause, derived independently of the gateway:
 * `/v1/accounts/{provider}/{accountId}/status` with a known provider and a valid (decoded) id. A path with
 * any byte outside visible ASCII, or of another shape, must reach no provider at all.
 */
export function targetOf(method: string, path: string): Target | undefined {
  const route = accountRouteOf(path);
  if (route?.route !== 'status') return undefined;
  const op: Op | undefined =
    method === 'PUT' ? 'write' : method === 'GET' || method === 'HEAD' ? 'read' : undefined;
  return op ? { provider: route.provider, id: route.id, op } : undefined;
}

/** `/v1/accounts/{provider}/{accountId}/(status|history)` with a known provider and a valid id, else undefined. */
export function accountRouteOf(path: string): { provider: Provider; id: string; route: string } | undefined {
  if (!/^[\x21-\x7e]*$/.test(path)) return undefined;
  const pathPart = path.split('?')[0].split('#')[0];
  const segments = pathPart.split('/');
  if (segments.length !== 6 || segments[0] !== '') return undefined;
  const [, v1, accounts, p, a, last] = segments.map((s) => safeDecode(s));
  if (v1 !== 'v1' || accounts !== 'accounts' || (last !== 'status' && last !== 'history')) return undefined;
  if (!PROVIDERS.includes(p as Provider) || a === undefined || !ID_PATTERN.test(a)) return undefined;
  return { provider: p as Provider, id: a, route: last };
}

/**
 * A necessary condition for a change to reach a provider: a JSON object with known fields of the right
 * types (class-validator's IsOptional lets null through), providerOptions within the provider's keys.
 */
export function validChangeBody(
  provider: Provider,
  text: string | undefined,
): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text.replace(/^\ufeff/, ''));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = withoutDroppedKeys(body as Record<string, unknown>);
  const has = (k: string) => record[k] !== undefined && record[k] !== null;
  if (Object.keys(record).some((k) => !BODY_FIELDS.includes(k))) return undefined;
  if (!STATUSES.includes(record.status as string)) return undefined;
  if (has('reason') && !REASONS.includes(record.reason as string)) return undefined;
  if (has('customerId') && !(typeof record.customerId === 'string' && ID_PATTERN.test(record.customerId)))
    return undefined;
  if (has('note') && typeof record.note !== 'string') return undefined;
  if (has('providerOptions')) {
    if (typeof record.providerOptions !== 'object' || Array.isArray(record.providerOptions)) return undefined;
    const options = withoutDroppedKeys(record.providerOptions as Record<string, unknown>);
    if (Object.keys(options).some((k) => !OPTION_KEYS[provider].includes(k))) return undefined;
  }
  return record;
}

/**
 * Known gateway bug (asserted on its own: "refuses unknown fields named like Object.prototype members"):
 * keys such as `toString`, `constructor` or `prototype` are silently dropped before validation, so the
 * whitelist never sees them. The fuzz oracle mirrors that, so the properties keep checking everything else.
 */
export function isDroppedKey(key: string): boolean {
  if (key === 'prototype') return true; // also dropped (Nest's ValidationPipe strips "proto" keys)
  return key !== '__proto__' && typeof (Object.prototype as Record<string, unknown>)[key] === 'function';
}

export function withoutDroppedKeys(record: Record<string, unknown>): Record<string, unknown> {
  const kept = Object.entries(record).filter(([k]) => !isDroppedKey(k));
  if (kept.length !== Object.keys(record).length) stats.bodiesWithDroppedKeys += 1;
  return Object.fromEntries(kept);
}
