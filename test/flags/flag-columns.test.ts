/**
 * The hygiene_flags and hygiene_suggestion columns end to end: a list verified against a simulated
 * world through the real pipeline (Redis, workers, collector), and the deliverable-local-part index
 * read from a real Redis hash.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { HYGIENE_COLUMNS } from '../../src/collector/list-collector.ts';
import { buildDeliverableIndex } from '../../src/flags/deliverable-index.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { deletePrefix, REDIS_URL, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

let world: MailWorld;
let runtime: HygieneRuntime;
let prefix: string;

beforeAll(async () => {
  world = await startMailWorld(
    parseWorldSpec({
      mxHosts: { 'mx.flags.test': { ip: '127.0.0.81' } },
      domains: {
        'acme.test': { mx: [{ host: 'mx.flags.test', preference: 10 }], mailboxes: ['john.doe', 'info', 'maria.garcia'] },
        'mailinator.com': { mx: [{ host: 'mx.flags.test', preference: 10 }], catchAll: true, mailboxes: [] },
        'gmail.com': { mx: [{ host: 'mx.flags.test', preference: 10 }], mailboxes: ['real.person'] },
      },
    }),
  );
  prefix = uniquePrefix('flagcols');
  runtime = await startRuntime(worldConfig(world, prefix));
});
afterAll(async () => {
  await runtime?.close();
  await world?.stop();
  await deletePrefix(prefix);
});

describe('flag and suggestion columns', () => {
  it('appends hygiene_flags after the other verdict columns (only hygiene_address and hygiene_provider follow) and fills both columns row by row', async () => {
    expect(HYGIENE_COLUMNS.slice(-3)).toEqual(['hygiene_flags', 'hygiene_address', 'hygiene_provider']);
    const dir = await tempDir('flagcols');
    const file = path.join(dir, 'people.csv');
    await writeFile(
      file,
      ['email', 'john.doe@acme.test', 'jhon.doe@acme.test', 'maria.garica@acme.test', 'maria.garcia@acme.test', 'info@acme.test', 'temp@mailinator.com', 'real.person@gmail.com', 'someone@gmial.com', 'nobody@acme.test'].join('\n') + '\n',
    );
    const out = await runList(runtime, file, dir);
    const row = (email: string) => out.byEmail.get(email)!;
    expect(Object.keys(row('john.doe@acme.test')).slice(-4)).toEqual(['hygiene_checked_at', 'hygiene_flags', 'hygiene_address', 'hygiene_provider']);
    expect(row('jhon.doe@acme.test')).toMatchObject({ hygiene_reason: 'mailbox_not_found', hygiene_suggestion: 'john.doe@acme.test' });
    expect(row('maria.garica@acme.test')).toMatchObject({ hygiene_reason: 'mailbox_not_found', hygiene_suggestion: 'maria.garcia@acme.test' });
    expect(row('nobody@acme.test')).toMatchObject({ hygiene_reason: 'mailbox_not_found', hygiene_suggestion: '' });
    expect(row('info@acme.test')).toMatchObject({ hygiene_status: 'deliverable', hygiene_flags: 'role' });
    expect(row('temp@mailinator.com').hygiene_flags).toBe('disposable');
    expect(row('real.person@gmail.com')).toMatchObject({ hygiene_status: 'deliverable', hygiene_flags: 'free', hygiene_suggestion: '' });
    expect(row('someone@gmial.com')).toMatchObject({ hygiene_reason: 'no_such_domain', hygiene_suggestion: 'someone@gmail.com', hygiene_flags: 'typo' });
    expect(row('john.doe@acme.test').hygiene_flags).toBe('');
    // Per-domain counts for the HTML report.
    expect(out.report.topDomains?.[0]).toMatchObject({ domain: 'acme.test', rows: 6 });
  });

  it('keeps the deliverable index bounded: only domains with a not-found, at most perDomain each', async () => {
    const redis = new Redis(REDIS_URL);
    const key = `${prefix}:test:verdicts`;
    try {
      const ok = JSON.stringify({ status: 'deliverable', reason: 'accepted', detail: '', checkedAt: 'x' });
      const nf = JSON.stringify({ status: 'undeliverable', reason: 'mailbox_not_found', detail: '', checkedAt: 'x' });
      const fields: string[] = [];
      for (let i = 0; i < 50; i++) fields.push(`user${i}@big.test`, ok);
      fields.push('usre1@big.test', nf, 'alice@quiet.test', ok);
      await redis.hset(key, ...fields);
      const index = await buildDeliverableIndex(redis, key, `${key}:vtext`, { perDomain: 10, total: 100 });
      expect(index.domains).toBe(1); // quiet.test has no not-found address: not kept
      const capped = await buildDeliverableIndex(redis, key, `${key}:vtext`, { perDomain: 10, total: 5 });
      expect(capped.domains).toBe(1);
      expect(index.suggest('alicee', 'quiet.test')).toBeUndefined();
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});
