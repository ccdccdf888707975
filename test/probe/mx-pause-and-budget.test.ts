/**
 * The fleet-wide pieces that keep a slow-down from becoming a flood (issue 11), on a real Redis:
 * MX pauses (exponential backoff with jitter, one pause for a whole fleet hitting the same limit,
 * forgotten after a quiet period, a local pause when Redis fails) and the session-start budget (a
 * token bucket: a burst, then the per-minute rate; a Redis error backs off instead of looping).
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMxPauseStore } from '../../src/probe/mx-pause-store.ts';
import { mxPauseKey } from '../../src/store/redis-keys.ts';
import { createSessionStartBudget } from '../../src/probe/session-start-budget.ts';
import { deletePrefix, REDIS_URL, silentLogger, uniquePrefix } from '../helpers/run-list.ts';

let redis: Redis;
let prefix: string;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  prefix = uniquePrefix('pause');
});
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

const cause = { reason: '450 4.7.1 Error: too many recipients from 127.0.0.1', detail: 'slow down', kind: 'rate' as const };

describe('MX pauses', () => {
  it('doubles each new pause up to the cap, with at most +25 % jitter, and returns the pause in force to the rest of the fleet', async () => {
    let now = 1_000_000;
    let jitter = 0;
    const store = createMxPauseStore(redis, { keyPrefix: prefix, baseMs: 60_000, maxMs: 300_000, logger: silentLogger, now: () => now, random: () => jitter });
    const first = await store.pause('192.0.2.1', cause);
    expect(first).toMatchObject({ since: now, until: now + 60_000, level: 1, reason: cause.reason, kind: 'rate' });
    // Another worker hitting the same limit meanwhile gets the same pause, not a longer one.
    now += 10_000;
    expect(await store.pause('192.0.2.1', cause)).toMatchObject({ since: first.since, until: first.until, level: 1, created: false });
    expect(first.created).toBe(true);
    expect(await store.current('192.0.2.1')).toMatchObject({ until: first.until });
    // After it ends, throttled again: twice as long; then 4x; capped at maxMs.
    const levels: number[] = [];
    for (let i = 0; i < 4; i++) {
      now = (await store.pause('192.0.2.1', cause)).until + 1;
      const pause = await store.pause('192.0.2.1', cause);
      levels.push(pause.until - pause.since);
    }
    expect(levels).toEqual([120_000, 240_000, 300_000, 300_000]);
    expect(await store.current('192.0.2.1')).not.toBeNull();
    // Jitter only lengthens a pause (never below the base: anvil's time unit must pass), within +25 %.
    jitter = 0.999;
    const other = await store.pause('192.0.2.2', cause);
    expect(other.until - other.since).toBeGreaterThanOrEqual(60_000);
    expect(other.until - other.since).toBeLessThanOrEqual(75_000);
  });

  it('starts again at the base after a quiet period as long as the cap', async () => {
    let now = 5_000_000;
    const store = createMxPauseStore(redis, { keyPrefix: prefix, baseMs: 1_000, maxMs: 8_000, logger: silentLogger, now: () => now, random: () => 0 });
    const a = await store.pause('192.0.2.3', cause);
    now = a.until + 1;
    expect((await store.pause('192.0.2.3', cause)).level).toBe(2);
    now += 2_000 + 8_001;
    expect((await store.pause('192.0.2.3', cause)).level).toBe(1);
    expect(await redis.pttl(mxPauseKey(prefix, '192.0.2.3'))).toBeGreaterThan(0);
  });

  it('when Redis fails, still pauses in this process (never "no pause")', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    try {
      const now = 9_000_000;
      const store = createMxPauseStore(dead, { keyPrefix: prefix, baseMs: 60_000, maxMs: 600_000, logger: silentLogger, now: () => now });
      const pause = await store.pause('192.0.2.9', cause);
      expect(pause.until).toBe(now + 60_000);
      expect(await store.current('192.0.2.9')).toMatchObject({ until: now + 60_000 });
    } finally {
      dead.disconnect();
    }
  });
});

describe('session-start budget', () => {
  it('grants a burst at once, then one start per 60000/perMinute ms, shared by every caller', async () => {
    const budget = createSessionStartBudget(redis, { keyPrefix: prefix, perMinute: 120, burst: 3, logger: silentLogger });
    const other = createSessionStartBudget(redis, { keyPrefix: prefix, perMinute: 120, burst: 3, logger: silentLogger });
    const started = Date.now();
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? budget : other).take('192.0.2.50').then((ok) => {
          expect(ok).toBe(true);
          times.push(Date.now() - started);
        }),
      ),
    );
    times.sort((a, b) => a - b);
    // 3 at once, then 3 more at 500 ms intervals (120 a minute): never 6 at once.
    expect(times.filter((t) => t < 300)).toHaveLength(3);
    expect(times[5]!).toBeGreaterThanOrEqual(1_300);
  });

  it('an aborted wait gives up at once', async () => {
    const budget = createSessionStartBudget(redis, { keyPrefix: prefix, perMinute: 1, burst: 1, logger: silentLogger });
    expect(await budget.take('192.0.2.51')).toBe(true);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    expect(await budget.take('192.0.2.51', abort.signal)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a Redis that fails is retried after 1 s, 2 s, 4 s...: never a tight loop', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    let warnings = 0;
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(_chunk, _enc, done) {
          warnings += 1;
          done();
        },
      }),
    );
    try {
      const budget = createSessionStartBudget(dead, { keyPrefix: prefix, perMinute: 60, burst: 5, logger });
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 3_500);
      expect(await budget.take('192.0.2.52', abort.signal)).toBe(false);
      // Attempts at 0, 1 s and 3 s: three tries in 3.5 s, not thousands.
      expect(warnings).toBe(3);
    } finally {
      dead.disconnect();
    }
  });
});
