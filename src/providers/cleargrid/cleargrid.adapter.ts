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
import { GatewayError } from '../../domain/index.js';
import { jwtExpiry, TokenCache, type MintedToken } from '../auth/token-cache.js';
import { HttpAdapter } from '../http/http-adapter.js';
import { isSuccess, type ProviderHttpResponse } from '../http/provider-http.client.js';
import type {
  CallContext,
  ChangeResult,
  GroupedChangeResult,
  PreparedChange,
  ProviderEndpoint,
  StatusReading,
  TranslatedChange,
} from '../provider-adapter.js';
import type { ClearGridSettings } from './cleargrid.settings.js';
import {
  CLEARGRID_MAPPING,
  buildClearGridChangeBody,
  buildClearGridLoginBody,
  buildClearGridRefreshBody,
  classifyClearGridAcceptance,
  clearGridOperationOf,
  parseClearGridError,
  readClearGridLogin,
  readClearGridRefresh,
  type ClearGridProviderStatus,
} from './cleargrid.transformers.js';
import {
  CLEARGRID_PATHS,
  CLEARGRID_PROVIDER,
  DEFAULT_TOKEN_LIFETIME_MS,
  TOKEN_EXPIRY_SKEW_MS,
} from './cleargrid.wire.js';

interface ClearGridSession {
  lenderPublicId: string;
  refreshToken?: string;
}

export class ClearGridAdapter extends HttpAdapter<ClearGridSettings, ClearGridProviderStatus> {
  readonly liveRead = false;

  private readonly tokens: TokenCache;
  private session?: ClearGridSession;

  constructor(endpoint: ProviderEndpoint<ClearGridSettings>) {
    super(CLEARGRID_PROVIDER, endpoint, CLEARGRID_MAPPING, parseClearGridError);
    this.tokens = new TokenCache(TOKEN_EXPIRY_SKEW_MS, Date.now, endpoint.observer?.tokenMinted);
  }

  async prepareChange(change: TranslatedChange, ctx: CallContext): Promise<PreparedChange> {
    const { request } = change;
    const providerStatus = this.valueOf(change);
    const { lenderPublicId } = await this.currentSession(ctx);
    return {
      ...change,
      providerRequest: {
        method: 'POST',
        url: this.url(CLEARGRID_PATHS[clearGridOperationOf(providerStatus)](lenderPublicId)),
        body: buildClearGridChangeBody({ providerStatus }, request.accountId, request.customerId ?? ''),
      },
    };
  }

  /** Sends with the session's token, re-authenticating once as postWithSession says. */
  async applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult> {
    const { url, body } = prepared.providerRequest;
    const response = await this.postWithSession(this.valueOf(prepared), url, body, ctx);
    return this.changeResult(prepared, response);
  }

  /** Changes to the same endpoint (update-status or accounts) can travel in one request. */
  groupKey(prepared: PreparedChange): string {
    return `${clearGridOperationOf(this.valueOf(prepared))} ${prepared.providerRequest.url}`;
  }

  /**
   * Several prepared changes to one endpoint as one request: `{"accounts":[…]}` with every change's item.
   * ClearGrid names refused accounts in its per-account `errors`; those fail on their own, the others were
   * not processed (the request was refused as a whole) and may be sent again without them.
   */
  async applyChanges(prepared: PreparedChange[], ctx: CallContext): Promise<GroupedChangeResult[]> {
    const accounts = prepared.flatMap((p) => (p.providerRequest.body as { accounts: unknown[] }).accounts);
    const first = prepared[0];
    const response = await this.postWithSession(
      this.valueOf(first),
      first.providerRequest.url,
      { accounts },
      ctx,
    );
    const perAccount = clearGridAccountErrors(response.body);
    const named = prepared.some((p) => perAccount.has(p.request.accountId));
    if (response.status < 500 && named) {
      return prepared.map((p): GroupedChangeResult => {
        const errors = perAccount.get(p.request.accountId);
        if (!errors) return { kind: 'not-processed' };
        const own = {
          ...response,
          body: { ...(response.body as object), errors: [{ accountId: p.request.accountId, errors }] },
        };
        const parsed = parseClearGridError(response.status, own.body);
        return { kind: 'failed', error: this.http.failure('change status', own, parsed) };
      });
    }
    const result = this.changeResult(prepared[0], response);
    return prepared.map((p) => ({ kind: 'done', result: { ...result, providerStatus: p.providerStatus } }));
  }

