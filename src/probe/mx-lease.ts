/**
 * Fleet-wide cap on concurrent SMTP sessions per MX host: a counting semaphore in Redis shared by
 * every worker process on every machine (Postfix's own client default, smtp_mx_session_limit, is 2).
 *
 * Key: {p}:mxlease:{mx}  ZSET  member = lease token, score = expiry (ms since epoch).
 * A lease is renewed while its session lives; a process killed mid-session loses its lease when the
 * expiry passes, so a crash never shrinks the cap for good.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { mxLeaseKey } from '../store/redis-keys.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';

/** mx-lease-acquire.lua (KEYS and ARGV in its header). */
const ACQUIRE_LUA = loadLuaScript(new URL('./mx-lease-acquire.lua', import.meta.url));

/** mx-lease-renew.lua (KEYS and ARGV in its header). */
const RENEW_LUA = loadLuaScript(new URL('./mx-lease-renew.lua', import.meta.url));

export interface MxLease {
  readonly token: string;
  /**
   * Aborts when a renewal found the lease gone (it expired, or Redis lost it) or could not be made
   * (Redis refused the write): another process may hold the slot now, so the holder must end its
   * session before sending anything more (the fleet never exceeds the cap).
   */
  readonly lost: AbortSignal;
  /** Gives the slot back. Idempotent; never rejects. */
  release(): Promise<void>;
}

export interface MxLeaseManager {
  /** Waits (polling) until a slot is free or the signal aborts; resolves null when aborted. */
  acquire(mx: string, signal?: AbortSignal, limit?: number): Promise<MxLease | null>;
  /** One attempt, no waiting. `limit`: this key's cap (limit-policy.ts), default the manager's. */
  tryAcquire(mx: string, limit?: number): Promise<MxLease | null>;
}

export interface MxLeaseOptions {
  keyPrefix: string;
  /** Told once per lost lease (why it was lost). */
  onLost?: (key: string, why: string) => void;
  limit: number;
  /** How long a lease lives without renewal (a crashed holder frees its slot after this). */
  ttlMs?: number;
  pollMs?: number;
  now?: () => number;
}

export function createMxLeaseManager(redis: Redis, options: MxLeaseOptions): MxLeaseManager {
  const ttlMs = options.ttlMs ?? 15_000;
  const pollMs = options.pollMs ?? 100;
  const now = options.now ?? Date.now;
  const keyOf = (limitKey: string) => mxLeaseKey(options.keyPrefix, limitKey);

  async function tryAcquire(mx: string, limit = options.limit): Promise<MxLease | null> {
    const token = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const key = keyOf(mx);
    const at = now();
    const granted = await runScript(redis, ACQUIRE_LUA, [key], [at, at + ttlMs, limit, token]);
    if (granted !== 1) return null;
    let released = false;
    const lost = new AbortController();
    const markLost = (why: string): void => {
      if (lost.signal.aborted || released) return;
      clearInterval(renew);
      lost.abort(new Error(why));
      options.onLost?.(mx, why);
    };
    const renew = setInterval(() => {
      runScript(redis, RENEW_LUA, [key], [now() + ttlMs, token, ttlMs + 1_000]).then(
        (held) => {
          if (held !== 1) markLost('the lease had expired when it was renewed');
        },
        (err: unknown) => markLost(`the lease could not be renewed: ${(err as Error).message}`),
      );
    }, Math.max(250, Math.floor(ttlMs / 3)));
    renew.unref();
    return {
      token,
      lost: lost.signal,
      async release() {
        if (released) return;
        released = true;
        clearInterval(renew);
        // A release Redis refuses loses nothing: the lease expires by itself after ttlMs (its slot
        // is only held that much longer), and the caller is done with it either way.
        await redis.zrem(key, token).catch(() => undefined);
      },
    };
  }

  return {
    tryAcquire,
    async acquire(mx, signal, limit) {
      for (;;) {
        if (signal?.aborted) return null;
        const lease = await tryAcquire(mx, limit);
        if (lease) return lease;
        // Jitter keeps several waiting processes from polling in lock-step.
        await new Promise((resolve) => setTimeout(resolve, pollMs / 2 + Math.random() * pollMs));
      }
    },
  };
}
