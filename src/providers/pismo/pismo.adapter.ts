/**
 * Transport to Pismo: per-account tokens (OpenID: an RS256 assertion signed with PISMO_PRIVATE_KEY and
 * exchanged at /passport/v1/oauth2/token; or s2s: server key + secret), URL building, calls, errors.
 *
 * Pismo tokens are bound to ONE account ("account token"): the cache key is the account id (the
 * external account id for the corporate API), a token is never sent for another account, concurrent
 * calls for one account share one mint, and a 401 re-mints once. `settings.accountApi` chooses the
 * corporate (default, documented) or regular accounts status endpoint. Guessed paths, field names and
 * the token flow are constants in pismo.wire.ts — see there to change them.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { TokenCache, type MintedToken } from '../auth/token-cache.js';
import { HttpAdapter } from '../http/http-adapter.js';
import type { ProviderHttpResponse } from '../http/provider-http.client.js';
import type {
  CallContext,
  ChangeResult,
  PreparedChange,
  ProviderEndpoint,
  StatusReading,
  TranslatedChange,
} from '../provider-adapter.js';
import type { PismoAccountApi, PismoSettings } from './pismo.settings.js';
import {
  buildPismoOpenIdClaims,
  buildPismoStatusBody,
  buildPismoTokenRequest,
  parsePismoError,
  parsePismoToken,
  pismoMapping,
  readPismoAccount,
} from './pismo.transformers.js';
import {
  PISMO_JWT_LIFETIME_SECONDS,
  PISMO_OPENID_TOKEN_PATH,
  PISMO_PATHS,
  PISMO_PROVIDER,
  PISMO_TOKEN_BINDING,
  PISMO_TOKEN_PATH,
  PISMO_TOKEN_SKEW_MS,
  type PismoAuth,
} from './pismo.wire.js';

export class PismoAdapter extends HttpAdapter<PismoSettings, string> {
  readonly liveRead = true;

  private readonly api: PismoAccountApi;
  private readonly auth: PismoAuth;
  private readonly tokens: TokenCache;
  private key?: KeyObject;

  constructor(endpoint: ProviderEndpoint<PismoSettings>) {
    const api = endpoint.settings.accountApi === 'accounts' ? 'accounts' : 'corporate';
    super(PISMO_PROVIDER, endpoint, pismoMapping(api), parsePismoError);
    this.api = api;
    this.auth = endpoint.settings.auth ?? PISMO_TOKEN_BINDING[api].auth;
    this.tokens = new TokenCache(PISMO_TOKEN_SKEW_MS, Date.now, endpoint.observer?.tokenMinted);
  }

  /** Needs no token: the URL carries only the account id. */
  prepareChange(change: TranslatedChange, _ctx: CallContext): Promise<PreparedChange> {
    const { request } = change;
    return Promise.resolve({
      ...change,
      providerRequest: {
        method: 'PATCH',
        url: this.url(PISMO_PATHS[this.api].write(encodeURIComponent(request.accountId))),
        body: buildPismoStatusBody(this.api, this.valueOf(change), request),
      },
    });
  }

  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const { method, url, body } = prepared.providerRequest;
    const response = await this.withAccountToken(
      'change status',
      prepared.request.accountId,
      ctx,
      (authorization) => this.http.send({ method, url, body, headers: { authorization }, context: ctx }),
    );
    // 204 is documented; any 2xx means Pismo applied it synchronously.
    return {
      outcome: 'APPLIED',
      providerStatus: prepared.providerStatus,
      providerHttpStatus: response.status,
    };
  }

  async readStatus(accountId: string, ctx: CallContext): Promise<StatusReading> {
    const url = this.url(PISMO_PATHS[this.api].read(encodeURIComponent(accountId)));
    const response = await this.withAccountToken('read status', accountId, ctx, (authorization) =>
      this.http.send({ method: 'GET', url, headers: { authorization }, context: ctx }),
    );
    const reading = readPismoAccount(response.body);
    if (!reading) throw this.http.malformed('read status', response);
    return reading;
  }

  /**
   * Runs `call` with this account's token; on 401 drops exactly that token, mints a new one and
   * retries once. A second 401 is a failure (PROVIDER_AUTH_FAILED). A 403 is not retried: a fresh
   * token for the same account would not change Pismo's answer.
   */
  private async withAccountToken(
    operation: string,
    accountId: string,
    ctx: CallContext,
    call: (authorization: string) => Promise<ProviderHttpResponse>,
  ): Promise<ProviderHttpResponse> {
    const response = await this.tokens.withToken(
      accountId,
      () => this.mint(accountId, ctx),
      (token) => call(`Bearer ${token}`),
      (answer) => answer.status === 401,
    );
    return this.http.expectSuccess(operation, response);
  }

  private mint(accountId: string, ctx: CallContext): Promise<MintedToken> {
    return this.auth === 'openid' ? this.mintOpenId(accountId, ctx) : this.mintS2s(accountId, ctx);
  }

  /** Signs a short RS256 assertion bound to the account and exchanges it for an account token. */
  private async mintOpenId(accountId: string, ctx: CallContext): Promise<MintedToken> {
    const { tenantId = '', jwtIssuer, jwtAudience } = this.endpoint.settings;
    const assertion = await new SignJWT(buildPismoOpenIdClaims(this.api, tenantId, accountId))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(jwtIssuer ?? tenantId)
      .setSubject(accountId)
      .setAudience(jwtAudience ?? this.url(''))
      .setIssuedAt()
      .setExpirationTime(`${PISMO_JWT_LIFETIME_SECONDS}s`)
      .setJti(randomUUID())
      .sign(this.signingKey());
    const response = await this.http.call('mint account token', {
      method: 'POST',
      url: this.url(PISMO_OPENID_TOKEN_PATH),
      body: { token: assertion },
      context: ctx,
    });
    const minted = parsePismoToken(response.body, Date.now(), 'access_token');
    if (!minted) throw this.http.malformed('mint account token', response);
    return minted;
  }

  /** The signing key, parsed once (the settings checked at start that it is an RSA private key). */
  private signingKey(): KeyObject {
    this.key ??= createPrivateKey(this.endpoint.settings.privateKey ?? '');
    return this.key;
  }

  private async mintS2s(accountId: string, ctx: CallContext): Promise<MintedToken> {
    const response = await this.http.call('mint account token', {
      method: 'POST',
      url: this.url(PISMO_TOKEN_PATH),
      body: buildPismoTokenRequest(this.api, this.endpoint.settings, accountId),
      context: ctx,
    });
    const minted = parsePismoToken(response.body, Date.now());
    if (!minted) throw this.http.malformed('mint account token', response);
    return minted;
  }
}
