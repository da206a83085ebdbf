/**
 * The built-in Pismo simulator.
 *
 * Routes (as the adapter calls them; `[guess]` paths as in pismo.wire.ts):
 * - `POST /passport/v2/s2s/access-token` `{server_key, server_secret, account_id}` → 200 `{token}`: a
 *   JWT-shaped token bound to that account (claim `uid`), 600 s by default. Accepts exactly
 *   PISMO_SANDBOX_SETTINGS; others get 401 `{"code":"EPSP0001","message":"Invalid credentials"}`.
 *   `external_account_id` is accepted in place of `account_id`.
 * - Every account route needs a live token for THAT account: missing/unknown/expired → 401
 *   `{"code":"EPSP0401","message":"Unauthorized"}`; bound to another account → 403
 *   `{"code":"EPSP0403",…}` (never retried by the adapter). EPSP codes are made up: Pismo documents none.
 * - `PATCH /corporate/v2/corporate-accounts/:externalAccountId/status` → 204, with the documented
 *   WCAC codes: 0013 bad JSON, 0005 static checks, 0012 not found, 0020 unknown status (404), 0021
 *   unknown reason (404), 0036 final target (CANCELLED), 0034 dormancy target, 0035 account already
 *   CANCELLED, 0038 (422) blocked.
 * - `GET /corporate/v1/corporate-accounts/:externalAccountId` → `{external_account_id, status, reason_external_id, …}`.
 * - `PATCH /accounts/v2/accounts/:accountId/status` `{status, reason_id?, description?}` → 204; CANCELLED
 *   allowed (then terminal). This API answers errors as `{message}` only (no code).
 * - `GET /accounts/v1/accounts/:accountId` → `{account_id, status, reason_id, …}`.
 * Reads carry FAKE personal data (names, documents, e-mail) the gateway must never pass on.
 *
 * Magic ids (sandbox-kit): NOTFOUND- unknown account; CLOSED- starts CANCELLED (writes → WCAC0035);
 * ERROR500- 500 ECMN9999; SLOW- delayed; AUTHEXPIRED- the first account call with each token minted
 * up to the account's first 401 → 401 (a re-minted token passes); RATELIMIT- 429 `{message}` without Retry-After; REJECT- 400 WCAC0005; TRANSITION- 422 WCAC0038;
 * DORMANT- the account is DORMANT: reads show it (canonical status null) and writes answer WCAC0034,
 * since the dormancy configuration, not the caller, governs a dormant account here.
 *
 * Control routes: `POST /__sandbox/token-lifetime {"seconds":n}` (0–86400; 0 issues tokens that are
 * already expired), `POST /__sandbox/expire-tokens` (every issued token now answers 401),
 * `POST /__sandbox/token-outage {"enabled":bool}` (the token endpoint answers 500 ECMN9999),
 * `PUT /__sandbox/accounts/:id/status {"status","reason"?}` (the account now reads with these values, set
 * as given: a change made outside the gateway, e.g. `DORMANT` by the dormancy rules), plus the kit's
 * `/__sandbox/calls` and `/__sandbox/reset` (which also restores these defaults).
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jwtVerify, type JWTPayload } from 'jose';
import type { PismoSettings } from './pismo.settings.js';
import { createSandboxApp, magicOf, sleep, statusControl } from '../sandbox/sandbox-kit.js';
import {
  ACCOUNTS_STATUSES,
  CORPORATE_STATUSES,
  DORMANCY_STATUSES,
  FINAL_STATUSES,
  KNOWN_REASONS,
  PISMO_SANDBOX_ERRORS as E,
  PismoSandboxState,
  accountsBodyProblem,
  corporateBodyProblem,
  isObject,
  plain,
  type PismoSandboxAccount,
  type SandboxAnswer,
} from './pismo.sandbox-state.js';
import type { ProviderSandbox } from '../provider-definition.js';

export const PISMO_SANDBOX_TENANT = 'TN-SANDBOX';

let sandboxKeys: { privateKeyPem: string; publicKey: KeyObject } | undefined;

/**
 * The RSA key pair of the OpenID flow in sandbox mode, generated once per process: the adapter signs
 * with the private half (PISMO_SANDBOX_SETTINGS.privateKey) and the sandbox verifies with the public one,
 * so `npm start` with no Pismo settings needs no key.
 */
export function pismoSandboxKeys(): { privateKeyPem: string; publicKey: KeyObject } {
  if (!sandboxKeys) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    sandboxKeys = {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey,
    };
  }
  return sandboxKeys;
}

