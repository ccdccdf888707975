/**
 * Fleet-wide RCPT rate per MX host (HYGIENE_RCPT_PER_SECOND_PER_MX; 0 = off): a fixed one-second
 * window counter in Redis. Key: {p}:rate:{mx}:{epochSecond}  STRING counter, expires after 2 s.
 */
import type { Redis } from 'ioredis';

export interface RcptRateLimiter {
  /** Resolves once `count` RCPTs may be sent to `mx` (count may be granted partly: returns how many). */
  take(mx: string, count: number): Promise<number>;
}

export function createRcptRateLimiter(redis: Redis, keyPrefix: string, perSecond: number, now: () => number = Date.now): RcptRateLimiter {
  if (perSecond <= 0) return { take: async (_mx, count) => count };
  return {
    async take(mx, count) {
      for (;;) {
        const second = Math.floor(now() / 1000);
        const key = `${keyPrefix}:rate:${mx}:${second}`;
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
