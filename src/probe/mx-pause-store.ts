/**
 * Fleet-wide pauses of MX servers that slow us down (issue 11). A reply that is about our rate, not
 * the mailbox (Postfix anvil's "450 4.7.1 Error: too many recipients from [ip]", "421 4.7.0 Error:
 * too many connections from [ip]", "try again later" at the greeting...), pauses that server for
 * every worker process: nobody opens a session to it or sends it an RCPT until the pause ends, and
 * the probes waiting for it become delayed retries. Each new pause of the same server doubles the
 * previous one (exponential backoff) up to `maxMs`, with up to +25 % jitter so a fleet does not come
 * back in lock-step; a server that stays quiet for `maxMs` after its pause starts again at `baseMs`.
 * The first pause is at least `baseMs` (default 60 s: Postfix's anvil_rate_time_unit).
 *
 * Key: {p}:mxpause:{server}  HASH  since, until (ms since epoch), level (1, 2, 3...), reason, detail, kind
 *      TTL: the pause plus `maxMs` (the level is remembered that long).
 * {server} is the server's address, as for the session lease (mx-lease.ts): two MX names for one
 * machine share its pauses, which is what the server's rate limit counts.
 *
 * A Redis error never turns into a loop or into ignoring the server: pause() then pauses in this
 * process only (a local pause of baseMs), and current() answers from what this process knows.
 */
import type { Redis } from 'ioredis';
import type { TroubleLog } from './backoff.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';
import { mxPauseKey } from '../store/redis-keys.ts';

export interface MxPause {
  server: string;
  /** When the pause began and ends (ms since epoch). */
  since: number;
  until: number;
  /** 1 for the first pause, 2 for the next one (twice as long)... */
  level: number;
  /** The server's reply that caused it, as one line. */
  reason: string;
  /** 'rate': it limited our rate (too many connections/recipients from us); 'busy': it was not taking connections. */
  kind: 'rate' | 'busy';
  /** A sentence a person understands. */
  detail: string;
  /** Set by pause(): true when this call started the pause, false when it was already in force (a fleet pauses once). */
  created?: boolean;
}

export interface MxPauseStore {
  /** The pause in force for this server, or null. */
  current(server: string): Promise<MxPause | null>;
  /** Pauses the server fleet-wide (or returns the pause already in force: a fleet hitting the same limit pauses once). */
  pause(server: string, cause: Pick<MxPause, 'reason' | 'detail' | 'kind'>): Promise<MxPause>;
}

export interface MxPauseOptions {
  keyPrefix: string;
  /** First pause; default 60 s. */
  baseMs: number;
  /** Longest pause; default 1 h. */
  maxMs: number;
  /** Where Redis failures are said (once per interval when shared: backoff.ts createTroubleLog). */
  logger: TroubleLog;
  now?: () => number;
  random?: () => number;
}

/** mx-pause-store-pause.lua (KEYS and ARGV in its header). */
const PAUSE = loadLuaScript(new URL('./mx-pause-store-pause.lua', import.meta.url));

export function createMxPauseStore(redis: Redis, options: MxPauseOptions): MxPauseStore {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  /** What this process knows: its own pauses (also when Redis failed) and the last ones it read. */
  const known = new Map<string, MxPause>();

  const inForce = (pause: MxPause | undefined): MxPause | null => (pause && pause.until > now() ? pause : null);

  return {
    async current(server) {
      try {
        const raw = await redis.hgetall(mxPauseKey(options.keyPrefix, server));
        const pause = fromHash(server, raw);
        if (pause) known.set(server, pause);
        return inForce(pause ?? known.get(server));
      } catch (err) {
        options.logger.warn({ server, err: (err as Error).message }, 'could not read MX pauses from Redis; using what this process knows');
        return inForce(known.get(server));
      }
    },
    async pause(server, cause) {
      const at = now();
      try {
        const reply = (await runScript(redis, PAUSE, [mxPauseKey(options.keyPrefix, server)], [at, options.baseMs, options.maxMs, random(), cause.reason, cause.detail, cause.kind])) as Array<string | null>;
        const pause = fromHash(server, { since: reply[0] ?? '', until: reply[1] ?? '', level: reply[2] ?? '', reason: reply[3] ?? '', detail: reply[4] ?? '', kind: reply[5] ?? '' });
        if (pause) {
          known.set(server, pause);
          return { ...pause, created: pause.since === at };
        }
      } catch (err) {
        options.logger.warn({ server, err: (err as Error).message }, 'could not record an MX pause in Redis; pausing in this process only');
      }
      // Never "no pause" because Redis failed: at least this process backs off.
      const previous = known.get(server);
      const level = previous && previous.until + options.maxMs >= at ? previous.level + 1 : 1;
      const local: MxPause = { server, since: at, until: at + Math.min(options.maxMs, options.baseMs * 2 ** (level - 1)), level, ...cause };
      known.set(server, local);
      return { ...local, created: true };
    },
  };
}

function fromHash(server: string, raw: Record<string, string>): MxPause | null {
  const since = Number(raw.since);
  const until = Number(raw.until);
  const level = Number(raw.level);
  if (!Number.isFinite(since) || !Number.isFinite(until) || until <= 0) return null;
  return { server, since, until, level: Number.isFinite(level) && level > 0 ? level : 1, reason: raw.reason ?? '', detail: raw.detail ?? '', kind: raw.kind === 'busy' ? 'busy' : 'rate' };
}
