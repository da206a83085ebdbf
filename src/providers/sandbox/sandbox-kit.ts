/**
 * Shared pieces of the built-in provider simulators: a Fastify app with a call log and control
 * routes under `/__sandbox`, magic account ids that trigger documented failures, JWT-shaped tokens.
 * The simulators are plain Fastify (no Nest): the gateway talks to them over real HTTP, exactly as
 * it talks to a live provider.
 *
 * Scriptable faults (every simulator gets them through createSandboxApp; control routes are never faulted):
 *   POST   /__sandbox/faults  a rule → 201 `{id, …rule, remaining, applied}`; 400 `{message}` when invalid:
 *            {"match": {"accountId"?: string, "pathIncludes"?: string, "method"?: string},
 *             "fault": "status" | "latency" | "reset" | "malformed",
 *             "status"?: number, "body"?: unknown, "retryAfter"?: number | null,
 *             "delayMs"?: number, "after"?: boolean, "times"?: number}
 *   GET    /__sandbox/faults  `{faults: [...]}` every rule in order, with `remaining` (null = unlimited) and `applied`
 *   DELETE /__sandbox/faults  removes every rule (so does POST /__sandbox/reset)
 * A rule matches a request when every `match` field given matches: `accountId` when the request path has
 * `encodeURIComponent(accountId)` as one of its segments (so one id selects a fault on any provider),
 * `pathIncludes` when the path and query contain the text (e.g. "/auth/token" for a token endpoint),
 * `method` case-insensitively. Rules are checked in the order they were added; the first live match wins
 * and uses up one of its `times` (default unlimited; a spent rule stays listed but never matches again).
 * The request is appended to the call log first, then the fault applies, before the route runs:
 *   - `status`    answers `status` (200–599) with `body` (default `{"message":"injected fault"}`) and
 *                 `Retry-After: <retryAfter>` when `retryAfter` is a number (none when null or absent);
 *   - `latency`   waits `delayMs` (0–600000), then the real route answers as usual;
 *   - `reset`     destroys the connection without an answer (TCP RST); with `"after": true` the route runs
 *                 first (its effects happen) and the connection is reset instead of sending its answer,
 *                 i.e. "the provider did it, the answer was lost";
 *   - `malformed` answers 200, `content-type: application/json`, a truncated body `{"status":"act`
 *                 (or `body` when it is a string).
 * The magic account ids below keep working unchanged; faults are checked before them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

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

/** A delay that never keeps the process alive on its own (a closed sandbox must not hold a test run open). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
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

export type SandboxFaultKind = 'status' | 'latency' | 'reset' | 'malformed';

export interface SandboxFaultMatch {
  accountId?: string;
  pathIncludes?: string;
  method?: string;
}

/** A fault rule as posted to `POST /__sandbox/faults` (see the top of this file). */
export interface SandboxFaultRule {
  match: SandboxFaultMatch;
  fault: SandboxFaultKind;
  status?: number;
  body?: unknown;
  retryAfter?: number | null;
  delayMs?: number;
  /** `reset` only: run the route, then reset the connection instead of answering. */
  after?: boolean;
  times?: number;
}

/** A stored rule: `remaining` is null when unlimited. */
export interface SandboxFault extends SandboxFaultRule {
  id: number;
  remaining: number | null;
  applied: number;
}

const FAULT_KINDS: readonly SandboxFaultKind[] = ['status', 'latency', 'reset', 'malformed'];
const MATCH_FIELDS = ['accountId', 'pathIncludes', 'method'] as const;
const RULE_FIELDS = new Set(['match', 'fault', 'status', 'body', 'retryAfter', 'delayMs', 'after', 'times']);
/** The truncated JSON a `malformed` fault answers by default. */
export const MALFORMED_BODY = '{"status":"act';
const MAX_FAULT_DELAY_MS = 600_000;

