/**
 * Failed authentications are limited per client address, fleet-wide through Redis: after
 * `maxFailures` wrong keys (or dashboard logins) from one address within `windowMs`, that address
 * gets 429 for `windowMs` on everything that needs a key — whatever key it sends next, valid or not,
 * so guessing cannot go on by mixing in a known good key. Other addresses are not affected.
 * IPv6 clients are counted per /64 (one host usually owns a whole /64). Behind a reverse proxy, set
 * HYGIENE_API_TRUST_PROXY so the client's address is the proxy's X-Forwarded-For, not the proxy.
 *
 * Key: {p}:authfail:{address}  STRING failure count, TTL = the window (see store/redis-keys.ts).
 */
import net from 'node:net';
import type { Redis } from 'ioredis';
import { authFailuresKey } from '../store/redis-keys.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';

export interface AuthFailureLimits {
  maxFailures: number;
  windowMs: number;
}

export interface AuthFailureLimiter {
  /** Milliseconds the address is still locked out for (0: not locked). */
  lockedFor(address: string): Promise<number>;
  /** Counts one failure; answers whether the address is now locked out. */
  record(address: string): Promise<boolean>;
}

/** auth-failures-record-failure.lua (KEYS and ARGV in its header). */
const RECORD_FAILURE = loadLuaScript(new URL('./auth-failures-record-failure.lua', import.meta.url));

/** The bucket an address counts in: IPv4 as is, IPv6 by its /64. */
export function addressBucket(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (net.isIP(plain) !== 6) return plain;
  const halves = plain.toLowerCase().split('::');
  const head = (halves[0] ?? '').split(':').filter(Boolean);
  const tail = halves.length > 1 ? (halves[1] ?? '').split(':').filter(Boolean) : [];
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function createAuthFailureLimiter(redis: Redis, prefix: string, limits: AuthFailureLimits): AuthFailureLimiter {
  const keyOf = (address: string) => authFailuresKey(prefix, addressBucket(address));
  return {
    async lockedFor(address) {
      const key = keyOf(address);
      const [count, ttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
      return Number(count ?? 0) >= limits.maxFailures && ttl > 0 ? ttl : 0;
    },
    async record(address) {
      const count = Number(await runScript(redis, RECORD_FAILURE, [keyOf(address)], [limits.windowMs, limits.maxFailures]));
      return count >= limits.maxFailures;
    },
  };
}
