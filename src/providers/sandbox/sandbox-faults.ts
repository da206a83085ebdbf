/**
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
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A delay that never keeps the process alive on its own (a closed sandbox must not hold a test run open). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
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
/** Resets the connection of a request whose `reset` fault with `after: true` let the route run. */
export function resetIfPending(request: FastifyRequest): void {
  if (!resetAfterRoute.delete(request)) return;
  resetConnection(request);
}

function resetConnection(request: FastifyRequest): void {
  const socket = request.raw.socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** Applies a fault; true when it answered (or dropped) the request, so the route must not run. */
export async function applyFault(
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

export function isRecord(value: unknown): value is Record<string, unknown> {
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
