/**
 * Verdict cache per address, shared by every list and every worker: re-running a list within the
 * TTL sends no RCPT for cached addresses. TTLs follow Postfix's own verify cache idea: long for
 * definite answers, shorter for negative ones. Facts only (domain/fault-owner.ts cachePolicy): an
 * unknown verdict is at best the remote server's state of the moment and at worst our own fault, so
 * it is never cached; a re-run after fixing the configuration probes again.
 * Key: {p}:verdict:{address key}  STRING Verdict JSON, with TTL.
 */
import type { Redis } from 'ioredis';
import { cachePolicy } from '../domain/fault-owner.ts';
import type { Verdict } from '../domain/verdict.ts';
import { verdictCacheKey } from '../store/redis-keys.ts';

export interface VerdictCacheTtls {
  positiveTtlSeconds: number;
  negativeTtlSeconds: number;
}

export interface VerdictCache {
  getMany(keys: string[]): Promise<Map<string, Verdict>>;
  setMany(entries: Array<[string, Verdict]>): Promise<void>;
}

/** Seconds a verdict stays cached; 0 = never cached (unknown verdicts, and anything not a fact). */
export function ttlFor(verdict: Verdict, ttls: VerdictCacheTtls): number {
  if (cachePolicy(verdict) === 'never') return 0;
  if (verdict.status === 'deliverable' || verdict.status === 'risky') return ttls.positiveTtlSeconds;
  return ttls.negativeTtlSeconds;
}

export function createVerdictCache(redis: Redis, keyPrefix: string, ttls: VerdictCacheTtls): VerdictCache {
  const keyOf = (key: string) => verdictCacheKey(keyPrefix, key);
  return {
    async getMany(keys) {
      const found = new Map<string, Verdict>();
      if (keys.length === 0) return found;
      const values = await redis.mget(...keys.map(keyOf));
      keys.forEach((key, i) => {
        const value = values[i];
        if (value) found.set(key, { ...(JSON.parse(value) as Verdict), cached: true });
      });
      return found;
    },
    async setMany(entries) {
      const pipeline = redis.pipeline();
      let any = false;
      for (const [key, verdict] of entries) {
        const ttl = ttlFor(verdict, ttls);
        if (ttl <= 0) continue;
        const { cached: _cached, ...stored } = verdict;
        pipeline.set(keyOf(key), JSON.stringify(stored), 'EX', ttl);
        any = true;
      }
      if (any) await pipeline.exec();
    },
  };
}
