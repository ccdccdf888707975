/**
 * Webhook signatures: `X-Hygiene-Signature: sha256=<hex>`, HMAC-SHA256 of the raw request body with
 * HYGIENE_WEBHOOK_SECRET. The body carries the event's creation time, so a receiver that checks the
 * signature also knows the event is the one we sent (replays carry the same, old, time).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hygiene-signature';
export const TIMESTAMP_HEADER = 'x-hygiene-timestamp';

export function signWebhookBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** For receivers (and our tests): constant-time comparison of the header with the expected value. */
export function verifyWebhookSignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(secret, rawBody));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
