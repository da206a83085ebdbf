/** What one request carries down to a provider call; shared by observability and providers. */

/** Per-call context passed down from the HTTP request. */
export interface CallContext {
  requestId: string;
  /** The caller's W3C trace context, passed on unchanged to the provider. */
  trace?: TraceHeaders;
  /** At most this many attempts (a background read spending a read budget asks for 1); else the retry policy's. */
  maxAttempts?: number;
}

/** W3C Trace Context headers as the caller sent them (already checked for validity). */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/** Where a provider's calls go: its live base URL, its built-in sandbox, or nowhere. */
export type ProviderMode = 'live' | 'sandbox' | 'disabled';
