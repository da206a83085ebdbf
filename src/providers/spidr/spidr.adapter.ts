/**
 * Spidr transport: API key header, URLs, calls through one ProviderHttpClient, error parsing.
 * Everything Spidr-shaped (statuses, bodies, error codes) lives in spidr.transformers.ts.
 *
 * Auth: Spidr issues one static API key per environment and has no token endpoint, so there is no
 * TokenCache here. A 401/403 answers PROVIDER_AUTH_FAILED at once: "re-authenticate once and retry"
 * (CONTRACT.md section 5) cannot help when the only credential is the same key that was just refused.
 * The header carrying the key is a GUESS kept in SPIDR_API_KEY_HEADER (spidr.transformers.ts).
 */
import { GatewayError } from '../../domain/index.js';
import { HttpAdapter } from '../http/http-adapter.js';
import type {
  CallContext,
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderEndpoint,
  StatusReading,
} from '../provider-adapter.js';
import type { SpidrSettings } from './spidr.settings.js';
import {
  SPIDR_MAPPING,
  buildSpidrEditAccountBody,
  isSpidrAccountBody,
  isSpidrWriteStatus,
  parseSpidrError,
  readingFromSpidrAccount,
} from './spidr.transformers.js';
import { SPIDR_API_KEY_HEADER, SPIDR_PROVIDER, spidrAccountPath } from './spidr.wire.js';

export class SpidrAdapter extends HttpAdapter<SpidrSettings> {
  readonly liveRead = true;

  constructor(endpoint: ProviderEndpoint<SpidrSettings>) {
    super(SPIDR_PROVIDER, endpoint, SPIDR_MAPPING, parseSpidrError);
  }

  /** Needs no call: the URL holds nothing but the account id. Rejects (never throws) when translate refuses. */
  prepareChange(request: ChangeRequest, _ctx: CallContext): Promise<PreparedChange> {
    try {
      return Promise.resolve(this.buildChange(request));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
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

  private buildChange(request: ChangeRequest): PreparedChange {
    const providerStatus = this.providerStatusFor(request);
    if (!isSpidrWriteStatus(providerStatus)) {
      // Unreachable while the translation map only holds write statuses; kept so a bad edit fails loudly.
      throw new GatewayError(
        'INTERNAL',
        `spidr translation gave ${JSON.stringify(providerStatus)}, not a Spidr status`,
      );
    }
    return {
      request,
      providerRequest: {
        method: 'PATCH',
        url: this.accountUrl(request.accountId),
        body: buildSpidrEditAccountBody(providerStatus, request.providerOptions),
      },
      providerStatus,
    };
  }

  private accountUrl(accountId: string): string {
    return this.url(spidrAccountPath(accountId));
  }

  private authHeaders(): Record<string, string> {
    return { [SPIDR_API_KEY_HEADER.name]: SPIDR_API_KEY_HEADER.value(this.endpoint.settings.apiKey) };
  }
}
