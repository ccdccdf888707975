/**
 * A lease held in one Redis key: the holder's token as the value, a TTL as the lease time. Taken
 * with SET NX, renewed and released only by the holder (compare-and-act scripts), so a holder that
 * stalled past its TTL can neither extend nor delete the lease another process has taken since.
 * Used for an upload's parse pass (list-starter.ts) and a schedule's runs (schedule-runner.ts).
 * (The per-MX session leases are a different thing: several slots per key, see mx-lease.ts.)
 */
import type { Redis } from 'ioredis';
import { loadLuaScript, runScript } from './lua-script.ts';

/** key-lease-renew.lua (KEYS and ARGV in its header). */
const RENEW = loadLuaScript(new URL('./key-lease-renew.lua', import.meta.url));

/** key-lease-release.lua (KEYS and ARGV in its header). */
const RELEASE = loadLuaScript(new URL('./key-lease-release.lua', import.meta.url));

/** Takes the lease for `ttlMs` if nobody holds it; answers whether we got it. */
export async function claimKeyLease(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
}

/** Extends our lease; false when it is no longer ours (it lapsed and another process took it). */
export async function renewKeyLease(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  return Number(await runScript(redis, RENEW, [key], [token, ttlMs])) === 1;
}

/** Gives our lease up (only ours: a lease another process took over is left alone). */
export async function releaseKeyLease(redis: Redis, key: string, token: string): Promise<void> {
  await runScript(redis, RELEASE, [key], [token]);
}
