/**
 * A typed client for statusgate: openapi-fetch over the types openapi-typescript generates from the committed
 * openapi.json (`npm run client` regenerates schema.d.ts; test/client.e2e-spec.ts fails when it drifts).
 *
 *   const gateway = createStatusgateClient({ baseUrl: 'http://statusgate:3000', apiKey: process.env.KEY });
 *   const { data, error } = await gateway.PUT('/v1/accounts/{provider}/{accountId}/status', { … });
 *   if (error) switch (error.code) { case 'STATUS_NOT_SUPPORTED': … }
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
/** Every error body (application/problem+json); narrow it on `code`. */
export type Problem = Schemas['ProblemDto'];
export type ErrorCode = Problem['code'];
export type ChangeAnswer = Schemas['ChangeStatusResponseDto'];
export type DryRunAnswer = Schemas['DryRunResponseDto'];
export type AccountStatus = Schemas['AccountStatusDto'];
export type HistoryPage = Schemas['HistoryPageDto'];
export type ChangeRequest = Schemas['ChangeStatusDto'];
export type ProviderId = operations['changeAccountStatus']['parameters']['path']['provider'];

export type StatusgateClient = Client<paths>;

export interface StatusgateClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Where the gateway listens, e.g. http://statusgate:3000 (no trailing slash). */
  baseUrl: string;
  /** Sent as X-API-Key; leave out when the gateway runs without API_KEYS. */
  apiKey?: string;
}

export function createStatusgateClient({
  apiKey,
  headers,
  ...options
}: StatusgateClientOptions): StatusgateClient {
  return createClient<paths>({
    ...options,
    headers: {
      ...(apiKey ? { 'x-api-key': apiKey } : {}),
      ...(headers as Record<string, string> | undefined),
    },
  });
}

/** A change answer or a dry run: `dryRun: true` only on the latter. */
export function isDryRun(answer: ChangeAnswer | DryRunAnswer): answer is DryRunAnswer {
  return 'dryRun' in answer;
}
