/** ClearGrid's settings (CONTRACT.md section 1): the variables after `CLEARGRID_`. */
import type { SettingsSchema } from '../../domain/index.js';

export interface ClearGridSettings {
  /** The lender's subdomain identifier in `/admin/auth/{lender}/login`. */
  lender: string;
  email: string;
  password: string;
}

export const CLEARGRID_SETTINGS: SettingsSchema<ClearGridSettings> = {
  fields: {
    lender: {
      variable: 'LENDER',
      secret: true,
      pattern: /^[A-Za-z0-9_-]{1,100}$/,
      rule: 'must be the lender identifier (letters, digits, - and _)',
    },
    email: { variable: 'EMAIL', secret: true },
    password: { variable: 'PASSWORD', secret: true },
  },
};