/** Checks a posted rule; returns the rule or a message naming what is wrong. */
export function parseFaultRule(input: unknown): SandboxFaultRule | string {
  if (!isRecord(input)) return 'a fault rule must be a JSON object';
  const unknownField = Object.keys(input).find((key) => !RULE_FIELDS.has(key));
  if (unknownField !== undefined) return `unknown field ${unknownField}`;
  const match = input.match ?? {};
  if (!isRecord(match)) return 'match must be an object';
  const unknownMatch = Object.keys(match).find((key) => !(MATCH_FIELDS as readonly string[]).includes(key));
  if (unknownMatch !== undefined) return `unknown match field ${unknownMatch}`;
  for (const field of MATCH_FIELDS) {
    const value = match[field];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      return `match.${field} must be a non-empty string`;
    }
  }
  const fault = input.fault;
  if (typeof fault !== 'string' || !(FAULT_KINDS as readonly string[]).includes(fault)) {
    return `fault must be one of ${FAULT_KINDS.join(', ')}`;
  }
  const { status, retryAfter, delayMs, after, times } = input;
  if (fault === 'status' && !(isWhole(status) && status >= 200 && status <= 599)) {
    return 'status must be a whole number from 200 to 599';
  }
  if (retryAfter !== undefined && retryAfter !== null && !(isWhole(retryAfter) && retryAfter >= 0)) {
    return 'retryAfter must be a whole number of seconds ≥ 0, or null';
  }
  if (fault === 'latency' && !(isWhole(delayMs) && delayMs >= 0 && delayMs <= MAX_FAULT_DELAY_MS)) {
    return `delayMs must be a whole number from 0 to ${MAX_FAULT_DELAY_MS}`;
  }
  if (after !== undefined && (typeof after !== 'boolean' || (after && fault !== 'reset'))) {
    return 'after must be a boolean, and true only with fault "reset"';
  }
  if (times !== undefined && times !== null && !(isWhole(times) && times >= 1)) {
    return 'times must be a whole number ≥ 1 (leave it out for unlimited)';
  }
  return {
    match: {
      accountId: match.accountId as string | undefined,
      pathIncludes: match.pathIncludes as string | undefined,
      method: match.method as string | undefined,
    },
    fault: fault as SandboxFaultKind,
    status: status as number | undefined,
    body: input.body,
    retryAfter: retryAfter,
    delayMs: delayMs as number | undefined,
    after: after,
    times: times ?? undefined,
  };
}

/** Does a rule's `match` select this request? `url` is the path and query as received (percent-encoded). */
export function faultMatches(match: SandboxFaultMatch, method: string, url: string): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== method.toUpperCase()) return false;
  if (match.pathIncludes !== undefined && !url.includes(match.pathIncludes)) return false;
  if (match.accountId !== undefined) {
    const path = url.split('?', 1)[0] ?? '';
    const wanted = encodeURIComponent(match.accountId);
    if (!path.split('/').some((segment) => segment === wanted || safeDecode(segment) === match.accountId)) {
      return false;
    }
  }
  return true;
}

/** The ordered fault rules of one sandbox. */
export class SandboxFaults {
  private rules: SandboxFault[] = [];
  private nextId = 1;

  add(rule: SandboxFaultRule): SandboxFault {
    const stored: SandboxFault = { ...rule, id: this.nextId++, remaining: rule.times ?? null, applied: 0 };
    this.rules.push(stored);
    return stored;
  }

  list(): SandboxFault[] {
    return this.rules.map((rule) => ({ ...rule, match: { ...rule.match } }));
  }

  clear(): void {
    this.rules = [];
  }

  /** The first live rule matching the request, used up by one; undefined when none applies. */
  take(method: string, url: string): SandboxFault | undefined {
    const rule = this.rules.find(
      (r) => (r.remaining === null || r.remaining > 0) && faultMatches(r.match, method, url),
    );
    if (!rule) return undefined;
    if (rule.remaining !== null) rule.remaining -= 1;
    rule.applied += 1;
    return rule;
  }
}

/** Requests answered by a `reset` fault with `after: true`: the route runs, the answer is never sent. */
const resetAfterRoute = new WeakSet<FastifyRequest>();

/** Destroys the request's connection with a TCP reset where the platform allows it (else a plain close). */
function resetConnection(request: FastifyRequest): void {
  const socket = request.raw.socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Applies a fault; true when it answered (or dropped) the request, so the route must not run. */
async function applyFault(
  rule: SandboxFault,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  switch (rule.fault) {
    case 'latency':
      await sleep(rule.delayMs ?? 0);
      return false;
    case 'status':
      if (typeof rule.retryAfter === 'number') void reply.header('retry-after', String(rule.retryAfter));
      void reply.code(rule.status ?? 500).send(rule.body ?? { message: 'injected fault' });
      return true;
    case 'malformed':
      void reply
        .code(200)
        .header('content-type', 'application/json')
        .send(typeof rule.body === 'string' ? rule.body : MALFORMED_BODY);
      return true;
    case 'reset':
      if (rule.after) {
        resetAfterRoute.add(request);
        return false;
      }
      reply.hijack();
      resetConnection(request);
      return true;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isWhole(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
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
    if (resetAfterRoute.has(request)) {
      resetAfterRoute.delete(request);
      resetConnection(request);
    }
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
