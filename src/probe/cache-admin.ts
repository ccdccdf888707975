/**
 * Looking into and clearing what a fleet has cached about the mail world (`hygiene cache stats`,
 * `hygiene cache clear`): the verdict cache, the catch-all answers and the MX answers. Every scan is a
 * SCAN with MATCH (never KEYS: safe on a busy Redis), read and deleted in batches.
 *
 * Keys (see store/redis-keys.ts): {p}:verdict:{address}, {p}:catchall:{domain}, {p}:mx:{domain}.
 */
import type { Redis } from 'ioredis';
import type { Verdict } from '../domain/verdict.ts';
import { catchAllKey, catchAllPattern, mxCacheKey, mxCachePattern, verdictCacheKey, verdictCachePattern } from '../store/redis-keys.ts';

export type CacheScope = { kind: 'all' } | { kind: 'domain'; domain: string } | { kind: 'address'; key: string };

export interface ClearedCounts {
  verdicts: number;
  catchAll: number;
  mx: number;
}

export const AGE_BUCKETS = ['under 1h', '1h to 1d', '1d to 7d', '7d to 30d', 'over 30d'] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

export interface CacheStats {
  verdicts: number;
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  /** By the age of the answer (checkedAt), not by the time left to live. */
  byAge: Record<AgeBucket, number>;
  /** Domains with a cached catch-all answer / a cached MX answer. */
  catchAll: number;
  mx: number;
}


async function* scanKeys(redis: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  for await (const keys of scanKeys(redis, pattern)) deleted += await redis.unlink(...keys);
  return deleted;
}

export async function clearCaches(redis: Redis, prefix: string, scope: CacheScope): Promise<ClearedCounts> {
  switch (scope.kind) {
    case 'address':
      return { verdicts: await redis.unlink(verdictCacheKey(prefix, scope.key)), catchAll: 0, mx: 0 };
    case 'domain':
      return {
        verdicts: await deleteMatching(redis, verdictCachePattern(prefix, scope.domain)),
        catchAll: await redis.unlink(catchAllKey(prefix, scope.domain)),
        mx: await redis.unlink(mxCacheKey(prefix, scope.domain)),
      };
    case 'all':
      return {
        verdicts: await deleteMatching(redis, verdictCachePattern(prefix)),
        catchAll: await deleteMatching(redis, catchAllPattern(prefix)),
        mx: await deleteMatching(redis, mxCachePattern(prefix)),
      };
  }
}

function ageBucket(ageMs: number): AgeBucket {
  const hour = 3_600_000;
  if (ageMs < hour) return 'under 1h';
  if (ageMs < 24 * hour) return '1h to 1d';
  if (ageMs < 7 * 24 * hour) return '1d to 7d';
  if (ageMs < 30 * 24 * hour) return '7d to 30d';
  return 'over 30d';
}

async function countMatching(redis: Redis, pattern: string): Promise<number> {
  let n = 0;
  for await (const keys of scanKeys(redis, pattern)) n += keys.length;
  return n;
}

export async function cacheStats(redis: Redis, prefix: string, now: Date = new Date()): Promise<CacheStats> {
  const stats: CacheStats = {
    verdicts: 0,
    byStatus: {},
    byReason: {},
    byAge: Object.fromEntries(AGE_BUCKETS.map((b) => [b, 0])) as Record<AgeBucket, number>,
    catchAll: 0,
    mx: 0,
  };
  for await (const keys of scanKeys(redis, verdictCachePattern(prefix))) {
    const values = await redis.mget(...keys);
    for (const value of values) {
      if (value === null) continue; // expired between SCAN and MGET
      let verdict: Partial<Verdict>;
      try {
        verdict = JSON.parse(value) as Partial<Verdict>;
      } catch {
        continue;
      }
      stats.verdicts += 1;
      const status = verdict.status ?? 'unknown';
      const reason = verdict.reason ?? 'unknown';
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      stats.byReason[reason] = (stats.byReason[reason] ?? 0) + 1;
      const checked = Date.parse(verdict.checkedAt ?? '');
      stats.byAge[ageBucket(Number.isFinite(checked) ? Math.max(0, now.getTime() - checked) : Number.POSITIVE_INFINITY)] += 1;
    }
  }
  stats.catchAll = await countMatching(redis, catchAllPattern(prefix));
  stats.mx = await countMatching(redis, mxCachePattern(prefix));
  return stats;
}
