/** Canopy's settings (CONTRACT.md section 1): the variables after `CANOPY_`. */
import type { SettingsSchema } from '../../domain/index.js';

export interface CanopySettings {
  clientId: string;
  clientSecret: string;
}

export const CANOPY_SETTINGS: SettingsSchema<CanopySettings> = {
  fields: {
    clientId: { variable: 'CLIENT_ID', secret: true },
    clientSecret: { variable: 'CLIENT_SECRET', secret: true },
  },
};
