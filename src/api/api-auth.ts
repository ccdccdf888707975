/**
 * API key check: `x-api-key: KEY` or `Authorization: Bearer KEY`. Keys are compared as SHA-256
 * digests with crypto.timingSafeEqual (equal lengths by construction, so neither the key's content
 * nor its length leaks through timing), against every configured key without stopping early.
 * No key → 401 UNAUTHORIZED; a key that matches none → 403 FORBIDDEN.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './api-errors.ts';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** The key a request presents, or undefined. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

/** A stable, non-reversible label for a key (rate-limit buckets, logs): never the key itself. */
export function keyLabel(key: string): string {
  return digest(key).toString('hex').slice(0, 16);
}

export function createKeyChecker(keys: readonly string[]): (headers: IncomingHttpHeaders) => string {
  const digests = keys.map(digest);
  return (headers) => {
    const key = presentedKey(headers);
    if (key === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'An API key is required (header x-api-key or Authorization: Bearer).');
    const given = digest(key);
    let ok = false;
    for (const expected of digests) ok = timingSafeEqual(given, expected) || ok;
    if (!ok) throw new ApiError(403, 'FORBIDDEN', 'The API key is not valid.');
    return keyLabel(key);
  };
}
