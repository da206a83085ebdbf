/** API keys for suites that start a gateway with API_KEYS. */
import type { ApiScope } from '../../src/config/json-lists.js';

/** Every status scope: read, write and close (the events feed has a scope of its own). */
export const STATUS_SCOPES: readonly ApiScope[] = ['status:read', 'status:write', 'status:close'];

/** One API_KEYS entry with a plain key; every status scope unless `scopes` says otherwise. */
export function testApiKey(
  id: string,
  key: string,
  scopes: readonly ApiScope[] = STATUS_SCOPES,
): { id: string; key: string; scopes: ApiScope[] } {
  return { id, key, scopes: [...scopes] };
}
