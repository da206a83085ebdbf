/** Spidr's settings (CONTRACT.md section 1): the variables after `SPIDR_`. */
import type { SettingsSchema } from '../../domain/index.js';

export interface SpidrSettings {
  apiKey: string;
}

export const SPIDR_SETTINGS: SettingsSchema<SpidrSettings> = {
  fields: { apiKey: { variable: 'API_KEY', secret: true } },
};
