import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { importBounceFiles } from '../../src/bounces/bounce-import.ts';
import { createSuppressionStore, type SuppressionStore } from '../../src/bounces/suppression-store.ts';
import type { ListReport } from '../../src/collector/report.ts';
import type { MailWorld } from '../../src/world/mail-world.ts';
import { dropPrefix, logger, REDIS_URL, startRuntime, startSmallWorld, tempDir, testConfig, uniquePrefix } from '../watch/e2e-setup.ts';

let world: MailWorld;
let prefix: string;
let redis: Redis;
let store: SuppressionStore;
let dir: string;
const runtimes: HygieneRuntime[] = [];

beforeEach(async () => {
  world = await startSmallWorld(['alice', 'bob', 'carol']);
  prefix = uniquePrefix('bounces');
  redis = new Redis(REDIS_URL);
  store = createSuppressionStore(redis, prefix);
  dir = await tempDir('bounces');
});

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  await world.stop();
  redis.disconnect();
  await dropPrefix(prefix);
});

const reject = 'undeliverable,duplicate,missing_email,malformed_row';

async function verify(runtime: HygieneRuntime, input: string): Promise<{ report: ListReport; rows: Map<string, Record<string, string>> }> {
  const started = await startList(runtime, { input, outDir: dir, options: { reject, neutraliseFormulas: true } });
  const report = await readReport(await waitForList(runtime, started.listId));
  const rows = new Map<string, Record<string, string>>();
  for (const file of [report.outputs.cleaned, report.outputs.rejected]) {
    for (const row of parse(await readFile(file, 'utf8'), { columns: true }) as Record<string, string>[]) rows.set(row.email!.toLowerCase(), row);
  }
  return { report, rows };
}

describe('bounce import', () => {
  it('suppresses hard bounces from plain and gzipped logs and DSNs, counts soft ones, keeps date and source line', async () => {
    const fixtures = new URL('./fixtures/', import.meta.url).pathname;
    const gz = path.join(dir, 'mail.log.1.gz');
    await writeFile(gz, gzipSync(await readFile(path.join(fixtures, 'postfix-mail.log'))));
    const summary = await importBounceFiles([gz, path.join(fixtures, 'exim-mainlog'), path.join(fixtures, 'dsn-bounce.eml')], { store, now: () => new Date('2024-02-01T00:00:00Z') });
    expect(summary.files.map((f) => [f.format, f.gzip, f.hard, f.soft, f.other])).toEqual([
      ['log', true, 2, 1, 2],
      ['log', false, 2, 1, 1],
      ['dsn', false, 1, 1, 1],
    ]);
    expect(summary.newlySuppressed).toBe(5);
    const keys: string[] = [];
    for await (const [key] of store.entries()) keys.push(key);
    expect(keys.sort()).toEqual(['dsn.gone@w.test', 'gone@w.test', 'left@w.test', 'nodomain@nxdomain.test', 'typo@nowhere.test']);
    const gone = await store.get('gone@w.test');
    expect(gone).toMatchObject({ status: '5.1.1', via: 'postfix', source: `${gz}:3`, addedAt: '2024-02-01T00:00:00.000Z' });
    expect(gone?.line).toContain('status=bounced (host mx.w.test[127.0.0.61] said: 550 5.1.1');
    expect(await store.softCount('slow@w.test')).toBe(1);
    expect(await store.get('full@w.test')).toBeNull();

    // The same logs again: nothing new, soft counts go up.
    const again = await importBounceFiles([gz], { store });
    expect(again.newlySuppressed).toBe(0);
    expect(await store.softCount('slow@w.test')).toBe(2);
  });

  it('refuses a missing file and a corrupt gzip with a clear error', async () => {
    await expect(importBounceFiles([path.join(dir, 'nope.log')], { store })).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const bad = path.join(dir, 'bad.gz');
    await writeFile(bad, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]));
    await expect(importBounceFiles([bad], { store })).rejects.toMatchObject({ code: 'INPUT_UNREADABLE' });
  });
});

describe('suppression in later verifications', () => {
  it('a bounced address is suppressed in the next run without being probed, even though its verdict was cached', async () => {
    const input = path.join(dir, 'contacts.csv');
    await writeFile(input, 'email,name\nalice@w.test,Alice\nbob@w.test,Bob\nnobody@w.test,Nobody\n');
    const runtime = await startRuntime(testConfig(world, prefix));
    runtimes.push(runtime);

    const first = await verify(runtime, input);
    expect(first.rows.get('bob@w.test')?.hygiene_status).toBe('deliverable');
    const rcptsAfterFirst = world.stats()['mx.w.test']?.rcptCount ?? 0;

    const log = path.join(dir, 'mail.log');
    await writeFile(
      log,
      'Feb  1 09:00:00 mail postfix/smtp[4242]: 1A2B3C4D5E: to=<bob@w.test>, relay=mx.w.test[127.0.0.61]:25, delay=0.2, delays=0.1/0/0.05/0.05, dsn=5.1.1, status=bounced (host mx.w.test[127.0.0.61] said: 550 5.1.1 <bob@w.test>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))\n',
    );
    const summary = await importBounceFiles([log], { store });
    expect(summary.newlySuppressed).toBe(1);

    const second = await verify(runtime, input);
    const bob = second.rows.get('bob@w.test');
    expect(bob?.hygiene_status).toBe('undeliverable');
    expect(bob?.hygiene_reason).toBe('suppressed');
    expect(bob?.hygiene_detail).toContain(`${log}:1`);
    expect(second.rows.get('alice@w.test')?.hygiene_status).toBe('deliverable');
    // alice and nobody came from the verdict cache, bob from the suppression list: no RCPT at all.
    expect(world.stats()['mx.w.test']?.rcptCount ?? 0).toBe(rcptsAfterFirst);
    expect(second.report.counts.byReason.suppressed).toBe(1);

    // Removed from the list: verified normally again (from the cache).
    await store.remove(['bob@w.test']);
    const third = await verify(runtime, input);
    expect(third.rows.get('bob@w.test')?.hygiene_status).toBe('deliverable');
  });

  it('the syntax-only path respects the suppression list too', async () => {
    const input = path.join(dir, 'syntax.csv');
    await writeFile(input, 'email\nalice@w.test\nbob@w.test\n');
    await store.add([['bob@w.test', { address: 'bob@w.test', reason: 'left the company', source: 'manual', via: 'manual', addedAt: new Date().toISOString() }]]);
    const runtime = await HygieneRuntime.start({ config: testConfig(world, prefix), logger, redisUrl: REDIS_URL, verifyWorkers: true, finalizeWorker: true, verifier: 'syntax' });
    runtimes.push(runtime);
    const { rows } = await verify(runtime, input);
    expect(rows.get('bob@w.test')).toMatchObject({ hygiene_status: 'undeliverable', hygiene_reason: 'suppressed' });
    expect(rows.get('bob@w.test')?.hygiene_detail).toContain('left the company');
    expect(rows.get('alice@w.test')?.hygiene_reason).toBe('not_verified');
  });
});
