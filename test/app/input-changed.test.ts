/**
 * The input changed between the producer's pass and the collector's (issue 12, item 2). Row indexes,
 * first occurrences and verdicts all refer to the bytes the first pass read: a collector reading
 * other bytes would route prepended rows as not_verified and real addresses as duplicates. The list
 * fails with INPUT_CHANGED instead, nothing is written under a final name, and the same command run
 * again verifies the file as it now is.
 */
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { isHygieneError } from '../../src/errors.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { killChild, runCli, waitFor, type CliRun } from '../faults/fault-helpers.ts';
import { worldEnv } from '../faults/world-fixtures.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const HEADER = 'id,email\n';
const ROWS = ['1,alice@example.com', '2,bob@example.com', '3,carol@example.com', '4,dave@example.com'];
const OPTIONS = { reject: 'undeliverable,duplicate,missing_email,malformed_row', neutraliseFormulas: true };

/** Each change is made synchronously, after the first pass has read the whole file. */
const CHANGES: Array<[string, (file: string) => void, number]> = [
  ['rows prepended', (file) => writeFileSync(file, HEADER + ['10,new@example.com', '11,alice@example.com'].join('\n') + '\n' + readFileSync(file, 'utf8').slice(HEADER.length)), 6],
  ['rows appended', (file) => writeFileSync(file, `${readFileSync(file, 'utf8')}5,erin@example.com\n`), 5],
  [
    'one byte changed, same size and mtime',
    (file) => {
      const before = statSync(file);
      writeFileSync(file, readFileSync(file, 'utf8').replace('bob@', 'rob@'));
      utimesSync(file, before.atime, before.mtime);
    },
    4,
  ],
  ['the email column moved', (file) => writeFileSync(file, `email,id\n${ROWS.map((r) => r.split(',').reverse().join(',')).join('\n')}\n`), 4],
];

