/**
 * Session rules a server taught us, remembered fleet-wide (issue 14 item 3): a server that refused
 * an RCPT as one too many for the transaction (452 4.5.3 "Too many recipients", Microsoft's "4.5.3
 * Recipients belong to multiple regions", Postfix's smtpd_recipient_limit) gets at most what it
 * took before it refused — one for Microsoft and smtpd_recipient_limit = 1 — per transaction (RSET +
 * MAIL between) from then on, by every process, until the TTL lets us find out again.
 * The rule belongs to the server (provider or first address), whatever identity asks.
 *
 * Key: {p}:rcptrule:{server}  STRING  RCPTs per transaction it takes; TTL `ttlSeconds` (default 7 days).
 *
 * A Redis failure costs nothing but a 452 more: get() then answers null, set() is logged once per interval.
 */
import type { Redis } from 'ioredis';
import type { TroubleLog } from './backoff.ts';
import { rcptRuleKey } from '../store/redis-keys.ts';

export interface SessionRuleStore {
  /** RCPTs per transaction the server takes, when it taught us; null when it did not (or Redis failed). */
  rcptPerTransaction(server: string): Promise<number | null>;
  learnRcptPerTransaction(server: string, rcpts: number): Promise<void>;
}

export function createSessionRuleStore(redis: Redis, options: { keyPrefix: string; ttlSeconds?: number; logger: TroubleLog }): SessionRuleStore {
  const ttl = options.ttlSeconds ?? 7 * 86_400;
  return {
    async rcptPerTransaction(server) {
      try {
        const raw = await redis.get(rcptRuleKey(options.keyPrefix, server));
        const n = raw === null ? NaN : Number(raw);
        return Number.isInteger(n) && n >= 1 ? n : null;
      } catch (err) {
        options.logger.warn({ server, err: (err as Error).message }, 'could not read learned session rules from Redis');
        return null;
      }
    },
    async learnRcptPerTransaction(server, rcpts) {
      try {
        await redis.set(rcptRuleKey(options.keyPrefix, server), String(Math.max(1, Math.floor(rcpts))), 'EX', ttl);
      } catch (err) {
        options.logger.warn({ server, err: (err as Error).message }, 'could not remember a learned session rule in Redis');
      }
    },
  };
}
