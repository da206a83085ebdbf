/**
 * What every HTTP provider adapter shares, so an adapter supplies only its URLs, its auth and its one
 * error parser: the identity, the pure mapping (delegated to its transformers), the HTTP client built
 * with that parser and URL joining. Adapters receive changes already translated (providers/translation.ts).
 */
import type {
  CallContext,
  ChangeResult,
  PreparedChange,
  ProviderAdapter,
  ProviderEndpoint,
  ProviderMapping,
  ProviderStatusValue,
  StatusReading,
  TranslatedChange,
} from '../provider-adapter.js';
import { MappedAdapter } from '../mapped-adapter.js';
import { ProviderHttpClient, type ProviderErrorParser } from './provider-http.client.js';

/** `Value` is the shape of this provider's status value (what its own translate returns). */
export abstract class HttpAdapter<Settings, Value extends ProviderStatusValue = ProviderStatusValue>
  extends MappedAdapter
  implements ProviderAdapter
{
  readonly id: ProviderAdapter['id'];
  readonly name: string;
  abstract readonly liveRead: boolean;
  protected readonly http: ProviderHttpClient;
  private readonly baseUrl: string;

  constructor(
    identity: { id: ProviderAdapter['id']; name: string },
    protected readonly endpoint: ProviderEndpoint<Settings>,
    mapping: ProviderMapping,
    parseError: ProviderErrorParser,
  ) {
    super(mapping);
    this.id = identity.id;
    this.name = identity.name;
    this.http = new ProviderHttpClient(identity.id, endpoint.timeoutMs, parseError);
    this.baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
  }

  abstract prepareChange(change: TranslatedChange, ctx: CallContext): Promise<PreparedChange>;
  abstract applyChange(prepared: PreparedChange, ctx: CallContext): Promise<ChangeResult>;
  abstract readStatus(accountId: string, ctx: CallContext): Promise<StatusReading>;

  /** An absolute URL at the provider for a path (already percent-encoded where it carries ids). */
  protected url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /**
   * The change's provider value, typed: it came from this adapter's own mapping (translateChange). It shadows
   * Object's valueOf (hence `override`, which the compiler asks for once there is a base class).
   */
  protected override valueOf(change: TranslatedChange): Value {
    return change.providerStatus as Value;
  }
}
