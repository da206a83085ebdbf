/**
 * State and rules of the Pismo simulator (routes in pismo.sandbox.ts): accounts, account-bound
 * tokens, the status catalogue and the body checks of the status endpoints.
 */
import type { FastifyRequest } from 'fastify';
import { CANONICAL_REASONS } from '../../domain/index.js';
import { SandboxStore, bearerOf, magicOf, sandboxJwt } from '../sandbox/sandbox-kit.js';
import { PISMO_DOCUMENTED_STATUSES, PISMO_DORMANCY_STATUSES } from './pismo.wire.js';

export interface SandboxAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** `{code, message}` as the corporate API and Passport send it. */
export const answer = (status: number, code: string, message: string): SandboxAnswer => ({
  status,
  body: { code, message },
});

/** `{message}` only, as the regular Accounts API and the gateway layer in front of Pismo send it. */
export const plain = (status: number, message: string): SandboxAnswer => ({ status, body: { message } });

export const PISMO_SANDBOX_ERRORS = {
  // Documented bodies (the corporate status page).
  notFound: answer(400, 'WCAC0012', 'Corporate account not found'),
  badJson: answer(400, 'WCAC0013', 'Invalid JSON payload received: Error unmarshalling request.'),
  dormancy: answer(400, 'WCAC0034', "status is specified in account's dormancy config"),
  finalAccount: answer(400, 'WCAC0035', 'Account is currently in the final status'),
  finalTarget: answer(400, 'WCAC0036', 'status cannot be final'),
  reasonTooLong: answer(400, 'WCAC0005', 'reason_external_id must be a maximum of 120 characters in length'),
  nothingToChange: answer(400, 'WCAC0005', 'status or reason_external_id must be provided'),
  statusNotFound: answer(404, 'WCAC0020', 'Status not found'),
  reasonNotFound: answer(404, 'WCAC0021', 'Reason not found'),
  blocked: answer(422, 'WCAC0038', 'Account status update blocked: operation blocked for account.'),
  internal: answer(500, 'ECMN9999', 'Internal error'),
  // Made up: Pismo documents no body for these; the codes are the simulator's own.
  invalidCredentials: answer(401, 'EPSP0001', 'Invalid credentials'),
  invalidAssertion: answer(401, 'EPSP0002', 'Invalid token: signature, tenant, claims or expiry refused'),
  missingAccount: answer(400, 'EPSP0005', 'account_id must be provided'),
  unauthorized: answer(401, 'EPSP0401', 'Unauthorized'),
  wrongAccount: answer(403, 'EPSP0403', 'Token does not grant access to this account'),
  // Documented as "429 without Retry-After"; the `{message}` body is the API gateway's usual one.
  rateLimited: plain(429, 'Too Many Requests'),
} as const;

export const FINAL_STATUSES = ['CANCELLED'];
export const DORMANCY_STATUSES: readonly string[] = PISMO_DORMANCY_STATUSES;
export const CORPORATE_STATUSES: readonly string[] = PISMO_DOCUMENTED_STATUSES;
export const ACCOUNTS_STATUSES = ['NORMAL', 'BLOCKED', 'CANCELLED', 'DEBIT_ONLY'];
/** The organisation's reasons in this sandbox: the canonical ones and a doc example. */
export const KNOWN_REASONS: readonly string[] = [...CANONICAL_REASONS, 'CREDIT_ONLY'];

export interface PismoSandboxAccount {
  status: string;
  reason?: string;
}

interface IssuedToken {
  accountId: string;
  expiresAt: number;
  /** Issue order, to tell tokens minted before and after an AUTHEXPIRED- 401 apart. */
  seq: number;
  refusedOnce: boolean;
}

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 600;

