/**
 * The Canopy sandbox's account object: shaped like the 200 example of canopy-update-account-status.md
 * (the whole account, with personal data), filled with FAKE personal data. The values in
 * CANOPY_SANDBOX_PII are sentinels: a test can assert that none of them ever leaves the gateway.
 * Also the sandbox's error answers: Canopy's envelope and what each failing magic prefix answers.
 */
import type { FastifyReply } from 'fastify';
import type { CanopyErrorBody } from './canopy.wire.js';

/** Fake personal data the sandbox puts in every account; none of it may appear in a gateway answer. */
export const CANOPY_SANDBOX_PII = {
  ssn: '900-41-7733',
  controllerSsn: '900-52-1844',
  nameFirst: 'Ottoline',
  nameLast: 'Quarrendon',
  email: 'ottoline.quarrendon@example.invalid',
  phone: '+15555550187',
  dateOfBirth: '1979-11-04',
  addressLine: '4417 Fictional Orchard Lane',
  passportNumber: 'X00FAKE42',
  bankAccountNumber: '000123456789',
  bankRoutingNumber: '011000015',
  payoutBankAccountNumber: '000987654321',
  irsTin: '900-00-1234',
  businessEin: '00-0000042',
} as const;

export interface CanopySandboxAccountState {
  status: string;
  /** `""` when there is none, as Canopy's default. */
  substatus: string;
  createdAt: string;
  updatedAt: string;
}

const P = CANOPY_SANDBOX_PII;

function person(ssn: string) {
  return {
    address_line_one: P.addressLine,
    address_line_two: 'Apt 9',
    address_city: 'Springfield',
    address_state: 'IL',
    address_zip: '62704-0000',
    address_country_code: 'US',
    name_prefix: 'Ms.',
    name_first: P.nameFirst,
    name_middle: 'Ada',
    name_last: P.nameLast,
    name_suffix: '',
    passport: { number: P.passportNumber, country: 'US' },
    title: 'Owner',
    phone_number: P.phone,
    ssn,
  };
}

/** The whole account for one id and state, as Canopy's `GET /accounts/{id}` and status `PUT` return it. */
export function canopySandboxAccount(
  accountId: string,
  state: CanopySandboxAccountState,
): Record<string, unknown> {
  return {
    account_id: accountId,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    effective_at: state.createdAt,
    account_overview: {
      account_status: state.status,
      account_status_subtype: state.substatus,
      is_active_scra: 'false',
    },
    account_product: {
      product_id: 'prod_sandbox1',
      product_overview: {
        product_name: 'Sandbox Cash Card',
        product_short_description: 'Consumer credit card',
        product_time_zone: 'America/Chicago',
        product_type: 'REVOLVING',
      },
    },
    min_pay_due_cents: {
      statement_min_pay_cents: 16000,
      min_pay_cents: 16000,
      min_pay_due_at: state.updatedAt,
    },
    payment_processor_config: {
      ach: {
        payment_processor_name: 'CANOPY_NACHA',
        canopy_nacha_config: {
          bank_routing_number: P.bankRoutingNumber,
          bank_account_number: P.bankAccountNumber,
          bank_account_type: 'CHECKING',
        },
      },
      debit_card: {
        payment_processor_name: 'REPAY',
        repay_config: { card_token: 'tok_fake_0187', last_four: '0187' },
      },
      autopay_enabled: true,
      default_payment_processor_method: 'ACH',
    },
    summary: {
      total_balance_cents: 300000,
      principal_cents: 200000,
      interest_balance_cents: 60000,
      credit_limit_cents: 400000,
      available_credit_cents: 100000,
    },
    associated_entities: { merchant_name: 'Acme Sandbox Corp', lender_name: 'Sandbox Lending Co' },
    payout_entities: [
      {
        payout_entity_id: 'pe_sandbox1',
        payout_entity_type: 'lender',
        payout_entity_name: 'Sandbox Lending Co',
        bank_account_number: P.payoutBankAccountNumber,
        bank_routing_number: P.bankRoutingNumber,
        bank_account_type: 'CHECKING',
        irs_tin: P.irsTin,
      },
    ],
    customers: [
      {
        ...person(P.ssn),
        customer_id: `cus_${accountId}`,
        created_at: state.createdAt,
        updated_at: state.updatedAt,
        customer_type: 'person',
        is_active: true,
        verification_status: 'verified',
        email: P.email,
        date_of_birth: P.dateOfBirth,
        business_details: {
          business_legal_name: 'Quarrendon Fictional LLC',
          business_ein: P.businessEin,
          business_type: 'llc',
          controller: person(P.controllerSsn),
        },
      },
    ],
    partner_entity: {},
  };
}

/** Answers with Canopy's error envelope. */
export function fail(
  reply: FastifyReply,
  status: number,
  type: string,
  code: string,
  message: string,
  details?: unknown[],
) {
  const body: CanopyErrorBody = { error: { type, code, message, ...(details ? { details } : {}) } };
  return reply.code(status).send(body);
}

/** What each failing magic prefix answers: HTTP status, then `fail`'s type, code, message and details. */
export const MAGIC_FAILURES: Record<
  'NOTFOUND' | 'FORBIDDEN' | 'RATELIMIT' | 'ERROR500' | 'REJECT',
  [number, string, string, string, unknown[]?]
> = {
  NOTFOUND: [404, 'not_found', 'account_not_found', 'Account not found'],
  FORBIDDEN: [403, 'authorization_error', 'forbidden', 'Client is not permitted to access this account'],
  RATELIMIT: [429, 'rate_limit_error', 'too_many_requests', 'Too many requests'],
  ERROR500: [500, 'api_error', 'internal_server_error', 'Internal server error'],
  REJECT: [
    400,
    'invalid_request_error',
    'validation_error',
    'Account status change not allowed',
    [{ field: 'account_status', message: 'status change not allowed for this account' }],
  ],
};
