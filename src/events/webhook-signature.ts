import { createHmac } from 'node:crypto';

/**
 * The Standard Webhooks signature (https://www.standardwebhooks.com): `v1,` + base64 HMAC-SHA256 keyed with
 * the base64-decoded part of the `whsec_` secret, over `<webhook-id>.<webhook-timestamp>.<body>`.
 */
export function webhookSignature(keyBase64: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', Buffer.from(keyBase64, 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** The headers of one delivery attempt (a fresh timestamp each attempt; the same webhook-id every time). */
export function webhookHeaders(
  keyBase64: string,
  id: string,
  body: string,
  now = new Date(),
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'content-type': 'application/cloudevents+json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(keyBase64, id, timestamp, body),
  };
}