/** Accounts and tokens of one simulator instance. */
export class PismoSandboxState {
  readonly accounts = new SandboxStore<PismoSandboxAccount>((id) => {
    const kind = magicOf(id)?.kind;
    return { status: kind === 'CLOSED' ? 'CANCELLED' : kind === 'DORMANT' ? 'DORMANT' : 'NORMAL' };
  });
  private readonly tokens = new Map<string, IssuedToken>();
  /** `jti`s of the OpenID assertions exchanged so far: each may be used once. */
  private readonly assertionIds = new Set<string>();
  private issued = 0;
  /** AUTHEXPIRED- account → the last token issued when it answered 401; tokens minted later pass. */
  private readonly authExpiredUpTo = new Map<string, number>();
  tokenLifetimeSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS;
  tokenOutage = false;

  issue(accountId: string): string {
    const token = sandboxJwt({ uid: accountId, tenant_id: 'TN-SANDBOX' }, this.tokenLifetimeSeconds);
    this.tokens.set(token, {
      accountId,
      expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000,
      seq: ++this.issued,
      refusedOnce: false,
    });
    return token;
  }

  /** False when an assertion with this `jti` was exchanged before (a replay). */
  firstUse(jti: string): boolean {
    if (this.assertionIds.has(jti)) return false;
    this.assertionIds.add(jti);
    return true;
  }

  expireAll(): void {
    for (const token of this.tokens.values()) token.expiresAt = 0;
  }

  /** The auth answer for a call on `accountId`, or undefined when the token may proceed. */
  authorize(request: FastifyRequest, accountId: string): SandboxAnswer | undefined {
    const bearer = bearerOf(request);
    const token = bearer === undefined ? undefined : this.tokens.get(bearer);
    if (!token || token.expiresAt <= Date.now()) return PISMO_SANDBOX_ERRORS.unauthorized;
    if (token.accountId !== accountId) return PISMO_SANDBOX_ERRORS.wrongAccount;
    if (magicOf(accountId)?.kind === 'AUTHEXPIRED' && !token.refusedOnce) {
      // The first call with each token minted up to the account's first 401 is refused: a token
      // "expiring mid-flight"; a token minted after that (the adapter's re-mint) passes.
      const upTo = this.authExpiredUpTo.get(accountId);
      if (upTo === undefined || token.seq <= upTo) {
        token.refusedOnce = true;
        this.authExpiredUpTo.set(accountId, this.issued);
        return PISMO_SANDBOX_ERRORS.unauthorized;
      }
    }
    return undefined;
  }

  reset(): void {
    this.accounts.clear();
    this.tokens.clear();
    this.assertionIds.clear();
    this.authExpiredUpTo.clear();
    this.tokenLifetimeSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS;
    this.tokenOutage = false;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Static checks of the corporate PATCH body (WCAC0005 family); undefined when it passes. */
export function corporateBodyProblem(body: Record<string, unknown>): SandboxAnswer | undefined {
  const { status, reason_external_id: reason, update_children: children, metadata } = body;
  if (status === undefined && reason === undefined) return PISMO_SANDBOX_ERRORS.nothingToChange;
  if (status !== undefined && !isPismoStatusWord(status)) {
    return answer(400, 'WCAC0005', 'status must match ^[A-Z_]+$ and be 1 to 9 characters in length');
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length < 1 || reason.length > 120)) {
    return PISMO_SANDBOX_ERRORS.reasonTooLong;
  }
  if (children !== undefined && typeof children !== 'boolean') {
    return answer(400, 'WCAC0005', 'update_children must be a boolean');
  }
  if (metadata !== undefined && !isObject(metadata))
    return answer(400, 'WCAC0005', 'metadata must be an object');
  return undefined;
}

/** Static checks of the regular Accounts PATCH body; that API answers `{message}` only. */
export function accountsBodyProblem(body: Record<string, unknown>): SandboxAnswer | undefined {
  const { status, reason_id: reason, description } = body;
  if (!isPismoStatusWord(status))
    return plain(400, 'status must match ^[A-Z_]+$ and be 1 to 9 characters in length');
  if (reason !== undefined && (typeof reason !== 'string' || reason.length < 1 || reason.length > 120)) {
    return plain(400, 'reason_id must be 1 to 120 characters in length');
  }
  if (description !== undefined && typeof description !== 'string')
    return plain(400, 'description must be a string');
  return undefined;
}

function isPismoStatusWord(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Z_]{1,9}$/.test(value);
}
