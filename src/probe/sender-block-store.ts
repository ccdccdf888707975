/**
 * The sender-block circuit breaker (issue 14 item 4, issue 15 item 2), fleet-wide in Redis. A reply
 * carrying a block signature of the provider table (our IP on Spamhaus, Microsoft's "5.7.606 banned
 * sending IP", S3140, ...) is about us: the breaker rests that (provider or server, identity) — its
 * LimitKey (limit-key.ts) — so no process of the fleet sends it another RCPT until the rest ends.
 * Each trip rests longer (the provider profile's blockCooldownMinutes: the first block the first
 * value, the next the next, the last repeating); the level starts again at 1 once the key has been
 * quiet for `decayMs` after its rest ended.
 *
 * Key: {p}:senderblock:{limit}  HASH  since, until (ms since epoch), level, signature, reply
 *      TTL: the rest plus decayMs (the level is remembered that long).   Lua: sender-block-trip.lua
 *
 * A Redis failure never lets traffic through: trip() then rests in this process (first rung), and
 * current() answers from what this process knows.
 */
import type { Redis } from 'ioredis';
import type { TroubleLog } from './backoff.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';
import { senderBlockKey } from '../store/redis-keys.ts';

export interface SenderRest {
  key: string;
  since: number;
  until: number;
  /** 1 for the first block in a row, 2 for the next... */
  level: number;
  signature: string;
  /** The server's reply, as one line. */
  reply: string;
}

export interface SenderBlockStore {
  /** The rest in force for this limit key, or null. One Redis read. */
  current(key: string): Promise<SenderRest | null>;
  /** Trips the breaker (or returns the rest already in force): `tripped` is true once per trip, fleet-wide. */
  trip(key: string, cause: { signature: string; reply: string; ladderMs: readonly number[] }): Promise<{ rest: SenderRest; tripped: boolean }>;
}

export interface SenderBlockOptions {
  keyPrefix: string;
  /** After a rest ends, how long before the level starts again at 1. Default 24 h. */
  decayMs?: number;
  logger: TroubleLog;
  now?: () => number;
}

const TRIP = loadLuaScript(new URL('./sender-block-trip.lua', import.meta.url));

export function createSenderBlockStore(redis: Redis, options: SenderBlockOptions): SenderBlockStore {
  const now = options.now ?? Date.now;
  const decayMs = options.decayMs ?? 24 * 3_600_000;
  const known = new Map<string, SenderRest>();
  const inForce = (rest: SenderRest | undefined): SenderRest | null => (rest && rest.until > now() ? rest : null);
  return {
    async current(key) {
      try {
        const rest = fromHash(key, await redis.hgetall(senderBlockKey(options.keyPrefix, key)));
        if (rest) known.set(key, rest);
        return inForce(rest ?? known.get(key));
      } catch (err) {
        options.logger.warn({ key, err: (err as Error).message }, 'could not read sender blocks from Redis; using what this process knows');
        return inForce(known.get(key));
      }
    },
    async trip(key, cause) {
      const at = now();
      const ladder = cause.ladderMs.length > 0 ? cause.ladderMs : [15 * 60_000];
      try {
        const r = (await runScript(redis, TRIP, [senderBlockKey(options.keyPrefix, key)], [at, decayMs, cause.signature, cause.reply, ...ladder])) as Array<string | number | null>;
        const rest = fromHash(key, { since: String(r[1] ?? ''), until: String(r[2] ?? ''), level: String(r[3] ?? ''), signature: String(r[4] ?? ''), reply: String(r[5] ?? '') });
        if (rest) {
          known.set(key, rest);
          return { rest, tripped: Number(r[0]) === 1 };
        }
      } catch (err) {
        options.logger.warn({ key, err: (err as Error).message }, 'could not record a sender block in Redis; resting in this process only');
      }
      const previous = inForce(known.get(key));
      if (previous) return { rest: previous, tripped: false };
      const rest: SenderRest = { key, since: at, until: at + ladder[0]!, level: 1, signature: cause.signature, reply: cause.reply };
      known.set(key, rest);
      return { rest, tripped: true };
    },
  };
}

function fromHash(key: string, raw: Record<string, string>): SenderRest | null {
  const since = Number(raw.since);
  const until = Number(raw.until);
  const level = Number(raw.level);
  if (!Number.isFinite(since) || !Number.isFinite(until) || until <= 0) return null;
  return { key, since, until, level: Number.isFinite(level) && level > 0 ? level : 1, signature: raw.signature ?? '', reply: raw.reply ?? '' };
}
