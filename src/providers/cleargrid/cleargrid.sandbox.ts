/**
 * Built-in simulator of ClearGrid "Command" (documented API only):
 *   POST /admin/auth/:lender/login                                 {email,password} → {lenderPublicId,token,refreshToken}
 *   POST /admin/auth/:lender/refresh-token                         {refreshToken} → {token}
 *   POST /admin/v3/lenders/:lenderPublicId/accounts/update-status  items {status:5|6,debtorCompanyId,accountId}
 *   POST /admin/v3/lenders/:lenderPublicId/accounts                items {status:3,accountId,debtorCompanyId} (withdraw only)
 * Login accepts exactly CLEARGRID_SANDBOX_SETTINGS; anything else → 401 {"error":"Unauthorized"}.
 * Writes need a live bearer from this sandbox (else 401) whose lender matches the URL (else 403
 * {"error":"Forbidden"}, body guessed). Valid writes answer the documented 200 envelope and are applied
 * PROCESSING_DELAY_MS later; a withdrawn account refuses later changes ("Account has been withdrawn").
 * Any invalid item rejects the whole batch with the documented per-account 400 [inferred].
 *
 * Magic account ids (sandbox-kit): NOTFOUND- → 400 "Account not found"; CLOSED- → 400 "Account has
 * been withdrawn"; REJECT- → 400 per-account validation error; ERROR500- → 500 documented body;
 * SLOW[ms]- → late answer; AUTHEXPIRED- → the account's first write answers 401 and from then on
 * it refuses tokens issued before that 401 (see ClearGridSandboxAuth.expiresInFlight); RATELIMIT- → 429
 * {"error":"Too Many Requests"}; FORBIDDEN- → 403 (lender mismatch). A login for lender ERROR500-… → 500.
 *
 * Control routes (besides the kit's /__sandbox/calls and /__sandbox/reset):
 *   GET  /__sandbox/accounts/:accountId      the account's state (ClearGrid has no read endpoint); 404 if never touched
 *   POST /__sandbox/token-lifetime           {"seconds":n[,"refreshSeconds":m]} lifetime of tokens issued from now on
 *   POST /__sandbox/revoke-tokens            every access token issued so far answers 401 from now on
 *   POST /__sandbox/revoke-refresh-tokens    every refresh token issued so far is refused from now on
 *   POST /__sandbox/refuse-tokens            {"on":bool} while on, every bearer (even new ones) answers 401
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerOf, createSandboxApp, magicOf, sleep, type Magic } from '../sandbox/sandbox-kit.js';
import {
  CLEARGRID_SANDBOX_SETTINGS,
  ClearGridSandboxAccounts,
  ClearGridSandboxAuth,
  type ClearGridSandboxChange,
} from './cleargrid.sandbox-state.js';
import type { ClearGridAccountErrors, ClearGridEnvelope, ClearGridErrorBody } from './cleargrid.wire.js';
import type { ProviderSandbox } from '../provider-definition.js';
import type { ClearGridSettings } from './cleargrid.settings.js';

export { CLEARGRID_SANDBOX_LENDER_PUBLIC_ID, CLEARGRID_SANDBOX_SETTINGS } from './cleargrid.sandbox-state.js';

const UNAUTHORIZED: ClearGridErrorBody = { error: 'Unauthorized' };
const FORBIDDEN: ClearGridErrorBody = { error: 'Forbidden' };
const SERVER_ERROR: ClearGridErrorBody = { error: 'Something went wrong. Please try again later.' };
const TOO_MANY: ClearGridErrorBody = { error: 'Too Many Requests' };
const ACCEPTED: ClearGridEnvelope = {
  code: 200,
  message: 'success',
  body: 'Processing started successfully',
  errors: [],
};

interface WriteRules {
  accepted: number[];
  /** Per-item message for a status outside `accepted`. */
  invalidStatus: string;
}

const UPDATE_STATUS_RULES: WriteRules = {
  accepted: [5, 6],
  invalidStatus: 'Invalid status value. Accepted values: 5, 6',
};
const ACCOUNTS_RULES: WriteRules = {
  accepted: [3],
  invalidStatus: 'Invalid status value. Accepted values: 1, 2, 3 (the sandbox simulates only 3, Withdraw)',
};

type LenderParams = { Params: { lender: string }; Body: unknown };
type WriteParams = { Params: { lenderPublicId: string }; Body: unknown };

