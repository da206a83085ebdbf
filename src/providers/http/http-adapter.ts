/**
 * What every HTTP provider adapter shares, so an adapter supplies only its URLs, its auth and its one
 * error parser: the identity, the pure mapping (delegated to its transformers), the HTTP client built
 * with that parser, URL joining, and the one STATUS_NOT_SUPPORTED refusal.
 */
import {
  GatewayError,
  type CanonicalReason,
  type CanonicalStatus,
  type FieldError,
} from '../../domain/index.js';
import type {
  CallContext,
  ChangeRequest,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderEndpoint,
  ProviderMapping,
  ProviderStatusValue,
  StatusReading,
  Translation,
} from '../provider-adapter.js';
import { ProviderHttpClient, type ProviderErrorParser } from './provider-http.client.js';

export abstract class HttpAdapter<Settings> implements ProviderAdapter {
  readonly id: ProviderAdapter['id'];
  readonly name: string;
  abstract readonly liveRead: boolean;
  protected readonly http: ProviderHttpClient;
  private readonly baseUrl: string;

  constructor(
    identity: { id: ProviderAdapter['id']; name: string },
    protected readonly endpoint: ProviderEndpoint<Settings>,
    private readonly mapping: ProviderMapping,
    parseError: ProviderErrorParser,
  ) {
    this.id = identity.id;
    this.name = identity.name;
    this.http = new ProviderHttpClient(identity.id, endpoint.timeoutMs, parseError);
    this.baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
  }

  translate(status: CanonicalStatus, reason: CanonicalReason | undefined): Translation {
    return this.mapping.translate(status, reason);
  }

  isTerminal(status: CanonicalStatus): boolean {
    return this.mapping.isTerminal(status);
  }

  validate(request: ChangeRequest): FieldError[] {
    return this.mapping.validate(request);
  }

  abstract prepareChange(request: ChangeRequest, ctx: CallContext): Promise<PreparedChange>;
  abstract applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult>;
  abstract readStatus(accountId: string, ctx: CallContext): Promise<StatusReading>;

  /** An absolute URL at the provider for a path (already percent-encoded where it carries ids). */
  protected url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** The provider value for the change; STATUS_NOT_SUPPORTED when the mapping refuses it. */
  protected providerStatusFor(request: ChangeRequest): ProviderStatusValue {
    const translation = this.mapping.translate(request.status, request.reason);
    if (!translation.supported) throw new GatewayError('STATUS_NOT_SUPPORTED', translation.why);
    return translation.providerStatus;
  }
}
