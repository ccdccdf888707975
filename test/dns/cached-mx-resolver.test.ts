import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCachedMxResolver } from '../../src/dns/cached-mx-resolver.ts';
import { mxCacheKey } from '../../src/store/redis-keys.ts';
import type { MxResolution, MxResolver } from '../../src/dns/mx-resolver.ts';

let redis: Redis;
let prefix: string;

beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await redis.quit();
});
beforeEach(() => {
  prefix = `test:mxcache:${randomUUID()}`;
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
});

const hosts: MxResolution = {
  kind: 'hosts',
  implicit: false,
  hosts: [
    { exchange: 'a.mx.test', preference: 10, addresses: ['127.0.7.1'] },
    { exchange: 'b.mx.test', preference: 10, addresses: ['127.0.7.2'] },
    { exchange: 'c.mx.test', preference: 10, addresses: ['127.0.7.3'] },
    { exchange: 'z.mx.test', preference: 90, addresses: ['127.0.7.9'] },
  ],
};

function fakeInner(answers: Record<string, MxResolution>, delayMs = 0): MxResolver & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async resolve(domain) {
      calls.push(domain);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const a = answers[domain];
      if (!a) throw new Error(`unexpected ${domain}`);
      return a;
    },
  };
}

const options = () => ({ keyPrefix: prefix, ttlSeconds: 3600, negativeTtlSeconds: 600, unknownTtlSeconds: 0 });

describe('createCachedMxResolver', () => {
  it('stores the resolution under ${prefix}:mx:${domain} with the positive TTL and serves it from Redis', async () => {
    const inner = fakeInner({ 'acme.test': hosts });
    const r = createCachedMxResolver(inner, redis, options());
    expect(await r.resolve('ACME.test')).toEqual({ ...hosts, hosts: expect.any(Array) });
    const ttl = await redis.ttl(mxCacheKey(prefix, 'acme.test'));
    expect(ttl).toBeGreaterThan(3500);
    const again = await r.resolve('acme.test');
    expect(inner.calls).toEqual(['acme.test']);
    expect(again.kind === 'hosts' && again.hosts.map((h) => h.exchange).sort()).toEqual(['a.mx.test', 'b.mx.test', 'c.mx.test', 'z.mx.test']);
    // A second process (new resolver, same Redis) does not ask DNS either.
    const other = fakeInner({});
    await createCachedMxResolver(other, redis, options()).resolve('acme.test');
    expect(other.calls).toEqual([]);
  });

  it('re-shuffles equal preferences on every read', async () => {
    await createCachedMxResolver(fakeInner({ 'acme.test': hosts }), redis, options()).resolve('acme.test');
    const r = createCachedMxResolver(fakeInner({}), redis, options());
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await r.resolve('acme.test');
      if (res.kind !== 'hosts') throw new Error('expected hosts');
      expect(res.hosts[3]?.exchange).toBe('z.mx.test');
      orders.add(res.hosts.map((h) => h.exchange).join(','));
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it('uses the negative TTL for undeliverable and does not cache unknown when unknownTtlSeconds is 0', async () => {
    const inner = fakeInner({
      'gone.test': { kind: 'none', status: 'undeliverable', reason: 'no_such_domain', detail: 'The domain gone.test does not exist.' },
      'flaky.test': { kind: 'none', status: 'unknown', reason: 'dns_error', detail: 'SERVFAIL for flaky.test.' },
    });
    const r = createCachedMxResolver(inner, redis, options());
    await r.resolve('gone.test');
    await r.resolve('gone.test');
    const ttl = await redis.ttl(mxCacheKey(prefix, 'gone.test'));
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
    await r.resolve('flaky.test');
    await r.resolve('flaky.test');
    expect(await redis.exists(mxCacheKey(prefix, 'flaky.test'))).toBe(0);
    expect(inner.calls).toEqual(['gone.test', 'flaky.test', 'flaky.test']);
  });

  it('merges concurrent lookups of one domain into one inner lookup', async () => {
    const inner = fakeInner({ 'acme.test': hosts }, 50);
    const r = createCachedMxResolver(inner, redis, options());
    const results = await Promise.all(Array.from({ length: 10 }, () => r.resolve('acme.test')));
    expect(inner.calls).toEqual(['acme.test']);
    expect(results.every((x) => x.kind === 'hosts')).toBe(true);
  });

  it('treats a malformed cache entry as a miss', async () => {
    await redis.set(mxCacheKey(prefix, 'acme.test'), '{"kind":"hosts","hosts":"nope"}');
    const inner = fakeInner({ 'acme.test': hosts });
    await createCachedMxResolver(inner, redis, options()).resolve('acme.test');
    expect(inner.calls).toEqual(['acme.test']);
  });
});
