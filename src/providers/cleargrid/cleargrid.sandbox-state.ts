/** State of the ClearGrid simulator: issued tokens and accounts. See cleargrid.sandbox.ts for the routes. */
import type { ClearGridSettings } from './cleargrid.settings.js';
import { sandboxJwt, SandboxStore } from '../sandbox/sandbox-kit.js';
import { CLEARGRID_DISPUTED, CLEARGRID_DO_NOT_CONTACT, CLEARGRID_WITHDRAW_STATUS } from './cleargrid.wire.js';

/** The only credentials the sandbox login accepts. */
export const CLEARGRID_SANDBOX_SETTINGS: ClearGridSettings = {
  lender: 'sandbox-lender',
  email: 'sandbox@statusgate.local',
  password: 'sandbox-password',
};

/** The fixed `lenderPublicId` the sandbox login returns. */
export const CLEARGRID_SANDBOX_LENDER_PUBLIC_ID = '3f6c2a9e-8b1d-4e57-9a0c-5d2e7f14b8a6';

export const DEFAULT_ACCESS_LIFETIME_SECONDS = 900;
export const DEFAULT_REFRESH_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Delay before an accepted change shows in the account state (ClearGrid processes in the background). */
export const PROCESSING_DELAY_MS = 50;

interface IssuedToken {
  lenderPublicId: string;
  /** Issue order, for AUTHEXPIRED- accounts. */
  seq: number;
  expiresAt: number;
  revoked: boolean;
}

export interface ClearGridLogin {
  lenderPublicId: string;
  token: string;
  refreshToken: string;
}

/** Tokens the sandbox issued, with the knobs the control routes turn. */
export class ClearGridSandboxAuth {
  accessLifetimeSeconds = DEFAULT_ACCESS_LIFETIME_SECONDS;
  refreshLifetimeSeconds = DEFAULT_REFRESH_LIFETIME_SECONDS;
  /** While true every bearer is refused with 401 (to prove "still refused → PROVIDER_AUTH_FAILED"). */
  refuseAllBearers = false;
  private readonly access = new Map<string, IssuedToken>();
  private readonly refresh = new Map<string, IssuedToken>();
  private seq = 0;
  /** AUTHEXPIRED- accounts: the newest token seq at the moment the account answered its 401. */
  private readonly expiredAt = new Map<string, number>();

  login(lender: string, email: unknown, password: unknown): ClearGridLogin | undefined {
    const expected = CLEARGRID_SANDBOX_SETTINGS;
    if (lender !== expected.lender || email !== expected.email || password !== expected.password)
      return undefined;
    const lenderPublicId = CLEARGRID_SANDBOX_LENDER_PUBLIC_ID;
    const refreshToken = sandboxJwt(
      { sub: email, lender, lenderPublicId, typ: 'refresh' },
      this.refreshLifetimeSeconds,
    );
    this.refresh.set(refreshToken, this.issued(lenderPublicId, this.refreshLifetimeSeconds));
    return { lenderPublicId, token: this.mintAccess(lender, lenderPublicId), refreshToken };
  }

  refreshAccess(lender: string, refreshToken: unknown): string | undefined {
    const issued = typeof refreshToken === 'string' ? this.refresh.get(refreshToken) : undefined;
    if (!issued || !usable(issued) || lender !== CLEARGRID_SANDBOX_SETTINGS.lender) return undefined;
    return this.mintAccess(lender, issued.lenderPublicId);
  }

  /** The lender a bearer token belongs to, or undefined when it is unknown, expired or revoked. */
  lenderOf(token: string | undefined): string | undefined {
    const issued = token === undefined ? undefined : this.access.get(token);
    return issued && usable(issued) && !this.refuseAllBearers ? issued.lenderPublicId : undefined;
  }

  /**
   * AUTHEXPIRED- accounts: the first write for the account answers 401 as if its token had expired in
   * flight; from then on the account refuses only tokens issued before that 401, so the token the
   * client fetches in response works (a literal "first call with each token" would refuse it too).
   */
  expiresInFlight(token: string, accountId: string): boolean {
    const seq = this.access.get(token)?.seq ?? 0;
    const at = this.expiredAt.get(accountId);
    if (at === undefined) {
      this.expiredAt.set(accountId, this.seq);
      return true;
    }
    return seq <= at;
  }

