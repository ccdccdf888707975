/**
 * The fleet-wide session lease (probe/mx-lease.ts) on a real Redis: a lease whose renewal fails (its
 * key expired or vanished, or Redis refused the write) says so through `lost`, so that its holder
 * ends the session instead of going on over the per-MX cap.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMxLeaseManager } from '../../src/probe/mx-lease.ts';

import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/run-list.ts';

const redis = new Redis(REDIS_URL);
const prefix = uniquePrefix('lease');
afterAll(async () => {
  await deletePrefix(prefix);
  await redis.quit();
});

describe('MX session lease', () => {
  it('grants up to the limit and no more', async () => {
    const leases = createMxLeaseManager(redis, { keyPrefix: prefix, limit: 2, ttlMs: 2_000 });
    const a = await leases.tryAcquire('192.0.2.1');
    const b = await leases.tryAcquire('192.0.2.1');
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(await leases.tryAcquire('192.0.2.1')).toBeNull();
    await a!.release();
    const c = await leases.tryAcquire('192.0.2.1');
    expect(c).not.toBeNull();
    await b!.release();
    await c!.release();
  });

  it('says it was lost when a renewal finds it gone', async () => {
    const leases = createMxLeaseManager(redis, { keyPrefix: prefix, limit: 1, ttlMs: 1_000 });
    const lease = await leases.tryAcquire('192.0.2.2');
    expect(lease?.lost.aborted).toBe(false);
    await redis.del(`${prefix}:mxlease:192.0.2.2`);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(lease?.lost.aborted).toBe(true);
    await lease?.release();
  });

  it('says it was lost when Redis refuses the renewal', async () => {
    const broken = new Redis(REDIS_URL);
    const leases = createMxLeaseManager(broken, { keyPrefix: prefix, limit: 1, ttlMs: 1_000 });
    const lease = await leases.tryAcquire('192.0.2.3');
    expect(lease?.lost.aborted).toBe(false);
    // Every later command fails, as on a Redis refusing writes.
    broken.evalsha = (() => Promise.reject(new Error('READONLY You can\'t write against a read only replica.'))) as never;
    broken.eval = broken.evalsha as never;
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(lease?.lost.aborted).toBe(true);
    await lease?.release();
    broken.disconnect();
  });
});
