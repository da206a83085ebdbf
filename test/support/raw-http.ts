/**
 * Sends bytes to the gateway over a raw TCP socket and parses what comes back, for requests node:http and fetch
 * refuse to send (bare CR/LF, NUL, folded headers, headers past Node's limit, a client that stalls).
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
}

/** Writes `head` (and optionally more later via `stallMs`) and reads until the server closes the connection. */
export function rawRequest(
  url: string,
  bytes: string | Buffer,
  options: { stallMs?: number; timeoutMs?: number } = {},
): Promise<RawAnswer | undefined> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 5_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined); // a reset is a close
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseOne(Buffer.concat(chunks)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(bytes);
  });
}

function parseOne(data: Buffer): RawAnswer | undefined {
  if (data.length === 0) return undefined;
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`unparsable answer: ${JSON.stringify(data.toString('latin1').slice(0, 300))}`);
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!match) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = data.subarray(end + 4);
  const length = headers['content-length'] === undefined ? rest.length : Number(headers['content-length']);
  const text = rest.subarray(0, length).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(match[1]), headers, text, json };
}
