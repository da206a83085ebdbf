/**
 * ClearGrid "Command" transport: lender login / refresh-token, bearer calls to the two asynchronous
 * write endpoints, error parsing. Mapping lives in cleargrid.transformers.ts.
 *
 * Auth (README, ClearGrid): login returns `{lenderPublicId, token, refreshToken}`; the token is reused
 * until shortly before its JWT `exp` (DEFAULT_TOKEN_LIFETIME_MS when it has none — a guess). A new
 * token comes from refresh-token while a refresh token is held, else from login; a refused refresh
 * falls back to login [inferred]. A 401 from a write → new token, retry once. A 403 means the token's
 * lender does not match the URL's `lenderPublicId` → forget the session, log in again, rebuild the URL,
 * retry once. Still refused → PROVIDER_AUTH_FAILED. The `lenderPublicId` is part of every write URL,
 * so prepareChange logs in when no session exists (no status call).
 */
import {
  GatewayError,
  type CanonicalReason,
  type CanonicalStatus,
  type FieldError,
} from '../../domain/index.js';
import type { ClearGridSettings } from '../../config/provider-settings.js';
import { jwtExpiry, TokenCache, type MintedToken } from '../auth/token-cache.js';
import { ProviderHttpClient, type ProviderHttpResponse } from '../http/provider-http.client.js';
import type {
  CallContext,
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderEndpoint,
  StatusReading,
  Translation,
} from '../provider-adapter.js';
import { malformedAnswer, providerFailure } from '../provider-errors.js';
import {
  buildClearGridChangeBody,
  buildClearGridLoginBody,
  buildClearGridRefreshBody,
  classifyClearGridAcceptance,
  clearGridChangeFor,
  CLEARGRID_PATHS,
  isClearGridTerminal,
  parseClearGridError,
  readClearGridLogin,
  readClearGridRefresh,
  translateClearGrid,
  validateClearGridRequest,
  type ClearGridChange,
} from './cleargrid.transformers.js';

export const CLEARGRID_ID = 'cleargrid';
export const CLEARGRID_NAME = 'ClearGrid Command';
/** GUESS: token lifetime when the token carries no JWT `exp` (ClearGrid documents none). */
export const DEFAULT_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A token is replaced this long before it expires, so it does not expire in flight. */
export const TOKEN_EXPIRY_SKEW_MS = 30_000;

interface ClearGridSession {
  lenderPublicId: string;
  refreshToken?: string;
}

export class ClearGridAdapter implements ProviderAdapter {
  readonly id = CLEARGRID_ID;
  readonly name = CLEARGRID_NAME;
  readonly liveRead = false;

  private readonly http: ProviderHttpClient;
  private readonly tokens: TokenCache;
  private readonly baseUrl: string;
  private session?: ClearGridSession;

  constructor(private readonly endpoint: ProviderEndpoint<ClearGridSettings>) {
    this.tokens = new TokenCache(TOKEN_EXPIRY_SKEW_MS, Date.now, endpoint.observer?.tokenMinted);
    this.http = new ProviderHttpClient(CLEARGRID_ID, endpoint.timeoutMs);
    this.baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
  }

  translate(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation {
    return translateClearGrid(status, reason);
  }

  isTerminal(status: CanonicalStatus): boolean {
    return isClearGridTerminal(status);
  }

  validate(request: ChangeRequest): FieldError[] {
    return validateClearGridRequest(request);
  }

  async prepareChange(request: ChangeRequest, ctx: CallContext): Promise<PreparedChange> {
    const change = this.changeOrThrow(request);
    const { lenderPublicId } = await this.currentSession(ctx);
    return {
      request,
      providerRequest: {
        method: 'POST',
        url: this.url(CLEARGRID_PATHS[change.operation](lenderPublicId)),
        body: buildClearGridChangeBody(change, request.accountId, request.customerId ?? ''),
      },
      providerStatus: change.providerStatus,
    };
  }

  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const change = this.changeOrThrow(prepared.request);
    const { url, body } = prepared.providerRequest;
    let token = await this.accessToken(ctx);
    const sessionUsed = this.session;
    let response = await this.post(url, body, token, ctx);
    if (response.status === 401 || response.status === 403) {
      // A 403 is a lender mismatch: a refreshed token would carry the same lender, only a login helps
      // (unless a concurrent call has already logged in again).
      if (response.status === 403 && this.session === sessionUsed) this.session = undefined;
      this.tokens.invalidate(this.endpoint.settings.lender, token);
      token = await this.accessToken(ctx);
      const { lenderPublicId } = await this.currentSession(ctx);
      response = await this.post(
        this.url(CLEARGRID_PATHS[change.operation](lenderPublicId)),
        body,
        token,
        ctx,
      );
    }
    return this.changeResult(prepared, response);
  }

  readStatus(accountId: string, _ctx: CallContext): Promise<StatusReading> {
    return Promise.reject(
      new GatewayError(
        'INTERNAL',
        `cleargrid read status of ${accountId}: ClearGrid has no single-account read (liveRead is false); the gateway serves its own record`,
      ),
    );
  }

