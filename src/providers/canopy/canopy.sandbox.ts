/**
 * Built-in simulator of Canopy Servicing's API (the parts the gateway uses):
 *   POST /auth/token                 `{"client_id","client_secret"}` → `{"access_token","expires_in","token_type":"Bearer"}`;
 *                                    accepts exactly CANOPY_SANDBOX_SETTINGS, else 401 `invalid_client`.
 *   PUT  /accounts/:id/status        `{"account_status","account_substatus"}` → 200 with the whole account
 *                                    (fake PII, see canopy.sandbox-state.ts); validates enum values and pairs.
 *   GET  /accounts/:id               → 200 with the whole account.
 * Accounts start ACTIVE with no substatus; CLOSED is not terminal at Canopy, so every transition is allowed.
 * Accepted pairs: ACTIVE alone or + HARDSHIP/EXEMPTIONS; SUSPENDED and CLOSED alone or + any documented
 * substatus (the README saw fewer SUSPENDED pairs; the contract's mappings need e.g. SUSPENDED + DELINQUENT).
 * An expired token is answered 403 `not_authorized` (the inferred behaviour) or 401 `token_expired`.
 *
 * Magic account ids (sandbox-kit MAGIC_PREFIXES): NOTFOUND- 404 `account_not_found`; CLOSED- starts CLOSED
 * (PAID_OFF); ERROR500- 500; SLOW[ms]- delayed; AUTHEXPIRED- the first call with each token answers 401
 * `token_expired` (as if it expired mid-flight), except tokens issued after that account's last such 401,
 * so a client that fetches a new token recovers;
 * RATELIMIT- 429 with `Retry-After: 1`; REJECT- 400 `validation_error`; FORBIDDEN- 403 `forbidden`
 * (not an expired token: the client is not entitled to the account).
 *
 * Control routes besides the kit's:
 *   POST /__sandbox/token-lifetime        `{"seconds":n}` lifetime (and `expires_in`) of tokens issued next.
 *   POST /__sandbox/expired-token-status  `{"status":401|403}` how an expired token is answered (default 403).
 *   POST /__sandbox/expire-tokens         every token issued so far expires now.
 *   POST /__sandbox/token-failure         `{"status":n,"times":k}` the next k token requests answer n.
 *   PUT  /__sandbox/accounts/:id/status   `{"account_status","account_substatus"?}` the account now reads
 *                                         with these values, set as given (a change made outside the gateway).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CanopySettings } from './canopy.settings.js';
import {
  SandboxStore,
  bearerOf,
  createSandboxApp,
  magicOf,
  sleep,
  statusControl,
} from '../sandbox/sandbox-kit.js';
import {
  MAGIC_FAILURES,
  canopySandboxAccount,
  fail,
  type CanopySandboxAccountState,
} from './canopy.sandbox-state.js';
import { CANOPY_ACCOUNT_STATUSES, CANOPY_SUBSTATUSES } from './canopy.wire.js';
import type { ProviderSandbox } from '../provider-definition.js';

export const CANOPY_SANDBOX_SETTINGS: CanopySettings = {
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret-8c1f0e',
};

/** The lifetime Canopy's docs show for a token. */
export const CANOPY_SANDBOX_TOKEN_LIFETIME_S = 22899;

interface IssuedToken {
  /** Issue order, to tell tokens issued before and after an AUTHEXPIRED- 401 apart. */
  seq: number;
  expiresAt: number;
  /** AUTHEXPIRED- accounts already answered 401 once with this token. */
  authExpiredSeen: Set<string>;
}

interface Settings {
  lifetimeSeconds: number;
  expiredTokenStatus: 401 | 403;
  tokenFailure?: { status: number; times: number };
}

const defaults = (): Settings => ({
  lifetimeSeconds: CANOPY_SANDBOX_TOKEN_LIFETIME_S,
  expiredTokenStatus: 403,
});

