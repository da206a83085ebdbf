/**
 * Test harness for the ClearGrid adapter specs: the real sandbox on loopback, its call log and control
 * routes, and small helpers. Built on the shared SandboxHarness.
 */
import type { ClearGridSettings } from './cleargrid.settings.js';
import type { ChangeRequest, ChangeResult } from '../provider-adapter.js';
import {
  failureOf,
  failureWithCode,
  prepareThrough,
  SandboxHarness,
} from '../sandbox/sandbox.spec-harness.js';
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

export class ClearGridSandboxHarness extends SandboxHarness {
  constructor() {
    super({ loadSandbox: () => Promise.resolve({ create: createClearGridSandbox, settings: {} }) });
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
  return target.applyChange(await prepareThrough(target, req, ctx), ctx);
}

export { failureOf, failureWithCode as failure, prepareThrough };

/** The sandbox for one spec file: started before its tests, reset before each, stopped after. */
export function useClearGridSandbox(): ClearGridSandboxHarness {
  return SandboxHarness.useForSpec(new ClearGridSandboxHarness());
}
