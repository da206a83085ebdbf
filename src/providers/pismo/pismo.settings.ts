/** Pismo's settings (CONTRACT.md section 1): the variables after `PISMO_`. */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SettingError, type SettingsSchema } from '../../domain/index.js';
import { PISMO_TOKEN_BINDING, type PismoAuth } from './pismo.wire.js';

export type PismoAccountApi = 'corporate' | 'accounts';

export interface PismoSettings {
  /** s2s only. */
  serverKey?: string;
  serverSecret?: string;
  accountApi: PismoAccountApi;
  /** Unset: the account API's default (PISMO_TOKEN_BINDING in pismo.wire.ts). */
  auth?: PismoAuth;
  /** OpenID only: the tenant, the PEM of the RSA signing key, and the `iss`/`aud` claims. */
  tenantId?: string;
  privateKey?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
}

export const PISMO_SETTINGS: SettingsSchema<PismoSettings> = {
  fields: {
    serverKey: { variable: 'SERVER_KEY', secret: true, optional: true },
    serverSecret: { variable: 'SERVER_SECRET', secret: true, optional: true },
    // The sandbox serves both account APIs and both token flows, so these two apply in sandbox mode too.
    accountApi: {
      variable: 'ACCOUNT_API',
      oneOf: ['corporate', 'accounts'],
      default: 'corporate',
      sandbox: true,
    },
    auth: { variable: 'AUTH', oneOf: ['openid', 's2s'], optional: true, sandbox: true },
    tenantId: { variable: 'TENANT_ID', optional: true },
    privateKey: { variable: 'PRIVATE_KEY', secret: true, optional: true },
    jwtIssuer: { variable: 'JWT_ISSUER', optional: true },
    jwtAudience: { variable: 'JWT_AUDIENCE', optional: true },
  },
  finish(raw, live) {
    const accountApi = (raw.accountApi ?? 'corporate') as PismoAccountApi;
    const auth = (raw.auth as PismoAuth | undefined) ?? PISMO_TOKEN_BINDING[accountApi].auth;
    const settings: PismoSettings = { ...raw, accountApi, ...(raw.auth ? { auth } : {}) };
    if (!live) return settings;
    if (auth === 's2s') {
      for (const [field, variable] of [
        ['serverKey', 'SERVER_KEY'],
        ['serverSecret', 'SERVER_SECRET'],
      ] as const) {
        if (!raw[field])
          throw new SettingError(variable, 'is required when the provider has a base URL (PISMO_AUTH=s2s)');
      }
      return settings;
    }
    if (!raw.tenantId) throw new SettingError('TENANT_ID', 'is required with PISMO_AUTH=openid');
    return { ...settings, auth, privateKey: rsaPrivateKeyPem(raw.privateKey) };
  },
};

/** The PEM of an RSA private key given as PEM text or `@/path/to/key.pem`; never quotes the value. */
function rsaPrivateKeyPem(value: string | undefined): string {
  if (!value)
    throw new SettingError('PRIVATE_KEY', 'is required with PISMO_AUTH=openid (PEM text or @/path)');
  let pem = value;
  if (value.startsWith('@')) {
    try {
      pem = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SettingError('PRIVATE_KEY', `names a file that cannot be read (${code})`);
    }
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch {
    throw new SettingError('PRIVATE_KEY', 'is not a readable PEM private key');
  }
  if (type !== 'rsa')
    throw new SettingError('PRIVATE_KEY', `must be an RSA private key (got ${type ?? 'unknown'})`);
  return pem;
}