export function createCanopySandbox(): FastifyInstance {
  return createSandboxApp((app, kit) => {
    const tokens = new Map<string, IssuedToken>();
    let tokenSeq = 0;
    /** AUTHEXPIRED- account → the last token seq issued when it answered 401; later tokens pass. */
    const authExpiredUpTo = new Map<string, number>();
    let settings = defaults();
    const store = new SandboxStore<CanopySandboxAccountState>((accountId) => {
      const now = new Date().toISOString();
      const closed = magicOf(accountId)?.kind === 'CLOSED';
      return {
        status: closed ? 'CLOSED' : 'ACTIVE',
        substatus: closed ? 'PAID_OFF' : '',
        createdAt: now,
        updatedAt: now,
      };
    });
    kit.onReset(() => {
      tokens.clear();
      authExpiredUpTo.clear();
      store.clear();
      settings = defaults();
    });

    app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
      return status < 500
        ? fail(reply, 400, 'invalid_request_error', 'invalid_request', error.message)
        : fail(reply, 500, 'api_error', 'internal_server_error', 'Internal server error');
    });

    app.post('/auth/token', (request, reply) => {
      const failure = settings.tokenFailure;
      if (failure && failure.times > 0) {
        failure.times -= 1;
        return fail(reply, failure.status, 'api_error', 'token_service_error', 'Token service failure');
      }
      const body = (request.body ?? {}) as { client_id?: unknown; client_secret?: unknown };
      if (typeof body.client_id !== 'string' || typeof body.client_secret !== 'string') {
        return fail(
          reply,
          400,
          'invalid_request_error',
          'validation_error',
          'client_id and client_secret are required',
        );
      }
      if (
        body.client_id !== CANOPY_SANDBOX_SETTINGS.clientId ||
        body.client_secret !== CANOPY_SANDBOX_SETTINGS.clientSecret
      ) {
        return fail(reply, 401, 'authentication_error', 'invalid_client', 'Invalid client credentials');
      }
      const accessToken = `cnp_${randomBytes(24).toString('base64url')}`;
      tokenSeq += 1;
      tokens.set(accessToken, {
        seq: tokenSeq,
        expiresAt: Date.now() + settings.lifetimeSeconds * 1000,
        authExpiredSeen: new Set(),
      });
      return { access_token: accessToken, expires_in: settings.lifetimeSeconds, token_type: 'Bearer' };
    });

    /** Auth and magic-id checks shared by the account routes; true when it already answered. */
    async function refused(
      request: FastifyRequest,
      reply: FastifyReply,
      accountId: string,
    ): Promise<boolean> {
      const bearer = bearerOf(request);
      const token = bearer === undefined ? undefined : tokens.get(bearer);
      if (!token) {
        await fail(reply, 401, 'authentication_error', 'unauthorized', 'Missing or invalid access token');
        return true;
      }
      if (token.expiresAt <= Date.now()) {
        if (settings.expiredTokenStatus === 401) {
          await fail(reply, 401, 'authentication_error', 'token_expired', 'Access token expired');
        } else {
          await fail(reply, 403, 'authorization_error', 'not_authorized', 'Not authorized');
        }
        return true;
      }
      const magic = magicOf(accountId);
      if (!magic) return false;
      switch (magic.kind) {
        case 'SLOW':
          await sleep(magic.delayMs);
          return false;
        case 'AUTHEXPIRED':
          if (
            token.authExpiredSeen.has(accountId) ||
            token.seq > (authExpiredUpTo.get(accountId) ?? Infinity)
          ) {
            return false;
          }
          token.authExpiredSeen.add(accountId);
          authExpiredUpTo.set(accountId, tokenSeq);
          await fail(reply, 401, 'authentication_error', 'token_expired', 'Access token expired');
          return true;
        case 'NOTFOUND':
        case 'FORBIDDEN':
        case 'RATELIMIT':
        case 'ERROR500':
        case 'REJECT': {
          const [status, ...error] = MAGIC_FAILURES[magic.kind];
          if (status === 429) void reply.header('retry-after', '1');
          await fail(reply, status, ...error);
          return true;
        }
        case 'CLOSED':
        case 'TRANSITION':
        case 'DORMANT':
          return false;
      }
    }

    app.get<{ Params: { accountId: string } }>('/accounts/:accountId', async (request, reply) => {
      const { accountId } = request.params;
      if (await refused(request, reply, accountId)) return reply;
      return canopySandboxAccount(accountId, store.get(accountId));
    });

    app.put<{ Params: { accountId: string } }>('/accounts/:accountId/status', async (request, reply) => {
      const { accountId } = request.params;
      if (await refused(request, reply, accountId)) return reply;
      const problem = invalidStatusBody(request.body);
      if (problem) {
        return fail(reply, 400, 'invalid_request_error', 'validation_error', problem.message, [problem]);
      }
      const body = request.body as { account_status: string; account_substatus?: string | null };
      const state = store.get(accountId);
      state.status = body.account_status;
      state.substatus = body.account_substatus ?? '';
      state.updatedAt = new Date().toISOString();
      return canopySandboxAccount(accountId, state);
    });

    statusControl(
      app,
      { required: ['account_status'], optional: ['account_substatus'] },
      (accountId, values) => {
        const state = store.get(accountId);
        state.status = values.account_status!;
        if (values.account_substatus !== undefined) state.substatus = values.account_substatus ?? '';
        state.updatedAt = new Date().toISOString();
        return { account_status: state.status, account_substatus: state.substatus };
      },
    );
    app.post('/__sandbox/token-lifetime', (request, reply) => {
      const seconds = (request.body as { seconds?: unknown } | undefined)?.seconds;
      if (typeof seconds !== 'number' || seconds < 0)
        return reply.code(400).send({ message: 'seconds ≥ 0 required' });
      settings.lifetimeSeconds = seconds;
      return reply.code(204).send();
    });
    app.post('/__sandbox/expired-token-status', (request, reply) => {
      const status = (request.body as { status?: unknown } | undefined)?.status;
      if (status !== 401 && status !== 403)
        return reply.code(400).send({ message: 'status must be 401 or 403' });
      settings.expiredTokenStatus = status;
      return reply.code(204).send();
    });
    app.post('/__sandbox/expire-tokens', (_request, reply) => {
      const now = Date.now();
      for (const token of tokens.values()) token.expiresAt = Math.min(token.expiresAt, now);
      return reply.code(204).send();
    });
    app.post('/__sandbox/token-failure', (request, reply) => {
      const { status, times } = (request.body ?? {}) as { status?: unknown; times?: unknown };
      if (typeof status !== 'number') return reply.code(400).send({ message: 'status required' });
      settings.tokenFailure = { status, times: typeof times === 'number' ? times : 1 };
      return reply.code(204).send();
    });
  });
}

