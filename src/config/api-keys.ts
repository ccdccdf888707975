/**
 * HYGIENE_API_KEYS and HYGIENE_API_ADMIN_KEYS → the API's keys, each with its tenant.
 *
 * An entry is `tenant:key` or a bare `key`, entries separated by commas:
 *   HYGIENE_API_KEYS=acme:k3y-for-acme-0123456789,globex:k3y-for-globex-0123456789,legacy-key-0123456789abcdef
 *   HYGIENE_API_ADMIN_KEYS=ops:admin-key-0123456789abcdef
 * A tenant owns the lists its keys upload and sees only those; several keys may share a tenant
 * (rotation: `acme:old,acme:new`). A bare key is a tenant of its own, named `key-<16 hex digits of
 * its SHA-256>` (so settings from before tenants keep working, each key seeing its own lists).
 * Admin keys are API keys too (no need to list them twice); they see every list and are the only
 * keys allowed into the queue dashboard and /metrics.
 *
 * The entry is split at its first ':' when what comes before is a tenant name (a letter, then up
 * to 63 letters, digits, '.', '_' or '-'), so a key that itself contains ':' is written with its
 * tenant in front (`acme:part:of:the:key`).
 */
import { createHash } from 'node:crypto';

export interface ApiKey {
  key: string;
  tenant: string;
  admin: boolean;
}

const TENANT = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
// Keys travel in headers: printable ASCII without spaces or commas, and long enough to resist guessing.
const KEY = /^[\x21-\x2b\x2d-\x7e]{16,256}$/;

/** A stable, non-reversible label for a key (rate-limit buckets, logs, bare-key tenants): never the key. */
export function keyLabel(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
}

function parseEntries(raw: string | undefined, admin: boolean, variable: string, problems: string[]): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const entry of String(raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const cut = entry.indexOf(':');
    const named = cut > 0 && TENANT.test(entry.slice(0, cut));
    const key = named ? entry.slice(cut + 1) : entry;
    if (!KEY.test(key)) {
      problems.push(`${variable}: every key must be 16-256 printable characters without spaces or commas (key not shown)`);
      continue;
    }
    const tenant = named ? entry.slice(0, cut) : `key-${keyLabel(key)}`;
    if (named && tenant.startsWith('key-')) {
      problems.push(`${variable}: tenant names starting with "key-" are reserved for bare keys (got "${tenant}")`);
      continue;
    }
    keys.push({ key, tenant, admin });
  }
  return keys;
}

/** Parses both variables; problems are pushed (keys never shown). A key listed twice must name one tenant. */
export function parseApiKeys(keysRaw: string | undefined, adminRaw: string | undefined, problems: string[]): ApiKey[] {
  const byKey = new Map<string, ApiKey>();
  for (const entry of [...parseEntries(adminRaw, true, 'HYGIENE_API_ADMIN_KEYS', problems), ...parseEntries(keysRaw, false, 'HYGIENE_API_KEYS', problems)]) {
    const seen = byKey.get(entry.key);
    if (!seen) byKey.set(entry.key, entry);
    else if (seen.tenant !== entry.tenant) problems.push(`HYGIENE_API_KEYS/HYGIENE_API_ADMIN_KEYS: one key is given for two tenants ("${seen.tenant}" and "${entry.tenant}")`);
  }
  return [...byKey.values()];
}
