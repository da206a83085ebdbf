/** Per-provider credentials and options, as read from the environment (CONTRACT.md section 1). */

export interface ClearGridSettings {
  /** The lender's subdomain identifier in `/admin/auth/{lender}/login`. */
  lender: string;
  email: string;
  password: string;
}

export interface CanopySettings {
  clientId: string;
  clientSecret: string;
}

export type PismoAccountApi = 'corporate' | 'accounts';

export interface PismoSettings {
  serverKey: string;
  serverSecret: string;
  accountApi: PismoAccountApi;
}

export interface SpidrSettings {
  apiKey: string;
}

export interface ProviderSettingsMap {
  cleargrid: ClearGridSettings;
  canopy: CanopySettings;
  pismo: PismoSettings;
  spidr: SpidrSettings;
}
