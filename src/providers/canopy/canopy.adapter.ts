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
 * Gaps filled by guesses (all in canopy.transformers.ts unless named here): DELINQUENT = SUSPENDED +
 * DELINQUENT; the expired-token 403 code; DEFAULT_TOKEN_LIFETIME_S when `expires_in` is missing.
 *
 * Canopy answers a status write and a read with the whole account, personal data included: only
 * `account_overview.account_status` / `account_status_subtype` are read, nothing else is kept.
 */
import type { CanopySettings } from '../../config/provider-settings.js';
import {
  GatewayError,
  type CanonicalReason,
  type CanonicalStatus,
  type FieldError,
  type ProviderId,
} from '../../domain/index.js';
import { TokenCache, type MintedToken } from '../auth/token-cache.js';
import { ProviderHttpClient, type ProviderHttpResponse } from '../http/provider-http.client.js';
import type {
  CallContext,
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderEndpoint,
  ProviderRequest,
  StatusReading,
  Translation,
} from '../provider-adapter.js';
import { malformedAnswer, providerFailure } from '../provider-errors.js';
import {
  appliedCanopyStatus,
  canopyReading,
  canopyStatusBody,
  canopyStatusOf,
  isCanopyTokenRejected,
  parseCanopyError,
  parseCanopyTokenError,
  translateCanopy,
} from './canopy.transformers.js';

/** Fetch a new token this long before Canopy's `expires_in` runs out (clock skew, in-flight calls). */
export const TOKEN_REFRESH_SKEW_MS = 60_000;

/** GUESS: lifetime assumed when a token answer has no usable `expires_in` (Canopy documents 22899 s). */
export const DEFAULT_TOKEN_LIFETIME_S = 300;

const STATUS_OPERATION = 'change status';
const READ_OPERATION = 'read status';
const AUTH_OPERATION = 'authenticate';

export class CanopyAdapter implements ProviderAdapter {
  readonly id: ProviderId = 'canopy';
  readonly name = 'Canopy Servicing';
  readonly liveRead = true;

  private readonly http: ProviderHttpClient;
  private readonly tokens: TokenCache;
  private readonly baseUrl: string;

  constructor(private readonly endpoint: ProviderEndpoint<CanopySettings>) {
    this.tokens = new TokenCache(TOKEN_REFRESH_SKEW_MS, Date.now, endpoint.observer?.tokenMinted);
    this.http = new ProviderHttpClient(this.id, endpoint.timeoutMs);
    this.baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
  }

  translate(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation {
    return translateCanopy(status, reason);
  }

  /** CLOSED is not final at Canopy: a payment reversal can move an account back to ACTIVE or SUSPENDED. */
  isTerminal(_status: CanonicalStatus): boolean {
    return false;
  }

  validate(request: ChangeRequest): FieldError[] {
    return Object.keys(request.providerOptions ?? {}).map((key) => ({
      field: `providerOptions.${key}`,
      message: 'canopy accepts no providerOptions',
    }));
  }

  prepareChange(request: ChangeRequest, _ctx: CallContext): Promise<PreparedChange> {
    const translation = translateCanopy(request.status, request.reason);
    if (!translation.supported)
      return Promise.reject(new GatewayError('STATUS_NOT_SUPPORTED', translation.why));
    const providerRequest: ProviderRequest = {
      method: 'PUT',
      url: `${this.accountUrl(request.accountId)}/status`,
      body: canopyStatusBody(translation.providerStatus),
    };
    return Promise.resolve({ request, providerRequest, providerStatus: translation.providerStatus });
  }

  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const response = await this.authorized(prepared.providerRequest, ctx);
    if (!isSuccess(response)) {
      throw providerFailure(
        this.id,
        STATUS_OPERATION,
        response,
        parseCanopyError(response.status, response.body),
      );
    }
    if (typeof response.body !== 'object' || response.body === null) {
      throw malformedAnswer(this.id, STATUS_OPERATION, response);
    }
    return {
      outcome: 'APPLIED',
      providerStatus: appliedCanopyStatus(response.body, prepared.providerStatus),
      providerHttpStatus: response.status,
    };
  }

  async readStatus(accountId: string, ctx: CallContext): Promise<StatusReading> {
    const response = await this.authorized({ method: 'GET', url: this.accountUrl(accountId) }, ctx);
    if (!isSuccess(response)) {
      throw providerFailure(
        this.id,
        READ_OPERATION,
        response,
        parseCanopyError(response.status, response.body),
      );
    }
    const status = canopyStatusOf(response.body);
    if (!status) throw malformedAnswer(this.id, READ_OPERATION, response);
    return canopyReading(status);
  }

  private accountUrl(accountId: string): string {
    return `${this.baseUrl}/accounts/${encodeURIComponent(accountId)}`;
  }

  /** Sends with the cached token; a rejected token is replaced once and the call retried once. */
  private async authorized(request: ProviderRequest, ctx: CallContext): Promise<ProviderHttpResponse> {
    const key = this.endpoint.settings.clientId;
    const send = (token: string) =>
      this.http.send({ ...request, headers: { authorization: `Bearer ${token}` }, context: ctx });
    const first = await this.tokens.get(key, () => this.mint(ctx));
    const response = await send(first);
    if (!isCanopyTokenRejected(response.status, response.body)) return response;
    this.tokens.invalidate(key, first);
    return send(await this.tokens.get(key, () => this.mint(ctx)));
  }

  private async mint(ctx: CallContext): Promise<MintedToken> {
    const { clientId, clientSecret } = this.endpoint.settings;
    const response = await this.http.send({
      method: 'POST',
      url: `${this.baseUrl}/auth/token`,
      body: { client_id: clientId, client_secret: clientSecret },
      context: ctx,
    });
    if (!isSuccess(response)) {
      throw providerFailure(
        this.id,
        AUTH_OPERATION,
        response,
        parseCanopyTokenError(response.status, response.body),
      );
    }
    const body = response.body as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof body?.access_token !== 'string' || body.access_token === '') {
      throw malformedAnswer(this.id, AUTH_OPERATION, response);
    }
    const lifetimeS =
      typeof body.expires_in === 'number' && body.expires_in >= 0
        ? body.expires_in
        : DEFAULT_TOKEN_LIFETIME_S;
    return { value: body.access_token, expiresAt: Date.now() + lifetimeS * 1000 };
  }
}

function isSuccess(response: ProviderHttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}
