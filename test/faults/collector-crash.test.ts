/**
 * Fault: the collector dies in the middle of writing the outputs.
 * - In process (collectList's afterBatch hook throws after the first batch): the temp files are
 *   removed, nothing appears under a final name; collecting again writes complete outputs.
 * - For real (SIGKILL of a `hygiene verify` child during the collect phase of a big syntax-only
 *   list): only hidden `.name.*.tmp-*` files are left, never a partial file under a final name;
 *   running the same command again resumes the list and writes complete outputs.
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import { openListInput } from '../../src/app/list-input.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { collectList } from '../../src/collector/list-collector.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { loadConfig } from '../../src/config/config.ts';
import { parseRejectPolicy } from '../../src/domain/routing-policy.ts';
import { REDIS_URL, clearPrefix, expectCountsAddUp, expectEveryRowOnce, killChild, removeDir, runCli, silentLogger, tempDir, uniquePrefix, waitFor, writeContacts, type CliRun } from './fault-helpers.ts';
import { listOptions } from './world-fixtures.ts';

describe('collector crashes mid-write', () => {
  let runtime: HygieneRuntime | undefined;
  let dir = '';
  let prefix = '';
  const children: CliRun[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    await runtime?.close();
    runtime = undefined;
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  it('an error thrown mid-collect leaves no file at all under the final names; collecting again is complete', async () => {
    prefix = uniquePrefix('collect');
    dir = await tempDir('collect');
    const emails = Array.from({ length: 1_000 }, (_, i) => (i % 10 === 0 ? `broken-${i}` : `user${i}@example.test`));
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const config = loadConfig({ REDIS_URL, HYGIENE_PREFIX: prefix });
    // No finalize worker: this test drives the collector itself.
    runtime = await HygieneRuntime.start({ config, logger: silentLogger, redisUrl: REDIS_URL, verifyWorkers: true, finalizeWorker: false, verifier: 'syntax' });
    const { listId } = await startList(runtime, { input, outDir: dir, options: listOptions(config) });
    const rt = runtime;
    const list = await waitFor('every address to be verified', async () => {
      const l = await rt.store.get(listId);
      return l && l.uniqueAddresses > 0 && l.verified === l.uniqueAddresses ? l : null;
    });

    const collect = async (afterBatch?: (rows: number) => void): Promise<ListReport> => {
      const opened = await openListInput(input);
      return collectList(rt.redis, rt.store, {
        list,
        header: opened.header,
        rows: await opened.openRecords(),
        emailColumn: { index: opened.emailColumn.index, name: opened.emailColumn.name },
        dialect: { delimiter: opened.sniffed.delimiter, encoding: opened.sniffed.encoding, lineEnding: opened.sniffed.lineEnding, hasHeader: true },
        expectedCells: opened.expectedCells,
        rejectPolicy: parseRejectPolicy(list.options.reject),
        openWriter: (file) => opened.openWriter(file, true),
        batchSize: 100,
        afterBatch,
      });
    };
    await expect(
      collect((rows) => {
        if (rows >= 300) throw new Error('collector crashed');
      }),
    ).rejects.toThrow('collector crashed');
    expect((await readdir(dir)).sort()).toEqual(['contacts.csv']);

    const report = await collect();
    const outputs = await expectEveryRowOnce(report, ids);
    expect(outputs.rejected.length).toBe(100);
  });

  it('SIGKILL of `hygiene verify` while collecting: only hidden temp files; the same command again completes', async () => {
    prefix = uniquePrefix('collect-kill');
    dir = await tempDir('collect-kill');
    const outDir = path.join(dir, 'out');
    const input = path.join(dir, 'big.csv');
    const rows = 60_000;
    const lines = ['id,email,name'];
    for (let i = 0; i < rows; i++) lines.push(`r${i + 1},user${i}@example${i % 50}.test,Name ${i}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const env = { REDIS_URL, HYGIENE_PREFIX: prefix, HYGIENE_STALLED_INTERVAL_MS: '1000', HYGIENE_LOCK_DURATION_MS: '2000' };

    const first = runCli(['verify', input, '--out', outDir, '--syntax-only', '--json'], env);
    children.push(first);
    await waitFor(
      'the collector to start writing',
      async () => (await readdir(outDir).catch(() => [] as string[])).some((f) => f.startsWith('.big.cleaned.csv.tmp-')),
      20_000,
      10,
    );
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    const left = await readdir(outDir);
    expect(left.length).toBeGreaterThan(0);
    for (const name of left) expect(name).toMatch(/^\.big\.[a-z.]+\.tmp-\d+-[0-9a-f]+$/);

    const second = runCli(['verify', input, '--out', outDir, '--syntax-only', '--json'], env);
    children.push(second);
    const done = await second.exit;
    expect(done.code, second.stderr()).toBe(0);
    const report = JSON.parse(second.stdout()) as ListReport;
    expectCountsAddUp(report, rows);
    const finals = (await readdir(outDir)).filter((f) => !f.startsWith('.')).sort();
    expect(finals).toEqual(expect.arrayContaining(['big.cleaned.csv', 'big.rejected.csv', 'big.report.json']));
    // Every data row exactly once (ids are unique, so count + first/last are enough at this size).
    const { readFile } = await import('node:fs/promises');
    const cleaned = (await readFile(report.outputs.cleaned, 'utf8')).trimEnd().split('\n');
    const rejected = (await readFile(report.outputs.rejected, 'utf8')).trimEnd().split('\n');
    const idsSeen = [...cleaned.slice(1), ...rejected.slice(1)].map((line) => line.slice(0, line.indexOf(',')));
    expect(idsSeen.length).toBe(rows);
    expect(new Set(idsSeen).size).toBe(rows);
    expect(idsSeen.every((id) => /^r\d+$/.test(id) && Number(id.slice(1)) >= 1 && Number(id.slice(1)) <= rows)).toBe(true);
  });
});
