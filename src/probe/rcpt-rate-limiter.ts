/**
 * Fleet-wide RCPT rate per mail server (HYGIENE_RCPT_PER_SECOND_PER_MX; 0 = off): a fixed one-second
 * window counter in Redis, counted under the server's LimitKey like every other per-server limit
 * (limit-key.ts). Key: {p}:rate:{limit}:{epochSecond}  STRING counter, expires after 2 s.
 */
import type { Redis } from 'ioredis';
import { rcptRateKey } from '../store/redis-keys.ts';

export interface RcptRateLimiter {
  /** Resolves once `count` RCPTs may be sent to the server of `limitKey` (limit-key.ts); may grant part: returns how many. */
  take(limitKey: string, count: number): Promise<number>;
}

export function createRcptRateLimiter(redis: Redis, keyPrefix: string, perSecond: number, now: () => number = Date.now): RcptRateLimiter {
  if (perSecond <= 0) return { take: async (_limitKey, count) => count };
  return {
    async take(limitKey, count) {
      for (;;) {
        const second = Math.floor(now() / 1000);
        const key = rcptRateKey(keyPrefix, limitKey, second);
        const used = await redis.incrby(key, count);
        if (used === count) await redis.expire(key, 2);
        const over = used - perSecond;
        if (over <= 0) return count;
        const granted = count - over;
        if (granted > 0) {
          // Give back what we cannot use this second so others may.
          await redis.decrby(key, over);
          return granted;
        }
        await redis.decrby(key, count);
        await new Promise((resolve) => setTimeout(resolve, (second + 1) * 1000 - now() + 5));
      }
    },
  };
}
