/**
 * Test harness for the ClearGrid adapter specs: the real sandbox on loopback, its call log and control
 * routes, and small helpers. Built on the shared SandboxHarness.
 */
import type { ClearGridSettings } from './cleargrid.settings.js';
import type { ChangeRequest, ChangeResult, PreparedChange } from '../provider-adapter.js';
import {
  applyThrough,
  expectKeptAnswer,
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

/** The sandbox's routes, as its call log shows them. */
export const PATHS = {
  login: '/admin/auth/sandbox-lender/login',
  refresh: '/admin/auth/sandbox-lender/refresh-token',
  /** update-status: every write. */
  update: `/admin/v3/lenders/${CLEARGRID_SANDBOX_LENDER_PUBLIC_ID}/accounts/update-status`,
  accounts: `/admin/v3/lenders/${CLEARGRID_SANDBOX_LENDER_PUBLIC_ID}/accounts`,
} as const;

export class ClearGridSandboxHarness extends SandboxHarness {
  /** The request id every change and read of the spec carries. */
  readonly ctx = { requestId: 'req-cleargrid-1' };

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

  /** Translates, prepares and applies one change through `target`, as the change service does. */
  change(target: ClearGridAdapter, req: ChangeRequest): Promise<ChangeResult> {
    return applyThrough(target, req, this.ctx);
  }

  /** Translates and prepares one change through `target` (ClearGrid logs in to prepare). */
  prepare(target: ClearGridAdapter, req: ChangeRequest): Promise<PreparedChange> {
    return prepareThrough(target, req, this.ctx);
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

export { expectKeptAnswer, failureOf, failureWithCode as failure };

/** The sandbox for one spec file: started before its tests, reset before each, stopped after. */
export function useClearGridSandbox(): ClearGridSandboxHarness {
  return SandboxHarness.useForSpec(new ClearGridSandboxHarness());
}