/** Canopy's validation of the status body; undefined when it is acceptable. */
function invalidStatusBody(body: unknown): { field: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null)
    return { field: 'body', message: 'body must be a JSON object' };
  const { account_status: status, account_substatus: sub } = body as Record<string, unknown>;
  if (typeof status !== 'string' || !(CANOPY_ACCOUNT_STATUSES as readonly string[]).includes(status)) {
    return {
      field: 'account_status',
      message: `account_status must be one of ${CANOPY_ACCOUNT_STATUSES.join(', ')}`,
    };
  }
  if (sub === undefined || sub === null || sub === '') return undefined;
  if (typeof sub !== 'string' || !(CANOPY_SUBSTATUSES as readonly string[]).includes(sub)) {
    return {
      field: 'account_substatus',
      message: `account_substatus must be one of ${CANOPY_SUBSTATUSES.join(', ')}`,
    };
  }
  if (status === 'ACTIVE' && sub !== 'HARDSHIP/EXEMPTIONS') {
    return {
      field: 'account_substatus',
      message: `account_substatus ${sub} is not allowed with account_status ACTIVE`,
    };
  }
  return undefined;
}

/** What the provider's index.ts loads on demand: this simulator and the credentials it accepts. */
export const canopySandbox: ProviderSandbox<CanopySettings> = {
  create: createCanopySandbox,
  settings: CANOPY_SANDBOX_SETTINGS,
};