  private changeOrThrow(request: ChangeRequest): ClearGridChange {
    const change = clearGridChangeFor(request.status);
    if (!change) {
      const translation = translateClearGrid(request.status, request.reason);
      throw new GatewayError('STATUS_NOT_SUPPORTED', translation.supported ? 'unsupported' : translation.why);
    }
    return change;
  }

  private changeResult(prepared: PreparedChange, response: ProviderHttpResponse): ChangeResult {
    const operation = 'change status';
    if (response.status < 200 || response.status >= 300) {
      throw providerFailure(
        CLEARGRID_ID,
        operation,
        response,
        parseClearGridError(response.status, response.body),
      );
    }
    const acceptance = classifyClearGridAcceptance(response.body);
    if (acceptance === 'malformed') throw malformedAnswer(CLEARGRID_ID, operation, response);
    if (acceptance === 'rejected') {
      const parsed = parseClearGridError(response.status, response.body);
      throw providerFailure(CLEARGRID_ID, operation, response, { canonical: 'PROVIDER_REJECTED', ...parsed });
    }
    return {
      outcome: 'ACCEPTED',
      providerStatus: prepared.providerStatus,
      providerHttpStatus: response.status,
    };
  }

  private post(url: string, body: unknown, token: string, ctx: CallContext): Promise<ProviderHttpResponse> {
    return this.http.send({
      method: 'POST',
      url,
      body,
      headers: { authorization: `Bearer ${token}` },
      context: ctx,
    });
  }

  // ---- auth ----

  private accessToken(ctx: CallContext): Promise<string> {
    return this.tokens.get(this.endpoint.settings.lender, () => this.mint(ctx));
  }

  private async currentSession(ctx: CallContext): Promise<ClearGridSession> {
    if (!this.session) await this.accessToken(ctx);
    if (this.session) return this.session;
    // A cached token without a session (forgotten after a 403 by a concurrent call): log in afresh.
    this.tokens.clear();
    await this.accessToken(ctx);
    if (!this.session) throw new GatewayError('INTERNAL', 'cleargrid login left no session');
    return this.session;
  }

  /** Refresh while a usable refresh token is held; a refused refresh falls back to login. */
  private async mint(ctx: CallContext): Promise<MintedToken> {
    const refreshToken = this.session?.refreshToken;
    if (refreshToken && !expired(refreshToken)) {
      const refreshed = await this.refresh(refreshToken, ctx);
      if (refreshed) return refreshed;
      if (this.session?.refreshToken === refreshToken) this.session.refreshToken = undefined;
    }
    return this.login(ctx);
  }

  private async login(ctx: CallContext): Promise<MintedToken> {
    const { lender, email, password } = this.endpoint.settings;
    const response = await this.http.send({
      method: 'POST',
      url: this.url(CLEARGRID_PATHS.login(lender)),
      body: buildClearGridLoginBody(email, password),
      context: ctx,
    });
    if (response.status < 200 || response.status >= 300) throw tokenFailure('login', response);
    const login = readClearGridLogin(response.body);
    if (!login) throw malformedAnswer(CLEARGRID_ID, 'login', response);
    this.session = { lenderPublicId: login.lenderPublicId, refreshToken: login.refreshToken };
    return minted(login.token);
  }

  /**
   * Undefined when ClearGrid answers but refuses (any non-2xx or unreadable body): the caller logs in.
   * A refresh that gets no answer (timeout, refused connection) throws: a login would wait as long.
   */
  private async refresh(refreshToken: string, ctx: CallContext): Promise<MintedToken | undefined> {
    const response = await this.http.send({
      method: 'POST',
      url: this.url(CLEARGRID_PATHS.refresh(this.endpoint.settings.lender)),
      body: buildClearGridRefreshBody(refreshToken),
      context: ctx,
    });
    if (response.status < 200 || response.status >= 300) return undefined;
    const refreshed = readClearGridRefresh(response.body);
    return refreshed ? minted(refreshed.token) : undefined;
  }

  private url(path: string): string {
    return `${this.baseUrl}${path}`;
  }
}

/** A token endpoint's refusal: any 4xx but 429 means the gateway's own credentials were refused. */
function tokenFailure(operation: string, response: ProviderHttpResponse): GatewayError {
  const { code, message } = parseClearGridError(response.status, response.body);
  const refused = response.status >= 400 && response.status < 500 && response.status !== 429;
  return providerFailure(CLEARGRID_ID, operation, response, {
    code,
    message,
    canonical: refused ? 'PROVIDER_AUTH_FAILED' : undefined,
  });
}

function minted(token: string): MintedToken {
  return { value: token, expiresAt: jwtExpiry(token) ?? Date.now() + DEFAULT_TOKEN_LIFETIME_MS };
}

function expired(token: string): boolean {
  const expiresAt = jwtExpiry(token);
  return expiresAt !== undefined && expiresAt <= Date.now();
}
