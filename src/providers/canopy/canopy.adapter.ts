/**
 * Canopy Servicing transport: client-credential tokens, the status write and the account read.
 *
 * Auth: `POST /auth/token` `{"client_id","client_secret"}` → `{"access_token","expires_in"}`; no refresh
 * token, so a new one is fetched TOKEN_REFRESH_SKEW_MS before `expires_in` runs out (one cache key per
 * client id; concurrent callers share one token request). A status call answered 401, or 403 with
 * `error.code` CANOPY_EXPIRED_TOKEN_CODE [inferred], gets one new token and one retry; any other 403
 * (e.g. `forbidden`) is final: a new token carries the same entitlements, so it maps to
 * PROVIDER_AUTH_FAILED at once.
 *
 * Gaps filled by guesses (all in canopy.wire.ts): DELINQUENT = SUSPENDED +
 * DELINQUENT; the expired-token 403 code; DEFAULT_TOKEN_LIFETIME_S when `expires_in` is missing.
 *
 * Canopy answers a status write and a read with the whole account, personal data included: only
 * `account_overview.account_status` / `account_status_subtype` are read, nothing else is kept.
 */
import { TokenCache, type MintedToken } from '../auth/token-cache.js';
import { HttpAdapter } from '../http/http-adapter.js';
import type { ProviderHttpResponse } from '../http/provider-http.client.js';
import type {
  CallContext,
  ChangeResult,
  PreparedChange,
  ProviderEndpoint,
  ProviderRequest,
  StatusReading,
  TranslatedChange,
} from '../provider-adapter.js';
import type { CanopySettings } from './canopy.settings.js';
import {
  CANOPY_MAPPING,
  appliedCanopyStatus,
  canopyReading,
  canopyStatusBody,
  canopyStatusOf,
  isCanopyTokenRejected,
  parseCanopyError,
} from './canopy.transformers.js';
import {
  CANOPY_PATHS,
  CANOPY_PROVIDER,
  DEFAULT_TOKEN_LIFETIME_S,
  TOKEN_REFRESH_SKEW_MS,
  type CanopyProviderStatus,
  type CanopyTokenRequest,
  type CanopyTokenResponse,
} from './canopy.wire.js';

const STATUS_OPERATION = 'change status';
const READ_OPERATION = 'read status';
const AUTH_OPERATION = 'authenticate';

export class CanopyAdapter extends HttpAdapter<CanopySettings, CanopyProviderStatus> {
  readonly liveRead = true;

  private readonly tokens: TokenCache;

  constructor(endpoint: ProviderEndpoint<CanopySettings>) {
    super(CANOPY_PROVIDER, endpoint, CANOPY_MAPPING, parseCanopyError);
    this.tokens = new TokenCache(TOKEN_REFRESH_SKEW_MS, Date.now, endpoint.observer?.tokenMinted);
  }

  prepareChange(change: TranslatedChange, _ctx: CallContext): Promise<PreparedChange> {
    const providerRequest: ProviderRequest = {
      method: 'PUT',
      url: this.url(CANOPY_PATHS.status(change.request.accountId)),
      body: canopyStatusBody(this.valueOf(change)),
    };
    return Promise.resolve({ ...change, providerRequest });
  }

  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const response = await this.authorized(STATUS_OPERATION, prepared.providerRequest, ctx);
    if (typeof response.body !== 'object' || response.body === null) {
      throw this.http.malformed(STATUS_OPERATION, response);
    }
    return {
      outcome: 'APPLIED',
      providerStatus: appliedCanopyStatus(response.body, prepared.providerStatus),
      providerHttpStatus: response.status,
    };
  }

  async readStatus(accountId: string, ctx: CallContext): Promise<StatusReading> {
    const request: ProviderRequest = { method: 'GET', url: this.url(CANOPY_PATHS.account(accountId)) };
    const response = await this.authorized(READ_OPERATION, request, ctx);
    const status = canopyStatusOf(response.body);
    if (!status) throw this.http.malformed(READ_OPERATION, response);
    return canopyReading(status);
  }

  /** Sends with the cached token; a rejected token is replaced once and the call retried once. */
  private async authorized(
    operation: string,
    request: ProviderRequest,
    ctx: CallContext,
  ): Promise<ProviderHttpResponse> {
    const answer = await this.tokens.withToken(
      this.endpoint.settings.clientId,
      () => this.mint(ctx),
      (token) => this.http.send({ ...request, headers: { authorization: `Bearer ${token}` }, context: ctx }),
      (response) => isCanopyTokenRejected(response.status, response.body),
    );
    return this.http.expectSuccess(operation, answer);
  }

  private async mint(ctx: CallContext): Promise<MintedToken> {
    const { clientId, clientSecret } = this.endpoint.settings;
    const body: CanopyTokenRequest = { client_id: clientId, client_secret: clientSecret };
    const url = this.url(CANOPY_PATHS.token);
    const response = await this.http.call(
      AUTH_OPERATION,
      { method: 'POST', url, body, context: ctx },
      { tokenEndpoint: true },
    );
    const token = response.body as CanopyTokenResponse | undefined;
    if (typeof token?.access_token !== 'string' || token.access_token === '') {
      throw this.http.malformed(AUTH_OPERATION, response);
    }
    const lifetimeS =
      typeof token.expires_in === 'number' && token.expires_in >= 0
        ? token.expires_in
        : DEFAULT_TOKEN_LIFETIME_S;
    return { value: token.access_token, expiresAt: Date.now() + lifetimeS * 1000 };
  }
}
