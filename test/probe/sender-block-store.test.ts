/**
 * The sender-block breaker's store (src/probe/sender-block-store.ts) on a real Redis: one trip per
 * rest fleet-wide, the escalating ladder (first block the first rung, the last rung repeating), the
 * level starting again after a quiet period, what another process sees, and a Redis failure that
 * still rests (never lets traffic through).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSenderBlockStore } from '../../src/probe/sender-block-store.ts';
import { deletePrefix, REDIS_URL, silentLogger, uniquePrefix } from '../helpers/run-list.ts';

const redis = new Redis(REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
  redis.disconnect();
});

const MIN = 60_000;
const ladderMs = [5 * MIN, 60 * MIN, 1440 * MIN];

function store(clock: { t: number }, decayMs = 24 * 60 * MIN) {
  const keyPrefix = uniquePrefix('senderblock');
  prefixes.push(keyPrefix);
  return { keyPrefix, make: () => createSenderBlockStore(redis, { keyPrefix, decayMs, logger: silentLogger, now: () => clock.t }) };
}

describe('sender-block store', () => {
  it('trips once per rest, fleet-wide: a second process sees the rest and does not trip again', async () => {
    const clock = { t: 1_000_000 };
    const { make } = store(clock);
    const a = make();
    const b = make();
    const first = await a.trip('microsoft@proxy-1', { signature: 'microsoft-banned-sending-ip', reply: '550 5.7.606 banned', ladderMs });
    expect(first).toMatchObject({ tripped: true, rest: { level: 1, until: clock.t + 5 * MIN, signature: 'microsoft-banned-sending-ip' } });
    expect(await b.current('microsoft@proxy-1')).toMatchObject({ level: 1, until: clock.t + 5 * MIN });
    expect((await b.trip('microsoft@proxy-1', { signature: 'x', reply: 'y', ladderMs })).tripped).toBe(false);
    // Another identity is another key.
    expect(await b.current('microsoft@proxy-2')).toBeNull();
  });

  it('escalates along the ladder, the last rung repeating, and starts again after a quiet period', async () => {
    const clock = { t: 5_000_000 };
    const { make } = store(clock, 10 * MIN);
    const s = make();
    const levels: Array<[number, number]> = [];
    for (let i = 0; i < 4; i++) {
      const { rest } = await s.trip('google@direct', { signature: 'google-ip-blocked', reply: '550 5.7.1', ladderMs });
      levels.push([rest.level, (rest.until - clock.t) / MIN]);
      clock.t = rest.until + MIN; // blocked again one minute after the rest ended
    }
    expect(levels).toEqual([
      [1, 5],
      [2, 60],
      [3, 1440],
      [4, 1440],
    ]);
    expect(await s.current('google@direct')).toBeNull();
    clock.t += 11 * MIN; // quiet for longer than the decay after the last rest
    expect((await s.trip('google@direct', { signature: 'google-ip-blocked', reply: '550 5.7.1', ladderMs })).rest.level).toBe(1);
  });

  it('Redis failing: still rests in this process, never "no block"', async () => {
    const broken = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    const clock = { t: 9_000_000 };
    const s = createSenderBlockStore(broken, { keyPrefix: 'never', logger: silentLogger, now: () => clock.t });
    const { rest, tripped } = await s.trip('yahoo@direct', { signature: 'yahoo-bl21', reply: '553 5.7.1 [BL21]', ladderMs });
    expect(tripped).toBe(true);
    expect(rest.until).toBe(clock.t + 5 * MIN);
    expect(await s.current('yahoo@direct')).toMatchObject({ level: 1 });
    broken.disconnect();
  });
});
