/**
 * The recorder's issues 14/15 side on a real Redis: per-provider and per-identity counters land in
 * {p}:list:{id}:provstats and read back through parseActivityStats; a sender block becomes one alert
 * per list (a list named twice, or the same block from a second process, adds none) and onNewAlert
 * runs once per new block alert, never for a throttle; a failing hook is reported, never thrown into
 * the pool.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMxStatsRecorder } from '../../src/app/mx-stats-recorder.ts';
import { createRedisClient } from '../../src/app/redis-connection.ts';
import type { SenderAlert } from '../../src/collector/report.ts';
import type { SenderBlockEvent } from '../../src/probe/mx-session-pool.ts';
import { identityStatsField, listActivityKeys, parseActivityStats, providerStatsField } from '../../src/store/redis-keys.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/run-list.ts';

const prefix = uniquePrefix('activity');
const redis = createRedisClient(REDIS_URL, 'test-activity');
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

const block = (over: Partial<SenderBlockEvent> = {}): SenderBlockEvent => ({
  provider: null,
  mx: 'mx.blocked.test',
  identity: 'direct',
  signature: 'spamhaus-zen',
  blocklist: 'zen.spamhaus.org',
  about: 'ip',
  severity: 'block',
  reply: '554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org',
  means: 'Our IP is on Spamhaus ZEN.',
  action: 'https://check.spamhaus.org/',
  cooldownUntil: 1_800_000_000_000,
  level: 1,
  listIds: ['l1', 'l2', 'l1'],
  ...over,
});

describe('MX stats recorder: providers, identities, alerts', () => {
  it('counts activity per provider and identity, and reads it back', async () => {
    const recorder = createMxStatsRecorder(redis, prefix);
    recorder.events.onIdentityActivity?.({ listId: 'l1', identity: 'eu-1', provider: 'google', what: 'session' });
    recorder.events.onIdentityActivity?.({ listId: 'l1', identity: 'eu-1', provider: 'google', what: 'rcpt', count: 7 });
    recorder.events.onIdentityActivity?.({ listId: 'l1', identity: 'eu-1', provider: null, what: 'rcpt' });
    recorder.events.onIdentityActivity?.({ listId: 'l1', identity: 'eu-1', provider: 'google', what: 'block' });
    recorder.events.onIdentityActivity?.({ listId: 'l1', identity: 'us-1', provider: 'google', what: 'cooldown', count: 3 });
    await recorder.flush();
    const raw = await redis.hgetall(listActivityKeys(prefix, 'l1').providerStats);
    expect(raw[providerStatsField('google', 'rcpts')]).toBe('7');
    expect(raw[identityStatsField('eu-1', 'rcpts')]).toBe('8');
    const stats = parseActivityStats(raw);
    expect(Object.fromEntries(stats.providers)).toEqual({ google: { sessions: 1, rcpts: 7, cooldowns: 3 } });
    expect(Object.fromEntries(stats.identities)).toEqual({ 'eu-1': { sessions: 1, rcpts: 8, cooldowns: 0 }, 'us-1': { sessions: 0, rcpts: 0, cooldowns: 3 } });
    // Fields of another format are not read as a provider or identity.
    expect(parseActivityStats({ 'x|a|rcpts': '1', 'p||rcpts': '2', 'p|a|weird': '3' })).toEqual({ providers: new Map(), identities: new Map() });
  });

  it('a flush Redis cannot take is handed to onFlushError (not thrown, not silent)', async () => {
    // A client that never connects and queues nothing: every command fails at once.
    const offline = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const errors: Error[] = [];
    const recorder = createMxStatsRecorder(offline, prefix, { onFlushError: (err) => errors.push(err) });
    recorder.events.onIdentityActivity?.({ listId: 'l9', identity: 'eu-1', provider: 'google', what: 'rcpt' });
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    offline.disconnect();
  });

  it('one alert per list and block, the hook once per new block, never for a throttle; a failing hook is reported', async () => {
    const seen: Array<[string, SenderAlert]> = [];
    const errors: string[] = [];
    const a = createMxStatsRecorder(redis, prefix, { onNewAlert: (listId, alert) => void seen.push([listId, alert]) });
    const b = createMxStatsRecorder(redis, prefix, { onNewAlert: () => Promise.reject(new Error('queue down')), onError: (err, listId) => errors.push(`${listId}: ${err.message}`) });
    a.events.onSenderBlock?.(block());
    await a.flush();
    b.events.onSenderBlock?.(block());
    b.events.onSenderBlock?.(block({ severity: 'throttle', signature: 'postfix-anvil-recipient-rate', cooldownUntil: 1_700_000_000_000, listIds: ['l3'] }));
    await b.flush();
    expect(seen.map(([listId, alert]) => [listId, alert.blocklist, alert.code])).toEqual([
      ['l1', 'zen.spamhaus.org', '5.7.1'],
      ['l2', 'zen.spamhaus.org', '5.7.1'],
    ]);
    // b saw the same block: no new alert, so its (failing) hook never ran for it; the throttle is new but sends nothing.
    expect(errors).toEqual([]);
    expect(await redis.hlen(listActivityKeys(prefix, 'l1').alerts)).toBe(1);
    expect(await redis.hlen(listActivityKeys(prefix, 'l3').alerts)).toBe(1);
    // A new block for b: its hook fails, the failure is reported and the alert is still recorded.
    b.events.onSenderBlock?.(block({ level: 2, cooldownUntil: 1_800_003_600_000, listIds: ['l4'] }));
    await b.flush();
    expect(errors).toEqual(['l4: queue down']);
    expect(await redis.hlen(listActivityKeys(prefix, 'l4').alerts)).toBe(1);
  });
});