  revokeAccessTokens(): void {
    for (const token of this.access.values()) token.revoked = true;
  }

  revokeRefreshTokens(): void {
    for (const token of this.refresh.values()) token.revoked = true;
  }

  reset(): void {
    this.accessLifetimeSeconds = DEFAULT_ACCESS_LIFETIME_SECONDS;
    this.refreshLifetimeSeconds = DEFAULT_REFRESH_LIFETIME_SECONDS;
    this.refuseAllBearers = false;
    this.access.clear();
    this.refresh.clear();
    this.expiredAt.clear();
  }

  private mintAccess(lender: string, lenderPublicId: string): string {
    const token = sandboxJwt({ sub: lender, lenderPublicId, typ: 'access' }, this.accessLifetimeSeconds);
    this.access.set(token, this.issued(lenderPublicId, this.accessLifetimeSeconds));
    return token;
  }

  private issued(lenderPublicId: string, lifetimeSeconds: number): IssuedToken {
    this.seq += 1;
    return { lenderPublicId, seq: this.seq, expiresAt: Date.now() + lifetimeSeconds * 1000, revoked: false };
  }
}

function usable(token: IssuedToken): boolean {
  return !token.revoked && token.expiresAt > Date.now();
}

export interface ClearGridSandboxAccount {
  accountId: string;
  debtorCompanyId: string | null;
  /** The last ClearGrid status code applied (5, 6 or 3); null while nothing was applied. */
  status: number | null;
  disputed: boolean;
  withdrawn: boolean;
  history: Array<{ status: number; at: string }>;
}

export interface ClearGridSandboxChange {
  accountId: string;
  debtorCompanyId: string;
  status: number;
}

/** Accounts, and the customers flagged do-not-contact (a customer-level flag at ClearGrid). */
export class ClearGridSandboxAccounts {
  private readonly store = new SandboxStore<ClearGridSandboxAccount>((accountId) => ({
    accountId,
    debtorCompanyId: null,
    status: null,
    disputed: false,
    withdrawn: false,
    history: [],
  }));
  private readonly doNotContact = new Set<string>();
  private readonly pending = new Set<NodeJS.Timeout>();

  isWithdrawn(accountId: string): boolean {
    return this.store.peek(accountId)?.withdrawn ?? false;
  }

  /** Applies accepted changes after PROCESSING_DELAY_MS, in order, as ClearGrid's background job would. */
  schedule(changes: ClearGridSandboxChange[]): void {
    for (const change of changes) this.store.get(change.accountId);
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      for (const change of changes) this.apply(change);
    }, PROCESSING_DELAY_MS);
    timer.unref();
    this.pending.add(timer);
  }

  view(accountId: string): (ClearGridSandboxAccount & { doNotContact: boolean }) | undefined {
    const account = this.store.peek(accountId);
    if (!account) return undefined;
    const doNotContact = account.debtorCompanyId !== null && this.doNotContact.has(account.debtorCompanyId);
    return { ...account, history: [...account.history], doNotContact };
  }

  reset(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
    this.store.clear();
    this.doNotContact.clear();
  }

  private apply(change: ClearGridSandboxChange): void {
    const account = this.store.get(change.accountId);
    // A change accepted before a withdrawal was processed is dropped once the account is withdrawn.
    if (account.withdrawn) return;
    account.debtorCompanyId = change.debtorCompanyId;
    account.status = change.status;
    account.history.push({ status: change.status, at: new Date().toISOString() });
    if (change.status === CLEARGRID_DISPUTED) account.disputed = true;
    if (change.status === CLEARGRID_DO_NOT_CONTACT) this.doNotContact.add(change.debtorCompanyId);
    if (change.status === CLEARGRID_WITHDRAW_STATUS) account.withdrawn = true;
  }
}
