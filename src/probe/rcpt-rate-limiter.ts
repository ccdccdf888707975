/**
 * Fleet-wide RCPT rate per mail server: a fixed-window counter in Redis, counted under the server's
 * LimitKey like every other per-server limit (limit-key.ts). The window is the caller's
 * (limit-policy.ts: a provider profile's RCPTs a minute as ten-second windows) or, by default,
 * HYGIENE_RCPT_PER_SECOND_PER_MX a second (0 = off).
 * Key: {p}:rate:{limit}:{windowSeconds}s:{windowIndex}  STRING counter, expires after two windows.
 */
import type { Redis } from 'ioredis';
import { rcptRateKey } from '../store/redis-keys.ts';

export interface RcptRateLimiter {
  /** Resolves once `count` RCPTs may be sent to the server of `limitKey` (limit-key.ts); may grant part: returns how many. */
  take(limitKey: string, count: number, rate?: RcptRate | null): Promise<number>;
}

/** At most `max` RCPTs in each fixed window of `windowSeconds`. */
export interface RcptRate {
  max: number;
  windowSeconds: number;
}

export function createRcptRateLimiter(redis: Redis, keyPrefix: string, perSecond: number, now: () => number = Date.now): RcptRateLimiter {
  const fallback: RcptRate | null = perSecond > 0 ? { max: perSecond, windowSeconds: 1 } : null;
  return {
    async take(limitKey, count, given) {
      const rate = given === undefined ? fallback : given;
      if (rate === null || rate.max <= 0) return count;
      const { max, windowSeconds } = rate;
      for (;;) {
        const windowIndex = Math.floor(now() / (windowSeconds * 1000));
        const key = rcptRateKey(keyPrefix, limitKey, windowIndex, windowSeconds);
        const used = await redis.incrby(key, count);
        if (used === count) await redis.expire(key, 2 * windowSeconds);
        const over = used - max;
        if (over <= 0) return count;
        const granted = count - over;
        if (granted > 0) {
          // Give back what we cannot use this second so others may.
          await redis.decrby(key, over);
          return granted;
        }
        await redis.decrby(key, count);
        await new Promise((resolve) => setTimeout(resolve, (windowIndex + 1) * windowSeconds * 1000 - now() + 5));
      }
    },
  };
}
