/**
 * Fleet-wide budget of SMTP session starts per MX server (issue 11: "no bug can become a connection
 * flood"). Whatever the cause — a server that closes every session, a retry loop, a bug — a server
 * sees at most `perMinute` connection attempts a minute from the whole fleet, after a burst of
 * `burst`. A token bucket in Redis, shared by every worker process: each connect attempt takes one
 * token; without one, the caller waits until the bucket has refilled enough.
 *
 * Default 60 a minute with a burst of 5: far above what a healthy run needs (one session serves
 * many RCPTs; the session cap per MX is 2), far below a flood.
 *
 * Key: {p}:mxstarts:{server}  HASH  tokens (float), at (ms since epoch of the last update); TTL a
 * few minutes. {server} is the server's address, as for the session lease (mx-lease.ts).
 *
 * A Redis error never becomes a tight loop: the caller waits (1 s, doubling to 30 s) and tries again.
 */
import type { Redis } from 'ioredis';
import type { TroubleLog } from './backoff.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';
import { sessionStartKey } from '../store/redis-keys.ts';

export interface SessionStartBudget {
  /** Resolves true once a session may start to `server`; false when the signal aborted the wait. */
  take(server: string, signal?: AbortSignal, rate?: { perMinute: number; burst: number }): Promise<boolean>;
}

export interface SessionStartBudgetOptions {
  keyPrefix: string;
  perMinute: number;
  burst: number;
  /** Where Redis failures are said (once per interval when shared: backoff.ts createTroubleLog). */
  logger: TroubleLog;
  now?: () => number;
}

/** session-start-budget-take.lua (KEYS and ARGV in its header). */
const TAKE = loadLuaScript(new URL('./session-start-budget-take.lua', import.meta.url));

const ERROR_BACKOFF_FIRST_MS = 1_000;
const ERROR_BACKOFF_MAX_MS = 30_000;

export function createSessionStartBudget(redis: Redis, options: SessionStartBudgetOptions): SessionStartBudget {
  const now = options.now ?? Date.now;
  return {
    async take(server, signal, rate) {
      const perMinute = rate?.perMinute ?? options.perMinute;
      const burst = rate?.burst ?? options.burst;
      let errorBackoff = ERROR_BACKOFF_FIRST_MS;
      for (;;) {
        if (signal?.aborted) return false;
        let waitMs: number;
        try {
          waitMs = Number(await runScript(redis, TAKE, [sessionStartKey(options.keyPrefix, server)], [now(), perMinute, burst]));
          errorBackoff = ERROR_BACKOFF_FIRST_MS;
        } catch (err) {
          options.logger.warn({ server, err: (err as Error).message, retryInMs: errorBackoff }, 'session-start budget unavailable (Redis); waiting before trying again');
          waitMs = errorBackoff;
          errorBackoff = Math.min(ERROR_BACKOFF_MAX_MS, errorBackoff * 2);
        }
        if (waitMs <= 0) return true;
        if (!(await sleep(waitMs, signal))) return false;
      }
    },
  };
}

/** Resolves true after `ms`, false at once when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
