/**
 * How a provider declares its settings (CONTRACT.md section 1): each provider folder owns one
 * `SettingsSchema` and config/ composes them, so adding a provider never touches config/.
 * Pure description; reading the environment is config/'s job.
 */

/** One environment variable of a provider, named without the `<PROVIDER>_` prefix. */
export interface SettingSpec {
  /** e.g. `CLIENT_ID` for `CANOPY_CLIENT_ID`. */
  variable: string;
  /** Masked in any provider message echoed back to callers and logs. */
  secret?: boolean;
  /** Used when unset; without one (and without `optional`) the variable is required in live mode. */
  default?: string;
  /** Unset leaves the setting undefined. */
  optional?: boolean;
  /** The allowed values. */
  oneOf?: readonly string[];
  pattern?: RegExp;
  /** Said when `pattern` does not match. */
  rule?: string;
  /** Read in sandbox mode too (an option the sandbox serves, not a credential). */
  sandbox?: boolean;
}

/** A provider's settings: one spec per field, and the checks across fields once all are read. */
export interface SettingsSchema<Settings = Record<string, unknown>> {
  fields: { [Field in keyof Settings]-?: SettingSpec };
  /**
   * Cross-field defaults and checks, after every field is read (`live` false in sandbox mode, where
   * only `sandbox` fields were read). Throws SettingError naming the variable (without prefix).
   */
  finish?(settings: Record<string, string | undefined>, live: boolean): Settings;
}

/** A setting that cannot be used; config/ turns it into the one start-up line naming the variable. */
export class SettingError extends Error {
  constructor(
    /** Without the provider prefix, like SettingSpec.variable. */
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = 'SettingError';
  }
}
