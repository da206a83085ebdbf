/**
 * Shared pieces of the built-in provider simulators: a Fastify app with a call log and control
 * routes under `/__sandbox`, magic account ids that trigger documented failures, JWT-shaped tokens.
 * The simulators are plain Fastify (no Nest): the gateway talks to them over real HTTP, exactly as
 * it talks to a live provider.
 *
 * Scriptable faults (`/__sandbox/faults`, every simulator gets them through createSandboxApp): see
 * sandbox-faults.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SandboxFaults, applyFault, isRecord, parseFaultRule, resetIfPending } from './sandbox-faults.js';

// Simulators take these from the kit.
export { sleep } from './sandbox-faults.js';

export interface SandboxCall {
  method: string;
  /** Path and query as received (still percent-encoded). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  at: string;
}

/**
 * Magic account ids: a prefix selects a documented failure. Anything else is an ordinary account,
 * created on first use in the provider's default open status.
 */
export const MAGIC_PREFIXES = {
  'NOTFOUND-': 'the provider has no such account',
  'CLOSED-': 'the account is already in a final status',
  'ERROR500-': 'the provider answers 500 with its documented error body',
  'SLOW-': 'the provider answers after 3 s (or SLOW<ms>-…, e.g. SLOW200-x for 200 ms)',
  'AUTHEXPIRED-': 'the first status call made with each token answers 401 (token expired mid-flight)',
  'RATELIMIT-': 'the provider answers 429',
  'REJECT-': 'the provider refuses the request with its validation error',
} as const;

export type MagicKind =
  | 'NOTFOUND'
  | 'CLOSED'
  | 'ERROR500'
  | 'SLOW'
  | 'AUTHEXPIRED'
  | 'RATELIMIT'
  | 'REJECT'
  | 'TRANSITION'
  | 'FORBIDDEN'
  | 'DORMANT';

export interface Magic {
  kind: MagicKind;
  delayMs: number;
}

/** Reads a magic prefix (case-sensitive) from an account id; SLOW may carry a delay: `SLOW250-acc`. */
export function magicOf(accountId: string): Magic | undefined {
  const slow = /^SLOW(\d{1,6})?-/.exec(accountId);
  if (slow) return { kind: 'SLOW', delayMs: slow[1] ? Number(slow[1]) : 3000 };
  const match = /^(NOTFOUND|CLOSED|ERROR500|AUTHEXPIRED|RATELIMIT|REJECT|TRANSITION|FORBIDDEN|DORMANT)-/.exec(
    accountId,
  );
  return match ? { kind: match[1] as MagicKind, delayMs: 0 } : undefined;
}