export const PISMO_SANDBOX_SETTINGS: PismoSettings & {
  serverKey: string;
  serverSecret: string;
  tenantId: string;
  privateKey: string;
} = {
  serverKey: 'pismo-sandbox-server-key',
  serverSecret: 'pismo-sandbox-server-secret',
  accountApi: 'corporate',
  tenantId: PISMO_SANDBOX_TENANT,
  get privateKey() {
    return pismoSandboxKeys().privateKeyPem;
  },
};

type AccountRoute = FastifyRequest<{ Params: { id: string } }>;

export function createPismoSandbox(): FastifyInstance {
  return createSandboxApp((app, kit) => {
    const state = new PismoSandboxState();
    kit.onReset(() => state.reset());
    const send = (reply: FastifyReply, a: SandboxAnswer) => reply.code(a.status).send(a.body);

    // Unparseable JSON: WCAC0013 on the corporate API, a bare message elsewhere.
    app.setErrorHandler((error: { statusCode?: number }, request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) return send(reply, E.internal);
      return send(
        reply,
        request.url.startsWith('/corporate') ? E.badJson : plain(status, 'Invalid JSON payload'),
      );
    });

    /** Auth, then the transport-level magic every account route shares. */
    const gate = async (request: AccountRoute): Promise<SandboxAnswer | undefined> => {
      const id = request.params.id;
      const refused = state.authorize(request, id);
      if (refused) return refused;
      const magic = magicOf(id);
      if (magic?.kind === 'SLOW') await sleep(magic.delayMs);
      if (magic?.kind === 'ERROR500') return E.internal;
      if (magic?.kind === 'RATELIMIT') return E.rateLimited;
      return undefined;
    };

    app.post('/passport/v2/s2s/access-token', (request, reply) => {
      if (state.tokenOutage) return send(reply, E.internal);
      const body = isObject(request.body) ? request.body : {};
      const { serverKey, serverSecret } = PISMO_SANDBOX_SETTINGS;
      if (body.server_key !== serverKey || body.server_secret !== serverSecret)
        return send(reply, E.invalidCredentials);
      const raw = body.account_id ?? body.external_account_id;
      const accountId =
        typeof raw === 'number' && Number.isSafeInteger(raw)
          ? String(raw)
          : typeof raw === 'string'
            ? raw
            : '';
      if (accountId === '') return send(reply, E.missingAccount);
      return reply.code(200).send({ token: state.issue(accountId) });
    });

    // OpenID: an RS256 assertion signed with the gateway's key, bound to one account by its claim.
    app.post('/passport/v1/oauth2/token', async (request, reply) => {
      if (state.tokenOutage) return send(reply, E.internal);
      const assertion =
        isObject(request.body) && typeof request.body.token === 'string' ? request.body.token : '';
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(assertion, pismoSandboxKeys().publicKey, {
          algorithms: ['RS256'],
          requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti'],
        }));
      } catch {
        return send(reply, E.invalidAssertion);
      }
      if (claims.tenant_id !== PISMO_SANDBOX_TENANT || !state.firstUse(claims.jti!)) {
        return send(reply, E.invalidAssertion);
      }
      const accountId = claims.external_account_id ?? claims.uid;
      if (typeof accountId !== 'string' || accountId === '') return send(reply, E.missingAccount);
      return reply.code(201).send({
        access_token: state.issue(accountId),
        refresh_token: randomUUID(),
        expires_in: state.tokenLifetimeSeconds,
      });
    });

    // The corporate and the regular accounts API answer alike around their own write checks and read body.
    for (const api of ACCOUNT_APIS) {
      app.patch(api.writePath, async (request: AccountRoute, reply) => {
        const refused = (await gate(request)) ?? api.write(state, request.params.id, request.body);
        return refused ? send(reply, refused) : reply.code(204).send();
      });

      app.get(api.readPath, async (request: AccountRoute, reply) => {
        const id = request.params.id;
        const refused =
          (await gate(request)) ?? (magicOf(id)?.kind === 'NOTFOUND' ? api.notFound : undefined);
        if (refused) return send(reply, refused);
        return reply.code(200).send(api.read(id, state.accounts.get(id)));
      });
    }

    statusControl(app, { required: ['status'], optional: ['reason'] }, (id, values) => {
      const previous = state.accounts.get(id);
      const reason = values.reason === undefined ? previous.reason : (values.reason ?? undefined);
      state.accounts.set(id, { status: values.status!, reason });
      return { status: values.status, reason: reason ?? null };
    });
    app.post('/__sandbox/token-lifetime', (request, reply) => {
      const seconds = isObject(request.body) ? request.body.seconds : undefined;
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > 86_400) {
        return reply.code(400).send({ message: 'seconds must be an integer from 0 to 86400' });
      }
      state.tokenLifetimeSeconds = seconds;
      return reply.code(204).send();
    });
    app.post('/__sandbox/expire-tokens', (_request, reply) => {
      state.expireAll();
      return reply.code(204).send();
    });
    app.post('/__sandbox/token-outage', (request, reply) => {
      state.tokenOutage = isObject(request.body) && request.body.enabled === true;
      return reply.code(204).send();
    });
  });
}

