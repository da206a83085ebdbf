/** Pismo's settings (CONTRACT.md section 1): the variables after `PISMO_`. */
import type { SettingsSchema } from '../../domain/index.js';

export type PismoAccountApi = 'corporate' | 'accounts';

export interface PismoSettings {
  serverKey: string;
  serverSecret: string;
  accountApi: PismoAccountApi;
}

export const PISMO_SETTINGS: SettingsSchema<PismoSettings> = {
  fields: {
    serverKey: { variable: 'SERVER_KEY', secret: true },
    serverSecret: { variable: 'SERVER_SECRET', secret: true },
    // The sandbox serves both account APIs, so PISMO_ACCOUNT_API applies in sandbox mode too.
    accountApi: {
      variable: 'ACCOUNT_API',
      oneOf: ['corporate', 'accounts'],
      default: 'corporate',
      sandbox: true,
    },
  },
};
