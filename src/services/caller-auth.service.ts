import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type ApiScope, type AppConfig } from '../config/config.js';
import { GatewayError } from '../domain/index.js';

export interface Caller {
  id: string;
  scopes: ReadonlySet<ApiScope>;
}

const ALL_SCOPES: ReadonlySet<ApiScope> = new Set([
  'status:read',
  'status:write',
  'status:close',
  'events:read',
]);
export const ANONYMOUS: Caller = { id: 'anonymous', scopes: ALL_SCOPES };

/** Finds the caller behind an API key and checks scopes. Keys are compared as SHA-256 digests in constant time. */
@Injectable()
export class CallerAuthService {
  private readonly keys: Array<{ id: string; digest: Buffer; scopes: ReadonlySet<ApiScope> }>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.keys = config.apiKeys.map((k) => ({
      id: k.id,
      digest: Buffer.from(k.sha256, 'hex'),
      scopes: new Set(k.scopes),
    }));
  }

  get enabled(): boolean {
    return this.config.authEnabled;
  }

  /**
   * The key from `X-API-Key` or `Authorization: Bearer`; undefined when neither is present. The bearer
   * token must be printable ASCII (RFC 6750), and a request with more than one Authorization header is
   * refused (Node keeps only the first, which would let a valid first header hide a second).
   */
  static keyFrom(
    headers: Record<string, string | string[] | undefined>,
    rawHeaders: string[] = [],
  ): string | undefined {
    const authorizations = rawHeaders.filter(
      (name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization',
    );
    if (authorizations.length > 1) throw new GatewayError('UNAUTHENTICATED', 'Send one Authorization header');
    const apiKey = headers['x-api-key'];
    const bearer = CallerAuthService.bearerFrom(headers.authorization);
    if (typeof apiKey === 'string' && apiKey !== '') {
      // Two different keys in one request: refuse rather than let one silently win (issue 14).
      if (bearer !== undefined && bearer !== apiKey) {
        throw new GatewayError(
          'UNAUTHENTICATED',
          'X-API-Key and Authorization: Bearer carry different keys; send one',
        );
      }
      return apiKey;
    }
    return bearer;
  }

  private static bearerFrom(authorization: string | string[] | undefined): string | undefined {
    if (typeof authorization !== 'string') return undefined;
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
    if (match) return match[1];
    if (authorization !== '') {
      throw new GatewayError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <API key>"');
    }
    return undefined;
  }

  authenticate(key: string | undefined): Caller {
    if (!this.enabled) return ANONYMOUS;
    if (key === undefined) {
      throw new GatewayError('UNAUTHENTICATED', 'Send an API key as X-API-Key or Authorization: Bearer');
    }
    const digest = createHash('sha256').update(key).digest();
    let found: Caller | undefined;
    // Compare against every key, without stopping early, so timing says nothing about which matched.
    for (const entry of this.keys) {
      if (timingSafeEqual(digest, entry.digest) && !found) found = { id: entry.id, scopes: entry.scopes };
    }
    if (!found) throw new GatewayError('UNAUTHENTICATED', 'The API key is not known');
    return found;
  }

  static require(caller: Caller, scope: ApiScope, why: string): void {
    if (!caller.scopes.has(scope)) {
      throw new GatewayError('FORBIDDEN', `API key "${caller.id}" lacks scope ${scope}, needed ${why}`, {
        extensions: { requiredScope: scope },
      });
    }
  }
}
