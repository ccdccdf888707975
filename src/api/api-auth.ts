/**
 * API key check: `x-api-key: KEY` or `Authorization: Bearer KEY` (never the query string: URLs end
 * up in proxies' logs). Keys are compared as SHA-256 digests with crypto.timingSafeEqual (equal
 * lengths by construction, so neither the key's content nor its length leaks through timing),
 * against every configured key without stopping early. No key → 401 UNAUTHORIZED; a key that
 * matches none → 403 FORBIDDEN. A valid key gives the request its Principal: its tenant, and
 * whether it is an admin (config/api-keys.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { keyLabel, type ApiKey } from '../config/api-keys.ts';
import { ApiError } from './api-errors.ts';

export { keyLabel };

/** Who is asking: the tenant a list is stored under, and what it may see. */
export interface Principal {
  tenant: string;
  /** Sees every tenant's lists; the only kind allowed into the dashboard and /metrics. */
  admin: boolean;
  /** keyLabel() of the key used (per-key buckets and caps); '' for a dashboard session. */
  keyLabel: string;
}

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

/** Finds the principal of a key in constant time over every configured key (undefined: none matches). */
export function createKeyMatcher(keys: readonly ApiKey[]): (key: string) => Principal | undefined {
  const entries = keys.map((k) => ({ digest: digest(k.key), principal: { tenant: k.tenant, admin: k.admin, keyLabel: keyLabel(k.key) } }));
  return (key) => {
    const given = digest(key);
    let found: Principal | undefined;
    for (const entry of entries) {
      // No early exit: every key is compared whichever matches.
      if (timingSafeEqual(given, entry.digest)) found = entry.principal;
    }
    return found;
  };
}

/** The header check: the Principal, or 401 (no key) / 403 (no key matches). */
export function createKeyChecker(keys: readonly ApiKey[]): (headers: IncomingHttpHeaders) => Principal {
  const match = createKeyMatcher(keys);
  return (headers) => {
    const key = presentedKey(headers);
    if (key === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'An API key is required (header x-api-key or Authorization: Bearer).');
    const principal = match(key);
    if (!principal) throw new ApiError(403, 'FORBIDDEN', 'The API key is not valid.');
    return principal;
  };
}
