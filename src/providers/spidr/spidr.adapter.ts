/**
 * Spidr transport: API key header, URLs, calls through one ProviderHttpClient, error parsing.
 * Everything Spidr-shaped (statuses, bodies, error codes) lives in spidr.transformers.ts.
 *
 * Auth: Spidr issues one static API key per environment and has no token endpoint, so there is no
 * TokenCache here. A 401/403 answers PROVIDER_AUTH_FAILED at once: "re-authenticate once and retry"
 * (CONTRACT.md section 5) cannot help when the only credential is the same key that was just refused.
 * The header carrying the key is a GUESS kept in SPIDR_API_KEY_HEADER (spidr.transformers.ts).
 */
import { HttpAdapter } from '../http/http-adapter.js';
import type {
  CallContext,
  ChangeResult,
  PreparedChange,
  ProviderEndpoint,
  StatusReading,
  TranslatedChange,
} from '../provider-adapter.js';
import type { SpidrSettings } from './spidr.settings.js';
import {
  SPIDR_MAPPING,
  buildSpidrEditAccountBody,
  isSpidrAccountBody,
  parseSpidrError,
  readingFromSpidrAccount,
  type SpidrWriteStatus,
} from './spidr.transformers.js';
import { SPIDR_API_KEY_HEADER, SPIDR_PROVIDER, spidrAccountPath } from './spidr.wire.js';

export class SpidrAdapter extends HttpAdapter<SpidrSettings, SpidrWriteStatus> {
  readonly liveRead = true;

  constructor(endpoint: ProviderEndpoint<SpidrSettings>) {
    super(SPIDR_PROVIDER, endpoint, SPIDR_MAPPING, parseSpidrError);
  }

  /** Needs no call: the URL holds nothing but the account id. */
  prepareChange(change: TranslatedChange, _ctx: CallContext): Promise<PreparedChange> {
    const { accountId, providerOptions } = change.request;
    return Promise.resolve({
      ...change,
      providerRequest: {
        method: 'PATCH',
        url: this.accountUrl(accountId),
        body: buildSpidrEditAccountBody(this.valueOf(change), providerOptions),
      },
    });
  }

  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const { method, url, body } = prepared.providerRequest;
    const headers = this.authHeaders();
    const response = await this.http.call('change status', { method, url, body, headers, context: ctx });
    // Spidr answers 200 with the account object; anything else is not the documented answer.
    if (!isSpidrAccountBody(response.body)) throw this.http.malformed('change status', response);
    return {
      outcome: 'APPLIED',
      providerStatus: prepared.providerStatus,
      providerHttpStatus: response.status,
    };
  }

  async readStatus(accountId: string, ctx: CallContext): Promise<StatusReading> {
    const url = this.accountUrl(accountId);
    const headers = this.authHeaders();
    const response = await this.http.call('read status', { method: 'GET', url, headers, context: ctx });
    if (!isSpidrAccountBody(response.body)) throw this.http.malformed('read status', response);
    return readingFromSpidrAccount(response.body);
  }

  private accountUrl(accountId: string): string {
    return this.url(spidrAccountPath(accountId));
  }

  private authHeaders(): Record<string, string> {
    return { [SPIDR_API_KEY_HEADER.name]: SPIDR_API_KEY_HEADER.value(this.endpoint.settings.apiKey) };
  }
}
