/**
 * Built-in Spidr simulator.
 *
 * Routes (every one needs the API key in SPIDR_API_KEY_HEADER, else 401 in Spidr's error shape):
 * - `PATCH /v1/account/:id` `{"status", "ztmSessionKey"?, "bypassZtm"?}` → 200 with the account
 *   object. `status` must be one of Spidr's seven write values (else 400 INVALID_INPUT); ZTM fields are
 *   type-checked. active ↔ suspended ↔ delinquent freely, any → close_*; a closed account refuses
 *   every change: 400 ACCOUNT_ERROR / ACCOUNT_CLOSED (the live code is a guess, see
 *   SPIDR_ACCOUNT_CLOSED_CODES). A body without `status` edits nothing and returns the account.
 * - `GET /v1/account/:id` → 200 `{id, status, statusReason, …fake user PII}`; closed accounts read
 *   `"status":"closed","statusReason":"close_…"`. Writes are visible in later reads.
 * - Control routes: the sandbox kit's (`GET|DELETE /__sandbox/calls`, `POST /__sandbox/reset`,
 *   `/__sandbox/faults`), and `PUT /__sandbox/accounts/:id/status` `{"status", "statusReason"?}`: the
 *   account now reads with these values, set as given (a change made outside the gateway).
 *
 * Magic account ids (sandbox-kit MAGIC_PREFIXES, adapted to a static API key):
 * - `NOTFOUND-`    → 404 NOT_FOUND (no errorCode, so the gateway falls back to errorType)
 * - `CLOSED-`      → starts closed (close_with_refund): writes answer ACCOUNT_ERROR / ACCOUNT_CLOSED
 * - `ERROR500-`    → 500 LOOKUP_ERROR
 * - `SLOW-`        → answers after 3 s (`SLOW<ms>-` for <ms>), then normally
 * - `AUTHEXPIRED-` → 401 on EVERY call: Spidr has no tokens, so this proves the gateway does not loop
 * - `RATELIMIT-`   → 429 with `Retry-After: 2`
 * - `REJECT-`      → PATCH answers 400 INVALID_REQUEST (reads answer normally)
 * - `ZTM-`         → PATCH answers 400 ZTM_ERROR unless `bypassZtm` is true or `ztmSessionKey` is given
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SpidrSettings } from './spidr.settings.js';
import { SandboxStore, createSandboxApp, magicOf, sleep, statusControl } from '../sandbox/sandbox-kit.js';
import {
  applySpidrStatus,
  newSpidrAccount,
  spidrError,
  type SpidrSandboxAccount,
} from './spidr.sandbox-state.js';
import { SPIDR_WRITE_STATUSES, SPIDR_ZTM_FIELDS, isSpidrWriteStatus } from './spidr.transformers.js';
import { SPIDR_API_KEY_HEADER, SPIDR_STATUS } from './spidr.wire.js';
import type { ProviderSandbox } from '../provider-definition.js';

export const SPIDR_SANDBOX_SETTINGS: SpidrSettings = { apiKey: 'sk_sandbox_statusgate_0000000000000000' };

/** Prefix only this provider knows (not in the shared kit). */
const ZTM_PREFIX = 'ZTM-';

type Params = { id: string };

