/**
 * Every Redis key matching a pattern (SCAN, never KEYS), for tests that check what a run left in
 * Redis (nothing cached after an early stop, ...).
 */
import type { Redis } from 'ioredis';

export async function keysOf(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}
