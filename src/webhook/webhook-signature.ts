/**
 * Webhook signatures, two headers on every delivery:
 *
 * - `Hygiene-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with HYGIENE_WEBHOOK_SECRET of
 *   `${t}.${raw body}` (Stripe's scheme). The timestamp is signed with the body, so a captured
 *   delivery replayed later cannot carry a fresh `t`: receivers check the signature and that `t` is
 *   within a tolerance window (verifyWebhookRequest; docs/webhooks.md has a copy for receivers).
 * - `X-Hygiene-Signature: sha256=<hex>` (HMAC of the raw body alone) with `X-Hygiene-Timestamp`:
 *   what receivers written before the signed timestamp check; kept unchanged for them. The body
 *   carries the event's `createdAt`, but that header alone does not date the delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hygiene-signature';
export const TIMESTAMP_HEADER = 'x-hygiene-timestamp';
/** The timestamped signature (t=...,v1=...). */
export const TIMESTAMPED_SIGNATURE_HEADER = 'hygiene-signature';

/** Receivers' default tolerance between `t` and their clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signWebhookBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** The Hygiene-Signature value for a delivery at `timestamp` (Unix seconds). */
export function signWebhookDelivery(secret: string, rawBody: string | Buffer, timestamp: number): string {
  return `t=${timestamp},v1=${timestampedDigest(secret, rawBody, timestamp)}`;
}

function timestampedDigest(secret: string, rawBody: string | Buffer, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** For receivers of the legacy header (and our tests): constant-time comparison with the expected value. */
export function verifyWebhookSignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  return sameText(header, signWebhookBody(secret, rawBody));
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'signature' | 'expired' };

/**
 * Checks a Hygiene-Signature header against the raw body: some `v1` must be the HMAC of
 * `${t}.${body}` (compared in constant time) and `t` within `toleranceSeconds` of `nowSeconds`.
 * A replay with the old `t` fails once the window has passed; one with a fresh `t` fails the HMAC.
 */
export function verifyWebhookRequest(
  secret: string,
  rawBody: string | Buffer,
  header: string | undefined,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): WebhookVerification {
  if (!header) return { ok: false, reason: 'missing' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const [key, value] = item.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  const expected = timestampedDigest(secret, rawBody, timestamp);
  let matched = false;
  for (const given of signatures) matched = sameText(given, expected) || matched;
  if (!matched) return { ok: false, reason: 'signature' };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'expired' };
  return { ok: true, timestamp };
}
