import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { GatewayError, type ProviderId } from '../../domain/index.js';
import type { CallContext, HttpMethod } from '../provider-adapter.js';
import { malformedAnswer, providerFailure, type ParsedProviderError } from '../provider-errors.js';
import { keepAliveAdapter } from './keep-alive.adapter.js';

/** A provider's one error parser: its error body → its own code and message (and the canonical code it decides). */
export type ProviderErrorParser = (httpStatus: number, body: unknown) => ParsedProviderError;

export interface ProviderHttpRequest {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sends on the caller's X-Request-Id and W3C trace context. */
  context?: CallContext;
}

export interface ProviderHttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** Parsed JSON; undefined when the body was empty or not JSON (see `malformed`). */
  body: unknown;
  /** True when a non-empty body could not be parsed as JSON. */
  malformed: boolean;
  rawBody: string;
}

/**
 * One HTTP client per provider: axios on its own keep-alive agents through a lean adapter, a hard
 * deadline per call covering connect and the complete response, and network failures turned into canonical errors. It never throws on an HTTP status:
 * the adapter reads the provider's error body.
 */
export class ProviderHttpClient {
  private readonly axios: AxiosInstance;

  constructor(
    private readonly providerId: ProviderId,
    private readonly timeoutMs: number,
    private readonly parseError: ProviderErrorParser,
  ) {
    const agentOptions = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 256, maxFreeSockets: 64 };
    this.axios = axios.create({
      adapter: keepAliveAdapter({
        httpAgent: new http.Agent(agentOptions),
        httpsAgent: new https.Agent(agentOptions),
      }),
      // A hard deadline over the whole exchange (connect, request, complete body): see keepAliveAdapter.
      timeout: timeoutMs,
      responseType: 'text',
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
      // A provider must not make the gateway buffer an unbounded body.
      maxContentLength: 5 * 1024 * 1024,
      proxy: false,
    });
  }

  /**
   * Sends and returns a 2xx answer; any other answer throws the canonical failure read by the
   * provider's error parser. `tokenEndpoint`: the call asks for the gateway's own credentials, so any
   * 4xx but 429 is PROVIDER_AUTH_FAILED (a 404 there must not read as ACCOUNT_NOT_FOUND).
   */
  async call(
    operation: string,
    request: ProviderHttpRequest,
    options: { tokenEndpoint?: boolean } = {},
  ): Promise<ProviderHttpResponse> {
    const response = await this.send(request);
    if (isSuccess(response)) return response;
    const parsed = this.parseError(response.status, response.body);
    const refused =
      options.tokenEndpoint && response.status >= 400 && response.status < 500 && response.status !== 429;
    throw this.failure(
      operation,
      response,
      refused ? { ...parsed, canonical: 'PROVIDER_AUTH_FAILED' } : parsed,
    );
  }

  /**
   * The answer, when it is a 2xx; any other throws the canonical failure the provider's parser reads from it
   * (for answers got through `send`, e.g. inside a token retry).
   */
  expectSuccess(operation: string, response: ProviderHttpResponse): ProviderHttpResponse {
    if (isSuccess(response)) return response;
    throw this.failure(operation, response);
  }

  /** The canonical failure for an answer, read by the provider's parser unless `parsed` is given. */
  failure(operation: string, response: ProviderHttpResponse, parsed?: ParsedProviderError): GatewayError {
    return providerFailure(
      this.providerId,
      operation,
      response,
      parsed ?? this.parseError(response.status, response.body),
    );
  }

  /** A 2xx answer whose body is not the documented JSON. */
  malformed(operation: string, response: ProviderHttpResponse): GatewayError {
    return malformedAnswer(this.providerId, operation, response);
  }

  /** Sends without judging the answer: the caller reads the status (token refresh, auth retry). */
  async send(request: ProviderHttpRequest): Promise<ProviderHttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const context = request.context;
    if (context) {
      headers['x-request-id'] = context.requestId;
      if (context.trace) {
        headers.traceparent = context.trace.traceparent;
        if (context.trace.tracestate) headers.tracestate = context.trace.tracestate;
      }
    }
    try {
      const response = await this.axios.request<string>({
        method: request.method,
        url: request.url,
        headers,
        data: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
      const rawBody = typeof response.data === 'string' ? response.data : '';
      const { body, malformed } = parseJson(rawBody);
      const flatHeaders: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        flatHeaders[name.toLowerCase()] = Array.isArray(value)
          ? value.join(', ')
          : value === null || value === undefined
            ? undefined
            : String(value);
      }
      return { status: response.status, headers: flatHeaders, body, malformed, rawBody };
    } catch (error) {
      throw this.networkError(request, error);
    }
  }

  private networkError(request: ProviderHttpRequest, error: unknown): GatewayError {
    const what = `${this.providerId} ${request.method} ${pathOf(request.url)}`;
    const code = error instanceof AxiosError ? error.code : undefined;
    const timedOut =
      code === 'ECONNABORTED' ||
      code === 'ETIMEDOUT' ||
      code === 'ERR_CANCELED' ||
      (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'CanceledError'));
    if (timedOut) {
      return new GatewayError('PROVIDER_TIMEOUT', `${what}: no answer within ${this.timeoutMs} ms`, {
        cause: error,
      });
    }
    const cause = code ?? (error instanceof Error ? error.message : 'unknown network error');
    return new GatewayError('PROVIDER_UNAVAILABLE', `${what}: ${cause}`, { cause: error });
  }
}

export function isSuccess(response: ProviderHttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

function parseJson(raw: string): { body: unknown; malformed: boolean } {
  if (raw.trim() === '') return { body: undefined, malformed: false };
  try {
    return { body: JSON.parse(raw) as unknown, malformed: false };
  } catch {
    return { body: undefined, malformed: true };
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