export function createClearGridSandbox(): FastifyInstance {
  return createSandboxApp((app, kit) => {
    const auth = new ClearGridSandboxAuth();
    const accounts = new ClearGridSandboxAccounts();
    kit.onReset(() => {
      auth.reset();
      accounts.reset();
    });
    app.addHook('onClose', (_instance, done) => {
      accounts.reset();
      done();
    });

    app.post<LenderParams>('/admin/auth/:lender/login', (request, reply) => {
      if (magicOf(request.params.lender)?.kind === 'ERROR500') return reply.code(500).send(SERVER_ERROR);
      const body = record(request.body);
      const login = auth.login(request.params.lender, body.email, body.password);
      return login ? reply.send(login) : reply.code(401).send(UNAUTHORIZED);
    });

    app.post<LenderParams>('/admin/auth/:lender/refresh-token', (request, reply) => {
      const token = auth.refreshAccess(request.params.lender, record(request.body).refreshToken);
      return token ? reply.send({ token }) : reply.code(401).send(UNAUTHORIZED);
    });

    const write =
      (rules: WriteRules) => async (request: FastifyRequest<WriteParams>, reply: FastifyReply) => {
        const token = bearerOf(request);
        const lenderPublicId = auth.lenderOf(token);
        if (!token || !lenderPublicId) return reply.code(401).send(UNAUTHORIZED);
        if (lenderPublicId !== request.params.lenderPublicId) return reply.code(403).send(FORBIDDEN);
        const items = record(request.body).accounts;
        if (!Array.isArray(items) || items.length === 0) {
          return reply.code(400).send(envelope400('accounts must be a non-empty array', []));
        }
        const magics = items
          .map((item) => magicOf(text(record(item).accountId)))
          .filter((m): m is Magic => !!m);
        const has = (kind: Magic['kind']) => magics.find((m) => m.kind === kind);
        if (has('FORBIDDEN')) return reply.code(403).send(FORBIDDEN);
        const expiring = items
          .map((item) => text(record(item).accountId))
          .filter((id) => id.startsWith('AUTHEXPIRED-'));
        if (expiring.some((id) => auth.expiresInFlight(token, id))) return reply.code(401).send(UNAUTHORIZED);
        const slow = has('SLOW');
        if (slow) await sleep(slow.delayMs);
        if (has('RATELIMIT')) return reply.code(429).send(TOO_MANY);
        if (has('ERROR500')) return reply.code(500).send(SERVER_ERROR);

        const errors: ClearGridAccountErrors[] = [];
        const changes: ClearGridSandboxChange[] = [];
        for (const raw of items) {
          const item = record(raw);
          const problems = itemProblems(item, rules, accounts);
          if (problems.length > 0) errors.push({ accountId: text(item.accountId), errors: problems });
          else changes.push(item as unknown as ClearGridSandboxChange);
        }
        if (errors.length > 0) return reply.code(400).send(envelope400(null, errors));
        accounts.schedule(changes);
        return reply.send(ACCEPTED);
      };
    app.post('/admin/v3/lenders/:lenderPublicId/accounts/update-status', write(UPDATE_STATUS_RULES));
    app.post('/admin/v3/lenders/:lenderPublicId/accounts', write(ACCOUNTS_RULES));

    app.get<{ Params: { accountId: string } }>('/__sandbox/accounts/:accountId', (request, reply) => {
      const view = accounts.view(request.params.accountId);
      return view ? reply.send(view) : reply.code(404).send({ message: 'No such sandbox account' });
    });
    app.post<{ Body: unknown }>('/__sandbox/token-lifetime', (request, reply) => {
      const { seconds, refreshSeconds } = record(request.body);
      if (!isPositive(seconds) || (refreshSeconds !== undefined && !isPositive(refreshSeconds))) {
        return reply.code(400).send({ message: 'seconds (and refreshSeconds) must be positive numbers' });
      }
      auth.accessLifetimeSeconds = seconds;
      if (refreshSeconds !== undefined) auth.refreshLifetimeSeconds = refreshSeconds;
      return reply.code(204).send();
    });
    app.post('/__sandbox/revoke-tokens', (_request, reply) => {
      auth.revokeAccessTokens();
      return reply.code(204).send();
    });
    app.post('/__sandbox/revoke-refresh-tokens', (_request, reply) => {
      auth.revokeRefreshTokens();
      return reply.code(204).send();
    });
    app.post<{ Body: unknown }>('/__sandbox/refuse-tokens', (request, reply) => {
      auth.refuseAllBearers = record(request.body).on === true;
      return reply.code(204).send();
    });
  });
}

function itemProblems(
  item: Record<string, unknown>,
  rules: WriteRules,
  accounts: ClearGridSandboxAccounts,
): string[] {
  const problems: string[] = [];
  const { accountId, debtorCompanyId, status } = item;
  if (typeof accountId !== 'string' || accountId === '') problems.push('accountId is required');
  if (typeof debtorCompanyId !== 'string' || debtorCompanyId === '')
    problems.push('debtorCompanyId is required');
  if (typeof status !== 'number' || !rules.accepted.includes(status)) problems.push(rules.invalidStatus);
  if (problems.length > 0 || typeof accountId !== 'string') return problems;
  const magic = magicOf(accountId)?.kind;
  if (magic === 'NOTFOUND') return ['Account not found'];
  if (magic === 'CLOSED' || accounts.isWithdrawn(accountId)) return ['Account has been withdrawn'];
  if (magic === 'REJECT') return ['debtorCompanyId does not match the debtor of this account'];
  return [];
}

function envelope400(message: string | null, errors: ClearGridAccountErrors[]): ClearGridEnvelope {
  return { code: 400, message, body: '', errors };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** What the provider's index.ts loads on demand: this simulator and the credentials it accepts. */
export const cleargridSandbox: ProviderSandbox<ClearGridSettings> = {
  create: createClearGridSandbox,
  settings: CLEARGRID_SANDBOX_SETTINGS,
};