  readStatus(accountId: string, _ctx: CallContext): Promise<StatusReading> {
    return Promise.reject(
      new GatewayError(
        'INTERNAL',
        `cleargrid read status of ${accountId}: ClearGrid has no single-account read (liveRead is false); the gateway serves its own record`,
      ),
    );
  }

  /**
   * POSTs a write with the session's token. A 401 gets a new token and one retry. A 403 is a lender
   * mismatch: a refreshed token would carry the same lender, so the session is forgotten (unless a
   * concurrent call has already logged in again), the new token comes from a login, and the URL is
   * rebuilt with the new `lenderPublicId`.
   */
  private postWithSession(
    providerStatus: ClearGridProviderStatus,
    url: string,
    body: unknown,
    ctx: CallContext,
  ): Promise<ProviderHttpResponse> {
    const operation = clearGridOperationOf(providerStatus);
    return this.tokens.withToken(
      this.endpoint.settings.lender,
      () => this.mint(ctx),
      async (token, retried) => {
        const sessionUsed = this.session;
        const target = retried
          ? this.url(CLEARGRID_PATHS[operation]((await this.currentSession(ctx)).lenderPublicId))
          : url;
        const answer = await this.post(target, body, token, ctx);
        if (!retried && answer.status === 403 && this.session === sessionUsed) this.session = undefined;
        return answer;
      },
      (answer) => answer.status === 401 || answer.status === 403,
    );
  }

  private changeResult(prepared: PreparedChange, response: ProviderHttpResponse): ChangeResult {
    const operation = 'change status';
    this.http.expectSuccess(operation, response);
    const acceptance = classifyClearGridAcceptance(response.body);
    if (acceptance === 'malformed') throw this.http.malformed(operation, response);
    if (acceptance === 'rejected') {
      const parsed = parseClearGridError(response.status, response.body);
      throw this.http.failure(operation, response, { canonical: 'PROVIDER_REJECTED', ...parsed });
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
    const url = this.url(CLEARGRID_PATHS.login(lender));
    const body = buildClearGridLoginBody(email, password);
    const response = await this.http.call(
      'login',
      { method: 'POST', url, body, context: ctx },
      { tokenEndpoint: true },
    );
    const login = readClearGridLogin(response.body);
    if (!login) throw this.http.malformed('login', response);
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
    if (!isSuccess(response)) return undefined;
    const refreshed = readClearGridRefresh(response.body);
    return refreshed ? minted(refreshed.token) : undefined;
  }
}

/** The per-account messages of a ClearGrid envelope, by account id. */
function clearGridAccountErrors(body: unknown): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return found;
  for (const entry of errors as unknown[]) {
    const { accountId, errors: messages } = (entry ?? {}) as { accountId?: unknown; errors?: unknown };
    if (typeof accountId !== 'string' || !Array.isArray(messages)) continue;
    const texts = messages.filter((m): m is string => typeof m === 'string');
    found.set(accountId, [...(found.get(accountId) ?? []), ...texts]);
  }
  return found;
}

function minted(token: string): MintedToken {
  return { value: token, expiresAt: jwtExpiry(token) ?? Date.now() + DEFAULT_TOKEN_LIFETIME_MS };
}

function expired(token: string): boolean {
  const expiresAt = jwtExpiry(token);
  return expiresAt !== undefined && expiresAt <= Date.now();
}