export function createSpidrSandbox(): FastifyInstance {
  return createSandboxApp((app, kit) => {
    const accounts = new SandboxStore<SpidrSandboxAccount>((id) =>
      newSpidrAccount(id, magicOf(id)?.kind === 'CLOSED'),
    );
    kit.onReset(() => accounts.clear());
    statusControl(app, { required: ['status'], optional: ['statusReason'] }, (id, values) => {
      const account = accounts.get(id);
      account.status = values.status!;
      if (values.statusReason !== undefined) account.statusReason = values.statusReason;
      account.updatedAt = new Date().toISOString();
      return { status: account.status, statusReason: account.statusReason };
    });

    // Spidr's shape for bodies Fastify cannot parse, and for anything that slips through.
    app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const status = error.statusCode ?? 500;
      if (status < 500)
        return reply.code(400).send(spidrError('INVALID_REQUEST', 'MALFORMED_REQUEST', error.message));
      return reply.code(500).send(spidrError('LOOKUP_ERROR', null, 'Internal error'));
    });

    app.get<{ Params: Params }>('/v1/account/:id', async (request, reply) => {
      if (!(await admitted(request, reply))) return reply;
      return reply.code(200).send(accounts.get(request.params.id));
    });

    app.patch<{ Params: Params }>('/v1/account/:id', async (request, reply) => {
      if (!(await admitted(request, reply))) return reply;
      const id = request.params.id;
      const body: Record<string, unknown> = isObject(request.body) ? request.body : {};
      if (magicOf(id)?.kind === 'REJECT') {
        return reply
          .code(400)
          .send(spidrError('INVALID_REQUEST', 'REQUEST_REJECTED', 'The request was rejected'));
      }
      const invalid = invalidField(body);
      if (invalid)
        return reply.code(400).send(spidrError('INVALID_INPUT', 'INVALID_FIELD', invalid.message, invalid));
      if (
        id.startsWith(ZTM_PREFIX) &&
        body[SPIDR_ZTM_FIELDS.bypass] !== true &&
        !body[SPIDR_ZTM_FIELDS.sessionKey]
      ) {
        return reply
          .code(400)
          .send(spidrError('ZTM_ERROR', 'ZTM_SESSION_REQUIRED', 'A ZTM session key is required'));
      }
      const account = accounts.get(id);
      if (body.status === undefined || body.status === null) return reply.code(200).send(account);
      if (account.status === SPIDR_STATUS.closed) {
        const message = `Account ${id} is closed (${account.statusReason}); a closed account cannot be changed`;
        return reply.code(400).send(spidrError('ACCOUNT_ERROR', 'ACCOUNT_CLOSED', message));
      }
      if (isSpidrWriteStatus(body.status)) applySpidrStatus(account, body.status);
      return reply.code(200).send(account);
    });
  });
}

/** The key check and the magic ids every route shares; false when a reply was already sent. */
async function admitted(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<boolean> {
  const expected = SPIDR_API_KEY_HEADER.value(SPIDR_SANDBOX_SETTINGS.apiKey);
  const magic = magicOf(request.params.id);
  if (request.headers[SPIDR_API_KEY_HEADER.name] !== expected || magic?.kind === 'AUTHEXPIRED') {
    await reply.code(401).send(spidrError('INVALID_REQUEST', 'UNAUTHORIZED', 'Invalid or missing API key'));
    return false;
  }
  switch (magic?.kind) {
    case 'SLOW':
      await sleep(magic.delayMs);
      return true;
    case 'NOTFOUND':
      await reply.code(404).send(spidrError('NOT_FOUND', null, `Account ${request.params.id} not found`));
      return false;
    case 'ERROR500':
      await reply
        .code(500)
        .send(spidrError('LOOKUP_ERROR', 'LOOKUP_FAILED', 'Could not look up the account'));
      return false;
    case 'RATELIMIT':
      await reply
        .code(429)
        .header('retry-after', '2')
        .send(spidrError('INVALID_REQUEST', 'TOO_MANY_REQUESTS', 'Too many requests'));
      return false;
    case 'CLOSED':
    case 'REJECT':
    case 'TRANSITION':
    case 'FORBIDDEN':
    case 'DORMANT':
    case undefined:
      // CLOSED is a starting state and REJECT a write refusal (both in the PATCH route); the others are not Spidr's.
      return true;
  }
}

/** Spidr's own validation of the fields the gateway sends; undefined when they are fine. */
function invalidField(body: Record<string, unknown>): { field: string; message: string } | undefined {
  const status = body.status;
  if (status !== undefined && status !== null && !isSpidrWriteStatus(status)) {
    return { field: 'status', message: `status must be one of ${SPIDR_WRITE_STATUSES.join(', ')}` };
  }
  const sessionKey = body[SPIDR_ZTM_FIELDS.sessionKey];
  if (sessionKey !== undefined && typeof sessionKey !== 'string') {
    return { field: SPIDR_ZTM_FIELDS.sessionKey, message: `${SPIDR_ZTM_FIELDS.sessionKey} must be a string` };
  }
  const bypass = body[SPIDR_ZTM_FIELDS.bypass];
  if (bypass !== undefined && typeof bypass !== 'boolean') {
    return { field: SPIDR_ZTM_FIELDS.bypass, message: `${SPIDR_ZTM_FIELDS.bypass} must be a boolean` };
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the provider's index.ts loads on demand: this simulator and the credentials it accepts. */
export const spidrSandbox: ProviderSandbox<SpidrSettings> = {
  create: createSpidrSandbox,
  settings: SPIDR_SANDBOX_SETTINGS,
};
