/**
 * The suppression list: addresses that hard-bounced (or were added by hand) are answered
 * undeliverable/suppressed by every later verification without being probed.
 *
 * Redis keys (prefix {p} as everywhere):
 *   {p}:suppression     HASH  address key (lower-cased) -> SuppressionEntry JSON
 *   {p}:softbounces     HASH  address key -> number of soft bounces (deferrals) seen; never suppresses
 * Entries do not expire: a list is removed from with `hygiene suppress remove`.
 */
import type { Redis } from 'ioredis';
import { softBounceKey, suppressionKey } from '../store/redis-keys.ts';

export interface SuppressionEntry {
  /** The address as it was given (the hash field is its lower-cased key). */
  address: string;
  /** Why: the bounce diagnostic or the operator's note. */
  reason: string;
  /** RFC 3463 status when it came from a bounce. */
  status?: string;
  /** Where it came from: "FILE:LINE" for a bounce, "manual" for `suppress add`. */
  source: string;
  /** The log line (or DSN excerpt) that caused it, cleaned of control characters. */
  line?: string;
  via: 'postfix' | 'exim' | 'dsn' | 'manual';
  /** ISO-8601 time it was added. */
  addedAt: string;
}

export interface SuppressionStore {
  /** Adds or replaces entries; returns how many were not on the list before. */
  add(entries: Array<[key: string, entry: SuppressionEntry]>): Promise<number>;
  remove(keys: string[]): Promise<number>;
  get(key: string): Promise<SuppressionEntry | null>;
  /** The verifier hook: key -> a one-line reason, for the keys that are suppressed. */
  isSuppressed(keys: string[]): Promise<Map<string, string>>;
  /** Iterates the whole list (HSCAN: safe on big lists). */
  entries(): AsyncIterable<[string, SuppressionEntry]>;
  count(): Promise<number>;
  countSoft(keys: string[]): Promise<void>;
  softCount(key: string): Promise<number>;
}


export function describeSuppression(entry: SuppressionEntry): string {
  const status = entry.status ? ` ${entry.status}` : '';
  const what = entry.via === 'manual' ? 'added by hand' : `hard bounce${status}`;
  return `${what} on ${entry.addedAt.slice(0, 10)} (${entry.source})${entry.reason ? `: ${entry.reason}` : ''}`;
}

export function createSuppressionStore(redis: Redis, prefix: string): SuppressionStore {
  const key = suppressionKey(prefix);
  const soft = softBounceKey(prefix);
  return {
    async add(entries) {
      if (entries.length === 0) return 0;
      const flat: string[] = [];
      for (const [k, entry] of entries) flat.push(k, JSON.stringify(entry));
      return redis.hset(key, ...flat);
    },
    async remove(keys) {
      return keys.length === 0 ? 0 : redis.hdel(key, ...keys);
    },
    async get(k) {
      const raw = await redis.hget(key, k);
      return raw ? (JSON.parse(raw) as SuppressionEntry) : null;
    },
    async isSuppressed(keys) {
      const found = new Map<string, string>();
      if (keys.length === 0) return found;
      // Most fleets have no suppression list at all: one tiny EXISTS instead of an HMGET of every key.
      if ((await redis.exists(key)) === 0) return found;
      const values = await redis.hmget(key, ...keys);
      keys.forEach((k, i) => {
        const raw = values[i];
        if (raw) found.set(k, describeSuppression(JSON.parse(raw) as SuppressionEntry));
      });
      return found;
    },
    async *entries() {
      let cursor = '0';
      do {
        const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 500);
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) yield [flat[i]!, JSON.parse(flat[i + 1]!) as SuppressionEntry];
      } while (cursor !== '0');
    },
    count: () => redis.hlen(key),
    async countSoft(keys) {
      if (keys.length === 0) return;
      const pipeline = redis.pipeline();
      for (const k of keys) pipeline.hincrby(soft, k, 1);
      await pipeline.exec();
    },
    async softCount(k) {
      return Number((await redis.hget(soft, k)) ?? 0);
    },
  };
}