describe('the input changed between the two passes (CLI path: startList → finalize)', () => {
  let runtime: HygieneRuntime;
  let prefix: string;
  let dir: string;

  beforeAll(async () => {
    prefix = uniquePrefix('input-changed');
    runtime = await startRuntime(worldConfig(null, prefix), { verifier: 'syntax' });
    dir = await tempDir('input-changed');
  });
  afterAll(async () => {
    await runtime.close();
    await deletePrefix(prefix);
  });

  it.each(CHANGES)('%s: the list fails with INPUT_CHANGED, no output is written; the same command again completes', async (name, change, rowsAfter) => {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.csv`);
    const outDir = path.join(dir, `out-${name.replace(/\W+/g, '-')}`);
    await writeFile(file, `${HEADER}${ROWS.join('\n')}\n`);
    let changed = false;
    const started = await startList(runtime, {
      input: file,
      outDir,
      options: OPTIONS,
      // Called once the first pass has read the file: the change lands between the two passes.
      onRowsRead: () => {
        if (changed) return;
        changed = true;
        change(file);
      },
    });
    expect(changed).toBe(true);
    const failure = await waitForList(runtime, started.listId, { pollMs: 50 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isHygieneError(failure, 'INPUT_CHANGED'), String(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/changed while it was being verified .*no output was written\. Run the same command again/);
    // The message names the file, never its directory.
    expect((failure as Error).message).not.toContain(dir);
    const list = (await runtime.store.get(started.listId))!;
    expect(list.state).toBe('failed');
    expect(list.errorCode).toBe('INPUT_CHANGED');
    // Nothing under a final name, and no temporary file left behind.
    expect(await readdir(outDir).catch(() => [])).toEqual([]);

    const again = await runList(runtime, file, outDir);
    expect(again.report.listId).not.toBe(started.listId);
    expect(countsProblems(again.report)).toEqual([]);
    expect(again.report.rows).toBe(rowsAfter);
    // Every address got its verdict (syntax-only: "not checked"), none the collector's "no verdict".
    const rows = [...again.cleaned, ...again.rejected];
    for (const row of rows) expect(row.hygiene_detail, row.email).not.toMatch(/No verdict was recorded/);
    // Duplicates are the later occurrences in the file as it is now (row 1's alice after row 11's).
    expect(rows.filter((r) => r.hygiene_reason === 'duplicate').map((r) => r.id)).toEqual(rowsAfter === 6 ? ['1'] : []);
    // Every row of the file as it is now, once.
    const [header, ...lines] = (await readFile(file, 'utf8')).trim().split('\n');
    const idAt = header!.split(',').indexOf('id');
    expect(rows.map((r) => r.id).sort()).toEqual(lines.map((l) => l.split(',')[idAt]).sort());
  });

  it('an unchanged input still completes (the digest of both passes matches)', async () => {
    const file = path.join(dir, 'unchanged.csv');
    await writeFile(file, `${HEADER}${ROWS.join('\n')}\n`);
    const out = await runList(runtime, file, path.join(dir, 'out-unchanged'));
    expect(out.report.rows).toBe(4);
    expect(out.report.counts.byReason).toEqual({ not_verified: 4 });
    for (const row of [...out.cleaned, ...out.rejected]) expect(row.hygiene_detail).toMatch(/the mailbox was not checked/);
    const list = (await runtime.store.get(out.report.listId))!;
    expect(list.inputIdentity?.bytes).toBe(Buffer.byteLength(`${HEADER}${ROWS.join('\n')}\n`));
    expect(list.inputIdentity?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('`hygiene verify` on a file changed while it verifies', () => {
  let world: MailWorld | undefined;
  let prefix = '';
  const children: CliRun[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    await world?.stop();
    await deletePrefix(prefix);
  });

  it('exits 1 with INPUT_CHANGED and no outputs; run again, it verifies the new content', async () => {
    // Slow replies: the list stays in its verifying state long enough to change the file.
    world = await startMailWorld(
      parseWorldSpec({
        mxHosts: { 'mx.slow.test': { ip: '127.0.4.31', behaviour: { replyDelayMs: 150 } } },
        domains: { 'slow.test': { mx: [{ host: 'mx.slow.test', preference: 10 }], mailboxes: ['a', 'b', 'c', 'new'] } },
      }),
    );
    prefix = uniquePrefix('input-changed-cli');
    const dir = await tempDir('input-changed-cli');
    const file = path.join(dir, 'contacts.csv');
    const outDir = path.join(dir, 'out');
    await writeFile(file, 'id,email\n1,a@slow.test\n2,b@slow.test\n3,c@slow.test\n4,x@slow.test\n');
    const env = worldEnv(world.dnsServers, world.smtpPort, prefix);
    const first = runCli(['verify', file, '--out', outDir], env);
    children.push(first);
    const runtime = await startRuntime(worldConfig(world, prefix), { verifyWorkers: false, finalizeWorker: false });
    try {
      await waitFor('the list to be verifying', async () => {
        const [id] = await runtime.redis.zrange(`${prefix}:lists`, '0', '-1');
        return id ? (await runtime.store.get(id))?.state === 'verifying' : false;
      });
    } finally {
      await runtime.close();
    }
    // Rows prepended while it verifies (the case that turned real addresses into duplicates).
    await writeFile(file, 'id,email\n9,new@slow.test\n10,a@slow.test\n1,a@slow.test\n2,b@slow.test\n3,c@slow.test\n4,x@slow.test\n');
    const exit = await first.exit;
    expect(exit.code, first.stderr()).toBe(1);
    expect(first.stderr()).toMatch(/contacts\.csv changed while it was being verified/);
    expect(await readdir(outDir)).toEqual([]);

    const second = runCli(['verify', file, '--out', outDir, '--json'], env);
    children.push(second);
    const done = await second.exit;
    expect(done.code, second.stderr()).toBe(0);
    const report = JSON.parse(second.stdout()) as ListReport;
    expect(report.rows).toBe(6);
    expect(report.counts.byReason).toEqual({ accepted: 4, duplicate: 1, mailbox_not_found: 1 });
  });
});
