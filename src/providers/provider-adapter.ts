/**
 * The port every provider adapter implements. Services talk to providers only through this.
 * An adapter is two things: pure translation (canonical ⇄ provider, in `<p>.transformers.ts`)
 * and transport (auth, URL, call, error parsing, in `<p>.adapter.ts`).
 */
import type { TokenMintListener } from './auth/token-cache.js';
import type {
  CallContext,
  ProviderMode,
  CanonicalReason,
  CanonicalStatus,
  ChangeOutcome,
  FieldError,
  ProviderId,
} from '../domain/index.js';

// Adapters take these from here with the port; they live in domain/ so observability/ needs no provider import.
export type { CallContext, ProviderMode, TraceHeaders } from '../domain/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A canonical change, as validated by the API layer. */
export interface ChangeRequest {
  accountId: string;
  status: CanonicalStatus;
  reason?: CanonicalReason;
  /** ClearGrid's `debtorCompanyId`. */
  customerId?: string;
  providerOptions?: Record<string, unknown>;
}

/** The provider request as it may be shown to callers and stored: absolute URL, never credentials. */
export interface ProviderRequest {
  method: HttpMethod;
  url: string;
  body?: unknown;
}

/** The provider's own value for a status: `'BLOCKED'`, `5`, `{status, substatus}` … */
export type ProviderStatusValue = string | number | Record<string, unknown>;

/** Result of the pure translation of a canonical status (and reason) to the provider's value. */
export type Translation =
  { supported: true; providerStatus: ProviderStatusValue } | { supported: false; why: string };

/**
 * A change with the provider's value for it: made once per request by `translateChange`
 * (translation.ts), the one place a status the provider cannot express is refused.
 */
export interface TranslatedChange {
  request: ChangeRequest;
  providerStatus: ProviderStatusValue;
}

export interface PreparedChange extends TranslatedChange {
  providerRequest: ProviderRequest;
}

export interface ChangeResult {
  outcome: ChangeOutcome;
  providerStatus: ProviderStatusValue;
  providerHttpStatus: number;
}

/**
 * One change's share of a request that carried several (ClearGrid's batch endpoints): applied or accepted,
 * refused on its own (the provider named it), or not processed because the provider refused the request
 * for other items (it may be sent again without them).
 */
export type GroupedChangeResult =
  { kind: 'done'; result: ChangeResult } | { kind: 'failed'; error: Error } | { kind: 'not-processed' };

export interface StatusReading {
  /** null when the provider's status has no canonical equivalent (e.g. Pismo `DORMANT`). */
  status: CanonicalStatus | null;
  reason: CanonicalReason | null;
  providerStatus: unknown;
}

export interface ProviderAdapter {
  readonly id: ProviderId;
  /** Human name, e.g. "Canopy Servicing". */
  readonly name: string;
  /** True when the provider has an endpoint that reads one account's status. */
  readonly liveRead: boolean;

  /** Pure: the provider value for a canonical status and optional reason, or why it cannot be expressed. */
  translate(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation;

  /** Pure: whether the provider treats this canonical status as final (nothing can follow it). */
  isTerminal(status: CanonicalStatus): boolean;

  /** Pure: provider-specific input checks (customerId, providerOptions). Empty when valid. */
  validate(request: ChangeRequest): FieldError[];

  /**
   * Builds the exact provider request for an already translated change without sending it. May
   * authenticate (ClearGrid's URL needs the `lenderPublicId` that login returns) but never calls a
   * status endpoint.
   */
  prepareChange(change: TranslatedChange, ctx: CallContext): Promise<PreparedChange>;

  /** Sends a prepared change. Throws GatewayError (with `provider` kept) on any failure. */
  applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult>;

  /**
   * Where the provider's write endpoint takes many accounts at once (ClearGrid): the key of the request a
   * prepared change can share (same endpoint), and the one call sending them all. Absent elsewhere.
   */
  groupKey?(prepared: PreparedChange): string;
  applyChanges?(prepared: PreparedChange[], ctx: CallContext): Promise<GroupedChangeResult[]>;

  /** Reads the current status live. Only called when `liveRead` is true. */
  readStatus(accountId: string, ctx: CallContext): Promise<StatusReading>;
}

/** A provider's pure side (its transformers): what `translate`, `isTerminal` and `validate` of the port do. */
export type ProviderMapping = Pick<ProviderAdapter, 'translate' | 'isTerminal' | 'validate'>;

/** Where an adapter sends its calls and with which credentials and options; resolved at start (sandbox ports are ephemeral). */
export interface ProviderEndpoint<Settings = Record<string, unknown>> {
  baseUrl: string;
  mode: Exclude<ProviderMode, 'disabled'>;
  timeoutMs: number;
  settings: Settings;
  /** Told of what the adapter does inside (token mints), for metrics. */
  observer?: ProviderObserver;
}

export interface ProviderObserver {
  tokenMinted?: TokenMintListener;
}