/** The corporate PATCH after auth: checks in the order Pismo would plausibly run them, then applies. */
function corporateWrite(state: PismoSandboxState, id: string, body: unknown): SandboxAnswer | undefined {
  if (!isObject(body)) return E.badJson;
  const problem = corporateBodyProblem(body);
  if (problem) return problem;
  const magic = magicOf(id)?.kind;
  if (magic === 'REJECT') return E.reasonTooLong;
  if (magic === 'NOTFOUND') return E.notFound;
  const status = body.status as string | undefined;
  const reason = body.reason_external_id as string | undefined;
  if (status !== undefined && !CORPORATE_STATUSES.includes(status)) return E.statusNotFound;
  if (reason !== undefined && !KNOWN_REASONS.includes(reason)) return E.reasonNotFound;
  if (status !== undefined && FINAL_STATUSES.includes(status)) return E.finalTarget;
  if (status !== undefined && DORMANCY_STATUSES.includes(status)) return E.dormancy;
  const account = state.accounts.get(id);
  if (FINAL_STATUSES.includes(account.status)) return E.finalAccount;
  if (DORMANCY_STATUSES.includes(account.status)) return E.dormancy;
  if (magic === 'TRANSITION') return E.blocked;
  state.accounts.set(id, { status: status ?? account.status, reason });
  return undefined;
}

/** The regular Accounts PATCH after auth; this API's errors carry no code. */
function accountsWrite(state: PismoSandboxState, id: string, body: unknown): SandboxAnswer | undefined {
  if (!isObject(body)) return plain(400, 'Invalid JSON payload');
  const problem = accountsBodyProblem(body);
  if (problem) return problem;
  const magic = magicOf(id)?.kind;
  if (magic === 'REJECT') return plain(400, 'reason_id is not valid for this program');
  if (magic === 'NOTFOUND') return plain(404, 'Account not found');
  const status = body.status as string;
  const reason = body.reason_id as string | undefined;
  if (!ACCOUNTS_STATUSES.includes(status)) return plain(400, 'Status not found');
  if (reason !== undefined && !KNOWN_REASONS.includes(reason)) return plain(400, 'Reason not found');
  const account = state.accounts.get(id);
  if (FINAL_STATUSES.includes(account.status)) return plain(400, 'Account is in a final status');
  if (DORMANCY_STATUSES.includes(account.status)) return plain(400, 'Account is dormant');
  if (magic === 'TRANSITION')
    return plain(422, 'Account status update blocked: operation blocked for account.');
  state.accounts.set(id, { status, reason });
  return undefined;
}

/** What the provider's index.ts loads on demand: this simulator and the credentials it accepts. */
export const pismoSandbox: ProviderSandbox<PismoSettings> = {
  create: createPismoSandbox,
  settings: PISMO_SANDBOX_SETTINGS,
};

/** One of Pismo's two account APIs: where it writes and reads, its write checks, its not-found and read body. */
interface SandboxAccountApi {
  writePath: string;
  readPath: string;
  write: (state: PismoSandboxState, id: string, body: unknown) => SandboxAnswer | undefined;
  notFound: SandboxAnswer;
  read: (id: string, account: PismoSandboxAccount) => Record<string, unknown>;
}

const ACCOUNT_APIS: SandboxAccountApi[] = [
  {
    writePath: '/corporate/v2/corporate-accounts/:id/status',
    readPath: '/corporate/v1/corporate-accounts/:id',
    write: corporateWrite,
    notFound: { ...E.notFound, status: 404 },
    read: (id, account) => ({
      external_account_id: id,
      account_id: 102_938_475,
      program_id: 4412,
      status: account.status,
      reason_external_id: account.reason ?? null,
      name: 'Acme Comércio de Alimentos Ltda',
      document_number: '11222333000181',
      legal_representative: { name: 'Mariana Alves Pereira', email: 'mariana.pereira@example.com' },
      creation_date: '2024-03-18T13:02:11Z',
    }),
  },
  {
    writePath: '/accounts/v2/accounts/:id/status',
    readPath: '/accounts/v1/accounts/:id',
    write: accountsWrite,
    notFound: plain(404, 'Account not found'),
    read: (id, account) => ({
      account_id: id,
      program_id: 4412,
      status: account.status,
      reason_id: account.reason ?? null,
      name: 'Rafael Costa Lima',
      document_number: '12345678909',
      email: 'rafael.lima@example.com',
      phone: { country_code: '55', area_code: '11', number: '987654321' },
    }),
  },
];