/** A JWT-shaped, unsigned token with an `exp` claim, as ClearGrid and Pismo issue (signature not checked here). */
export function sandboxJwt(claims: Record<string, unknown>, lifetimeSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ ...claims, iat: now, exp: now + lifetimeSeconds, jti: randomUUID() })}.${randomBytes(8).toString('base64url')}`;
}

/** Per-account state keyed by account id, created on first touch. */
export class SandboxStore<State> {
  private readonly accounts = new Map<string, State>();

  constructor(private readonly initial: (accountId: string) => State) {}

  get(accountId: string): State {
    let state = this.accounts.get(accountId);
    if (!state) {
      state = this.initial(accountId);
      this.accounts.set(accountId, state);
    }
    return state;
  }

  peek(accountId: string): State | undefined {
    return this.accounts.get(accountId);
  }

  set(accountId: string, state: State): void {
    this.accounts.set(accountId, state);
  }

  clear(): void {
    this.accounts.clear();
  }
}

export interface SandboxKit {
  calls: SandboxCall[];
  /** The scriptable fault rules (`/__sandbox/faults`). */
  faults: SandboxFaults;
  /** Registered by each simulator so `POST /__sandbox/reset` clears its state too. */
  onReset(handler: () => void): void;
}

/**
 * A Fastify app with the simulator-independent parts: every request (but control routes) is appended
 * to the call log; `GET /__sandbox/calls` lists it, `DELETE /__sandbox/calls` empties it,
 * `POST /__sandbox/reset` empties it, the fault rules and the simulator's state; `/__sandbox/faults`
 * scripts faults (see the top of this file).
 */
export function createSandboxApp(register: (app: FastifyInstance, kit: SandboxKit) => void): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, routerOptions: { maxParamLength: 1024 } });
  const resets: Array<() => void> = [];
  const kit: SandboxKit = {
    calls: [],
    faults: new SandboxFaults(),
    onReset: (handler) => resets.push(handler),
  };

  // Log first, then apply a scripted fault (before the route, and before any magic account id).
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.url.startsWith('/__sandbox')) return;
    kit.calls.push({
      method: request.method,
      url: request.url,
      headers: { ...request.headers },
      body: request.body,
      at: new Date().toISOString(),
    });
    const rule = kit.faults.take(request.method, request.url);
    if (rule && (await applyFault(rule, request, reply))) return reply;
    return undefined;
  });
  // `reset` with `after: true`: the route ran; drop the connection instead of sending its answer.
  app.addHook('onSend', async (request: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
    resetIfPending(request);
    return payload;
  });
  // A simulator answers bodies it cannot parse the way a real API would, with a 400 of its own shape;
  // this default keeps the Fastify error shape out of the provider's vocabulary.
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ message: `No route ${request.method} ${request.url}` });
  });

  app.get('/__sandbox/calls', () => ({ calls: kit.calls }));
  app.delete('/__sandbox/calls', (_request, reply) => {
    kit.calls.length = 0;
    return reply.code(204).send();
  });
  app.post('/__sandbox/faults', (request, reply) => {
    const rule = parseFaultRule(request.body);
    if (typeof rule === 'string') return reply.code(400).send({ message: rule });
    return reply.code(201).send(kit.faults.add(rule));
  });
  app.get('/__sandbox/faults', () => ({ faults: kit.faults.list() }));
  app.delete('/__sandbox/faults', (_request, reply) => {
    kit.faults.clear();
    return reply.code(204).send();
  });
  app.post('/__sandbox/reset', (_request, reply) => {
    kit.calls.length = 0;
    kit.faults.clear();
    for (const reset of resets) reset();
    return reply.code(204).send();
  });

  register(app, kit);
  return app;
}

/**
 * A provider's status changed behind the gateway's back (an operator in the provider's console, a payment
 * reversal, a dormancy rule): `PUT /__sandbox/accounts/:accountId/status` with the provider's own status
 * fields as its reads show them (named per simulator), set as given — unchecked, so a value the gateway has
 * no canonical name for can be shown too. `apply` answers the new state, or a message for a 400 when a
 * field is missing or not a string. The account is created first when it was never touched.
 */
export function statusControl(
  app: FastifyInstance,
  fields: { required: readonly string[]; optional: readonly string[] },
  apply: (accountId: string, values: Record<string, string | null>) => unknown,
): void {
  app.put<{ Params: { accountId: string } }>('/__sandbox/accounts/:accountId/status', (request, reply) => {
    const body = request.body;
    if (!isRecord(body)) return reply.code(400).send({ message: 'the body must be a JSON object' });
    const known = [...fields.required, ...fields.optional];
    const unknownField = Object.keys(body).find((key) => !known.includes(key));
    if (unknownField !== undefined) {
      return reply.code(400).send({ message: `unknown field ${unknownField}; known: ${known.join(', ')}` });
    }
    const values: Record<string, string | null> = {};
    for (const field of known) {
      const value = body[field];
      const required = fields.required.includes(field);
      if (value === undefined && !required) continue;
      if (!(typeof value === 'string' && value !== '') && !(value === null && !required)) {
        return reply
          .code(400)
          .send({ message: `${field} must be a non-empty string${required ? '' : ' or null'}` });
      }
      values[field] = value;
    }
    return reply.code(200).send(apply(request.params.accountId, values));
  });
}

/** Reads a bearer token from an Authorization header. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1];
}

/** Starts a sandbox on an ephemeral loopback port and returns its base URL. */
export async function listenOnLoopback(app: FastifyInstance, port = 0): Promise<string> {
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('sandbox did not bind a TCP port');
  return `http://127.0.0.1:${address.port}`;
}
