/**
 * Verdict storage against a real Redis: a verdict object saved for several addresses is stored once
 * (a '#id' reference in :verdicts, the JSON in :vtext); every reader resolves it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/domain/verdict.ts';
import { buildDeliverableIndex } from '../../src/flags/deliverable-index.ts';
import { ListStore } from '../../src/queue/list-store.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/run-list.ts';

let redis: Redis;
let prefix: string;
beforeAll(() => {
  redis = new Redis(REDIS_URL);
  prefix = uniquePrefix('vtext');
});
afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

describe('shared verdict texts', () => {
  it('stores a shared verdict once, a single one inline, and reads both back', async () => {
    const store = new ListStore(redis, prefix);
    await store.create({ id: 'l1', input: 'x.csv', name: 'x', outDir: '/tmp', options: { reject: 'undeliverable', neutraliseFormulas: true } });
    const exists: Verdict = { status: 'deliverable', reason: 'accepted', detail: 'ok', checkedAt: '2026-11-29T00:00:00.000Z' };
    const unknown: Verdict = { status: 'undeliverable', reason: 'mailbox_not_found', detail: 'no such user', smtpReply: '550 5.1.1 <bob@a.test>: User unknown', checkedAt: '2026-11-29T00:00:01.000Z' };
    const verdicts = new Map<string, Verdict>([
      ['ann@a.test', exists],
      ['bob@a.test', unknown],
      ['cyd@a.test', exists],
      ['dan@b.test', exists],
    ]);
    expect(await store.saveVerdicts('l1', verdicts)).toBe(4);
    // Saving again adds nothing (idempotent: same fields, same texts).
    expect(await store.saveVerdicts('l1', verdicts)).toBe(0);

    const keys = store.keys('l1');
    const raw = await redis.hgetall(keys.verdicts);
    expect(raw['ann@a.test']).toMatch(/^#[0-9a-f]{16}$/);
    expect(raw['cyd@a.test']).toBe(raw['ann@a.test']);
    expect(raw['bob@a.test']).toBe(JSON.stringify(unknown));
    expect(await redis.hlen(keys.vtext)).toBe(1);
    expect(Number(await redis.hget(keys.list, 'verified'))).toBe(4);

    const read = await store.readVerdicts('l1', ['ann@a.test', 'bob@a.test', 'dan@b.test', 'eve@b.test']);
    expect(read.get('ann@a.test')).toEqual(exists);
    expect(read.get('bob@a.test')).toEqual(unknown);
    expect(read.get('dan@b.test')).toEqual(exists);
    expect(read.has('eve@b.test')).toBe(false);
    expect(await store.verifiedKeys('l1', ['ann@a.test', 'eve@b.test'])).toEqual(new Set(['ann@a.test']));

    // The deliverable index sees through references: ann and cyd are deliverable on a.test.
    const index = await buildDeliverableIndex(redis, keys.verdicts, keys.vtext);
    expect(index.suggest('bobb', 'a.test')).toBeUndefined();
    expect(index.domains).toBe(1);
    expect(index.suggest('cydd', 'a.test')).toBe('cyd@a.test');

    await store.deleteList('l1');
    expect(await redis.exists(keys.verdicts, keys.vtext, keys.list)).toBe(0);
  });
});
