/**
 * Browser sessions for the queue dashboard. A browser cannot add an `x-api-key` header to every
 * page, script and stylesheet the dashboard loads, so an admin logs in once with a form
 * (dashboard-login.ts) and gets a session cookie.
 *
 * Why a session cookie and not HTTP basic auth: browsers send cached basic credentials with every
 * request to the origin, cross-site ones included, and offer no way to log out; the dashboard's
 * queue controls (pause, clean, retry) are state-changing requests a hostile page could forge. A
 * `SameSite=Strict` cookie is never sent on cross-site requests, can be logged out of (the session
 * is deleted on the server, so a copied cookie dies with it), and expires.
 *
 * The cookie: `hygiene_session=<id>.<sig>`, HttpOnly (no script reads it), SameSite=Strict,
 * Path=/admin (never sent to /v1, whose callers use keys), Secure when the request came over
 * https (directly or, with HYGIENE_API_TRUST_PROXY, through a TLS proxy), Max-Age = the session's
 * life. <id> is 32 random bytes; <sig> is HMAC-SHA256(<id>) with a secret derived from the admin
 * keys, so a forged or altered cookie is refused without a Redis look-up, every API process of a
 * fleet (same keys) accepts it, and changing the admin keys ends every session. The session itself
 * lives in Redis ({p}:session:{id}, TTL = its remaining life): logout deletes it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Redis } from 'ioredis';
import { keyLabel, type ApiKey } from '../config/api-keys.ts';
import { dashboardSessionKey } from '../store/redis-keys.ts';
import type { Principal } from './api-auth.ts';

export const SESSION_COOKIE = 'hygiene_session';
const COOKIE_PATH = '/admin';

interface StoredSession {
  tenant: string;
  keyLabel: string;
  expiresAt: number;
}

export interface DashboardSessions {
  /** Starts a session for an admin principal; answers the Set-Cookie value. */
  create(principal: Principal, secure: boolean): Promise<string>;
  /** The admin principal of the request's session cookie, or null (none, forged, expired, logged out). */
  principalOf(headers: IncomingHttpHeaders): Promise<Principal | null>;
  /** Ends the request's session (if any); answers the Set-Cookie value that clears the cookie. */
  destroy(headers: IncomingHttpHeaders, secure: boolean): Promise<string>;
  /** Whether the request carries a session cookie at all (valid or not). */
  present(headers: IncomingHttpHeaders): boolean;
}

/** The value of one cookie in a Cookie header (first occurrence), or undefined. */
export function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const header = headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const pair of header.split(';')) {
    const cut = pair.indexOf('=');
    if (cut > 0 && pair.slice(0, cut).trim() === name) return pair.slice(cut + 1).trim();
  }
  return undefined;
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function createDashboardSessions(redis: Redis, prefix: string, keys: readonly ApiKey[], ttlMs: number): DashboardSessions {
  const admins = keys.filter((k) => k.admin);
  const adminLabels = new Set(admins.map((k) => keyLabel(k.key)));
  const secret = createHash('sha256')
    .update('list-hygiene dashboard session\0')
    .update(admins.map((k) => k.key).sort().join('\0'))
    .digest();
  const sign = (id: string): string => createHmac('sha256', secret).update(id).digest('base64url');

  /** The session id of a well-formed cookie whose signature is ours. */
  const verifiedId = (headers: IncomingHttpHeaders): string | null => {
    const value = cookieValue(headers, SESSION_COOKIE);
    const match = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
    if (!match) return null;
    const given = Buffer.from(match[2]!);
    const expected = Buffer.from(sign(match[1]!));
    return given.length === expected.length && timingSafeEqual(given, expected) ? match[1]! : null;
  };

  return {
    async create(principal, secure) {
      const id = randomBytes(32).toString('base64url');
      const session: StoredSession = { tenant: principal.tenant, keyLabel: principal.keyLabel, expiresAt: Date.now() + ttlMs };
      await redis.set(dashboardSessionKey(prefix, id), JSON.stringify(session), 'PX', ttlMs);
      return cookie(`${id}.${sign(id)}`, Math.floor(ttlMs / 1000), secure);
    },
    async principalOf(headers) {
      const id = verifiedId(headers);
      if (!id) return null;
      const raw = await redis.get(dashboardSessionKey(prefix, id));
      if (!raw) return null;
      const session = JSON.parse(raw) as StoredSession;
      if (session.expiresAt <= Date.now() || !adminLabels.has(session.keyLabel)) return null;
      return { tenant: session.tenant, admin: true, keyLabel: session.keyLabel };
    },
    async destroy(headers, secure) {
      const id = verifiedId(headers);
      if (id) await redis.del(dashboardSessionKey(prefix, id));
      return cookie('', 0, secure);
    },
    present(headers) {
      return cookieValue(headers, SESSION_COOKIE) !== undefined;
    },
  };
}
