import http from 'node:http';
import https from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  AxiosError,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
  type RawAxiosResponseHeaders,
} from 'axios';

export interface KeepAliveAdapterOptions {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/**
 * A lean axios adapter for the provider calls: one `node:http(s).request` on a keep-alive agent, the body
 * collected as text. axios's own Node adapter does much more per call (stream pipelines, redirects,
 * proxies, progress, data: URLs) and calls `setKeepAlive` with its own delay on every reused socket, which
 * the agent then resets: two `setsockopt` calls per request. Measured with `npm run bench`.
 *
 * What it honours of the axios config: `method`, `url` (absolute, or joined to `baseURL`), `headers`,
 * `data` (a string or Buffer, already serialised), `timeout` as a hard deadline over the whole exchange
 * (connect, request and the complete response body, so a provider trickling bytes cannot hold a call),
 * `signal`, `maxContentLength`, and `responseType` `arraybuffer` (a Buffer) or anything else (text).
 * A compressed answer (sent although no `Accept-Encoding` was) is decompressed within `maxContentLength`.
 * Errors are AxiosErrors with the Node code (`ECONNREFUSED` …) or `ECONNABORTED` for the deadline.
 * `params`, proxies, redirects and upload/download progress are not supported: the gateway uses none.
 *
 * Why hand-written rather than a library (undici, got): undici's Pool gives keep-alive but only per-phase
 * timeouts, so the whole-exchange deadline would again need a per-call AbortSignal timer — the 10 s timer
 * per call whose retention bloated RSS in the bench — and got adds its own per-call stream pipeline; what
 * axios still gives over raw `http.request` is the config merge and header normalisation (AxiosHeaders),
 * the `validateStatus`/`maxContentLength` semantics and AxiosError codes that ProviderHttpClient maps.
 */
export function keepAliveAdapter(options: KeepAliveAdapterOptions): AxiosAdapter {
  return (config: InternalAxiosRequestConfig) =>
    new Promise<AxiosResponse>((resolve, reject) => {
      if (config.params !== undefined) {
        reject(new AxiosError('params are not supported: put them in the URL', 'ERR_BAD_OPTION', config));
        return;
      }
      let url: URL;
      try {
        url = new URL(config.url ?? '', config.baseURL);
      } catch {
        reject(new AxiosError(`invalid URL: ${String(config.url)}`, 'ERR_INVALID_URL', config));
        return;
      }
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') {
        reject(new AxiosError(`unsupported protocol ${url.protocol}`, 'ERR_BAD_REQUEST', config));
        return;
      }
      const data = config.data as string | Buffer | undefined | null;
      if (data !== undefined && data !== null && typeof data !== 'string' && !Buffer.isBuffer(data)) {
        reject(new AxiosError('data must be serialised to a string first', 'ERR_BAD_OPTION', config));
        return;
      }
      const body = data === undefined || data === null || data.length === 0 ? undefined : data;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(config.headers.toJSON(true))) {
        if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
      }
      // axios marks every PUT/PATCH/POST as a form post when no type was given; without a body, say nothing.
      if (body === undefined) delete headers['content-type'];
      else headers['content-length'] = String(Buffer.byteLength(body));
      const maxLength = config.maxContentLength ?? -1;

      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const signal = config.signal as AbortSignal | undefined;
      const finish = (error: AxiosError | undefined, response?: AxiosResponse) => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener?.('abort', onAbort);
        if (error) {
          request.destroy();
          reject(error);
        } else resolve(response!);
      };
      const onAbort = () => finish(new AxiosError('canceled', AxiosError.ERR_CANCELED, config, request));

      const request = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: (config.method ?? 'get').toUpperCase(),
          headers,
          agent: secure ? options.httpsAgent : options.httpAgent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (maxLength > -1 && size > maxLength) {
              finish(tooLarge(maxLength, config, request));
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (error: NodeJS.ErrnoException) =>
            finish(AxiosError.from(error, error.code ?? 'ECONNRESET', config, request)),
          );
          response.on('end', () => {
            if (settled) return;
            let raw: Buffer;
            try {
              raw = decode(
                chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
                response.headers['content-encoding'],
                maxLength,
              );
            } catch (error) {
              finish(
                error instanceof RangeError
                  ? tooLarge(maxLength, config, request)
                  : AxiosError.from(error, 'ERR_BAD_RESPONSE', config, request),
              );
              return;
            }
            finish(undefined, {
              data: config.responseType === 'arraybuffer' ? raw : raw.toString('utf8'),
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              headers: response.headers as RawAxiosResponseHeaders,
              config,
              request,
            });
          });
          // The connection dropped before the body was complete.
          response.on('close', () => {
            if (!response.complete)
              finish(new AxiosError('the response ended early', 'ECONNRESET', config, request));
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) =>
        finish(AxiosError.from(error, error.code, config, request)),
      );
      if (config.timeout) {
        const ms = config.timeout;
        timer = setTimeout(
          () =>
            finish(new AxiosError(`timeout of ${ms}ms exceeded`, AxiosError.ECONNABORTED, config, request)),
          ms,
        );
      }
      if (signal) {
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
      }
      request.end(body);
    });
}

function tooLarge(max: number, config: InternalAxiosRequestConfig, request: http.ClientRequest): AxiosError {
  return new AxiosError(
    `maxContentLength size of ${max} exceeded`,
    AxiosError.ERR_BAD_RESPONSE,
    config,
    request,
  );
}

/** Undoes a content encoding; a RangeError when the decoded body would exceed `max` bytes. */
function decode(raw: Buffer, encoding: string | undefined, max: number): Buffer {
  if (encoding === undefined || raw.length === 0) return raw;
  const limit = max > -1 ? { maxOutputLength: max } : {};
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(raw, limit);
    case 'deflate':
      return inflateSync(raw, limit);
    case 'br':
      return brotliDecompressSync(raw, limit);
    default:
      return raw;
  }
}
