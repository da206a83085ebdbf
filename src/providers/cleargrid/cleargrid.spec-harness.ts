/**
 * Test harness for the ClearGrid adapter specs: the real sandbox on loopback, its call log and control
 * routes, and small helpers. Free of jest globals so it also compiles in the production build.
 */
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../domain/index.js';
import type { ClearGridSettings } from './cleargrid.settings.js';
import type { ChangeRequest, ChangeResult } from '../provider-adapter.js';
import { listenOnLoopback, type SandboxCall } from '../sandbox/sandbox-kit.js';
import { ClearGridAdapter } from './cleargrid.adapter.js';
import {
  CLEARGRID_SANDBOX_LENDER_PUBLIC_ID,
  CLEARGRID_SANDBOX_SETTINGS,
  createClearGridSandbox,
} from './cleargrid.sandbox.js';

export const LOGIN_PATH = '/admin/auth/sandbox-lender/login';
export const REFRESH_PATH = '/admin/auth/sandbox-lender/refresh-token';
export const UPDATE_STATUS_PATH = `/admin/v3/lenders/${CLEARGRID_SANDBOX_LENDER_PUBLIC_ID}/accounts/update-status`;
export const ACCOUNTS_PATH = `/admin/v3/lenders/${CLEARGRID_SANDBOX_LENDER_PUBLIC_ID}/accounts`;

export const ctx = { requestId: 'req-cleargrid-1' };

export class ClearGridSandboxHarness {
  baseUrl = '';
  private sandbox?: FastifyInstance;

  async start(): Promise<void> {
    this.sandbox = createClearGridSandbox();
    this.baseUrl = await listenOnLoopback(this.sandbox);
  }

  async stop(): Promise<void> {
    await this.sandbox?.close();
  }

  /** POSTs to a control route; throws unless the sandbox accepted it. */
  async control(path: string, body?: unknown): Promise<void> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sandbox control ${path} answered ${response.status}`);
  }

  reset(): Promise<void> {
    return this.control('/__sandbox/reset');
  }

  async calls(): Promise<SandboxCall[]> {
    const response = await fetch(`${this.baseUrl}/__sandbox/calls`);
    return ((await response.json()) as { calls: SandboxCall[] }).calls;
  }

  async urls(): Promise<string[]> {
    return (await this.calls()).map((c) => c.url);
  }

  adapter(
    settings: Partial<ClearGridSettings> = {},
    timeoutMs = 2000,
    baseUrl = this.baseUrl,
  ): ClearGridAdapter {
    return new ClearGridAdapter({
      baseUrl,
      mode: 'sandbox',
      timeoutMs,
      settings: { ...CLEARGRID_SANDBOX_SETTINGS, ...settings },
    });
  }

  /** Polls the sandbox account state (changes are applied in the background) until `until` holds. */
  async accountState(accountId: string, until: (s: Record<string, unknown>) => boolean) {
    for (let i = 0; i < 50; i++) {
      const response = await fetch(`${this.baseUrl}/__sandbox/accounts/${encodeURIComponent(accountId)}`);
      if (response.ok) {
        const state = (await response.json()) as Record<string, unknown>;
        if (until(state)) return state;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`sandbox account ${accountId} never reached the expected state`);
  }
}

export function request(accountId: string, status: ChangeRequest['status'] = 'DISPUTED'): ChangeRequest {
  return { accountId, status, customerId: 'customer_001', reason: 'CUSTOMER_REQUEST' };
}

export async function change(target: ClearGridAdapter, req: ChangeRequest): Promise<ChangeResult> {
  return target.applyChange(await target.prepareChange(req, ctx), ctx);
}

/** The GatewayError a promise rejects with; throws when it resolves or rejects with something else. */
export async function failureOf(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(error)}`);
  return error;
}
