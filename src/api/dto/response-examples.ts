/**
 * Named example bodies of the successful answers, as the gateway gives them with its built-in sandboxes
 * (Swagger UI shows them in a drop-down under each response).
 */
import { CANONICAL_REASONS, type CanonicalReason } from '../../domain/index.js';
import type { NamedExample } from './problem-examples.js';
import { EXAMPLE_REQUEST_ID } from './schema-parts.js';

const AT = '2026-11-21T09:00:00.000Z';
const CHANGE_ID = '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f';

export const CHANGE_APPLIED_EXAMPLES: Record<string, NamedExample> = {
  applied: {
    summary: 'APPLIED (200): Spidr suspended the account',
    value: {
      changeId: CHANGE_ID,
      provider: 'spidr',
      accountId: 'acc-1001',
      status: 'SUSPENDED',
      reason: 'FRAUD',
      outcome: 'APPLIED',
      providerStatus: 'suspended',
      requestId: EXAMPLE_REQUEST_ID,
      completedAt: AT,
    },
  },
  appliedCanopy: {
    summary: 'APPLIED (200): Canopy status and substatus',
    value: {
      changeId: CHANGE_ID,
      provider: 'canopy',
      accountId: 'acc-1001',
      status: 'SUSPENDED',
      reason: 'FRAUD',
      outcome: 'APPLIED',
      providerStatus: { status: 'SUSPENDED', substatus: 'FRAUD' },
      requestId: EXAMPLE_REQUEST_ID,
      completedAt: AT,
    },
  },
  dryRun: {
    summary: 'dryRun=true: the request that would be sent (no credentials)',
    value: {
      dryRun: true,
      providerRequest: {
        method: 'PATCH',
        url: 'https://api.sb.spidrsrv.com/v1/account/acc-1001',
        body: { status: 'suspended' },
      },
    },
  },
};

export const CHANGE_ACCEPTED_EXAMPLES: Record<string, NamedExample> = {
  accepted: {
    summary: 'ACCEPTED (202): ClearGrid queued the dispute (update-status 5)',
    value: {
      changeId: CHANGE_ID,
      provider: 'cleargrid',
      accountId: 'acc-1001',
      status: 'DISPUTED',
      reason: null,
      outcome: 'ACCEPTED',
      providerStatus: 5,
      requestId: EXAMPLE_REQUEST_ID,
      completedAt: AT,
    },
  },
};

export const ACCOUNT_STATUS_EXAMPLES: Record<string, NamedExample> = {
  live: {
    summary: 'Read live from the provider (Canopy)',
    value: {
      provider: 'canopy',
      accountId: 'acc-1001',
      status: 'SUSPENDED',
      reason: 'FRAUD',
      providerStatus: { status: 'SUSPENDED', substatus: 'FRAUD' },
      source: 'provider',
      asOf: AT,
      expectedStatus: 'SUSPENDED',
      inSync: true,
    },
  },
  drifted: {
    summary: 'Live read of an account changed outside the gateway (Spidr): it drifted',
    value: {
      provider: 'spidr',
      accountId: 'acc-1001',
      status: 'ACTIVE',
      reason: null,
      providerStatus: { status: 'active', statusReason: null },
      source: 'provider',
      asOf: AT,
      expectedStatus: 'SUSPENDED',
      inSync: false,
    },
  },
  gateway: {
    summary: "The gateway's last recorded change (ClearGrid has no read endpoint)",
    value: {
      provider: 'cleargrid',
      accountId: 'acc-1001',
      status: 'DISPUTED',
      reason: null,
      providerStatus: 5,
      source: 'gateway',
      asOf: AT,
    },
  },
};

export const HISTORY_EXAMPLES: Record<string, NamedExample> = {
  page: {
    summary: 'One applied change, no older page',
    value: {
      items: [
        {
          changeId: CHANGE_ID,
          at: AT,
          callerId: 'billing-service',
          requestId: EXAMPLE_REQUEST_ID,
          status: 'SUSPENDED',
          reason: 'FRAUD',
          note: 'Card reported stolen',
          providerRequest: {
            method: 'PATCH',
            url: 'https://api.sb.spidrsrv.com/v1/account/acc-1001',
            body: { status: 'suspended' },
          },
          outcome: 'APPLIED',
          errorCode: null,
          providerHttpStatus: 200,
          latencyMs: 12.5,
          batchId: null,
        },
      ],
      nextCursor: null,
    },
  },
};

const SPIDR_CLOSE_BY_REASON: Partial<Record<CanonicalReason, string>> = {
  FRAUD: 'close_without_refund',
  COMPLIANCE: 'close_without_refund',
  CHARGED_OFF: 'close_charged_off',
  PAID_OFF: 'close_paid_off',
};
const unsupported = { supported: false, providerValue: null, terminal: false };

export const PROVIDERS_EXAMPLES: Record<string, NamedExample> = {
  sandbox: {
    summary: 'Spidr and ClearGrid on their sandboxes (Canopy and Pismo left out for brevity)',
    value: {
      items: [
        {
          id: 'cleargrid',
          name: 'ClearGrid Command',
          mode: 'sandbox',
          circuit: 'closed',
          liveRead: false,
          statuses: {
            ACTIVE: unsupported,
            SUSPENDED: unsupported,
            DELINQUENT: unsupported,
            DISPUTED: { supported: true, providerValue: 5, terminal: false },
            DO_NOT_CONTACT: { supported: true, providerValue: 6, terminal: false },
            CLOSED: { supported: true, providerValue: 3, terminal: true },
          },
        },
        {
          id: 'spidr',
          name: 'Spidr',
          mode: 'sandbox',
          circuit: 'closed',
          liveRead: true,
          statuses: {
            ACTIVE: { supported: true, providerValue: 'active', terminal: false },
            SUSPENDED: { supported: true, providerValue: 'suspended', terminal: false },
            DELINQUENT: { supported: true, providerValue: 'delinquent', terminal: false },
            DISPUTED: unsupported,
            DO_NOT_CONTACT: unsupported,
            CLOSED: {
              supported: true,
              providerValue: 'close_with_refund',
              providerValueByReason: Object.fromEntries(
                CANONICAL_REASONS.map((reason) => [
                  reason,
                  SPIDR_CLOSE_BY_REASON[reason] ?? 'close_with_refund',
                ]),
              ),
              terminal: true,
            },
          },
        },
      ],
    },
  },
};
