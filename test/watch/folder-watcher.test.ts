import { appendFile, lstat, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { startFolderWatcher, type FolderWatcher, type SettledJob } from '../../src/watch/folder-watcher.ts';
import { JOB_META_FILE } from '../../src/watch/watch-layout.ts';
import type { MailWorld } from '../../src/world/mail-world.ts';
import { dropPrefix, eventually, logger, REDIS_URL, startRuntime, startSmallWorld, tempDir, testConfig, uniquePrefix } from './e2e-setup.ts';

let world: MailWorld;
let prefix: string;
let root: string;
let runtime: HygieneRuntime | null = null;
let watcher: FolderWatcher | null = null;
let settled: SettledJob[];

const CONTACTS = 'email,name\nalice@w.test,Alice\nbob@w.test,Bob\nnobody@w.test,Nobody\n';

beforeEach(async () => {
  world = await startSmallWorld(['alice', 'bob']);
  prefix = uniquePrefix('watch');
  root = await tempDir('watch');
  settled = [];
});

afterEach(async () => {
  await watcher?.close();
  await runtime?.close();
  watcher = null;
  runtime = null;
  await world.stop();
  await dropPrefix(prefix);
});

async function start(options: { stableMs?: number } = {}): Promise<FolderWatcher> {
  runtime ??= await startRuntime(testConfig(world, prefix));
  watcher = await startFolderWatcher({ dir: root, runtime, logger, stableMs: options.stableMs ?? 300, rescanMs: 1_000, onSettled: (e) => settled.push(e) });
  return watcher;
}

const inbox = (name: string) => path.join(root, 'inbox', name);
const rcpts = () => world.stats()['mx.w.test']?.rcptCount ?? 0;

function settledFor(name: string, n = 1): Promise<SettledJob[]> {
  return eventually(async () => {
    const found = settled.filter((e) => e.originalName === name);
    return found.length >= n ? found : null;
  }, `${name} to be settled`);
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

describe('hygiene watch', () => {
  it('verifies a dropped file into done/ (input, outputs, report), and files present at start too', async () => {
    await mkdir(path.join(root, 'inbox'), { recursive: true });
    await writeFile(inbox('early.csv'), CONTACTS);
    await start();
    const [early] = await settledFor('early.csv');
    expect(early?.outcome).toBe('done');

    await writeFile(inbox('contacts.csv'), CONTACTS);
    const [job] = await settledFor('contacts.csv');
    expect(job?.outcome).toBe('done');
    expect(path.dirname(job!.folder)).toBe(path.join(watcher!.layout.done));
    expect(await readdir(job!.folder)).toEqual(expect.arrayContaining(['contacts.cleaned.csv', 'contacts.csv', 'contacts.rejected.csv', 'contacts.report.json']));
    const report = await readJson<ListReport>(path.join(job!.folder, 'contacts.report.json'));
    expect(report.rows).toBe(3);
    expect(report.counts.byStatus).toEqual({ deliverable: 2, undeliverable: 1 });
    // The report names the files where they are now.
    expect(report.outputs.cleaned).toBe(path.join(job!.folder, 'contacts.cleaned.csv'));
    expect(report.input).toBe(path.join(job!.folder, 'contacts.csv'));
    expect(await readFile(report.outputs.rejected, 'utf8')).toContain('nobody@w.test');
    // The same appended columns as every other way in, the mailable address last (issue 16).
    expect((await readFile(report.outputs.cleaned, 'utf8')).split('\n')[0]).toMatch(/,hygiene_flags,hygiene_address,hygiene_provider$/);
    expect(await readdir(path.join(root, 'inbox'))).toEqual([]);
    expect(await readdir(path.join(root, 'processing'))).toEqual([]);
  });

  it('the same content dropped twice gets its own outputs but probes nothing twice', async () => {
    await start();
    await writeFile(inbox('a.csv'), CONTACTS);
    const [first] = await settledFor('a.csv');
    const after = rcpts();
    expect(after).toBeGreaterThan(0);
    await writeFile(inbox('a.csv'), CONTACTS);
    const both = await settledFor('a.csv', 2);
    expect(both[1]?.outcome).toBe('done');
    expect(both[1]?.folder).not.toBe(first?.folder);
    const report = await readJson<ListReport>(path.join(both[1]!.folder, 'a.report.json'));
    expect(report.cache.probed).toBe(0);
    expect(rcpts()).toBe(after);
  });

  it('sends hostile and wrong files to failed/ with a reason, and keeps working', async () => {
    const outside = path.join(await tempDir('watch-outside'), 'secret.csv');
    await writeFile(outside, CONTACTS);
    await start();
    await symlink(outside, inbox('link.csv'));
    await writeFile(inbox('binary.csv'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    await writeFile(inbox('report.pdf'), '%PDF-1.4 not a csv');
    await writeFile(inbox('empty.csv'), '');
    await mkdir(inbox('folder'));

    const expectations: Array<[string, RegExp]> = [
      ['link.csv', /symbolic link \(to .*secret\.csv, outside the watched folder\)/],
      ['binary.csv', /binary|not a text/i],
      ['report.pdf', /not a CSV file/],
      ['empty.csv', /empty/],
      ['folder', /is a directory/],
    ];
    for (const [name, reason] of expectations) {
      const [job] = await settledFor(name);
      expect(job?.outcome, name).toBe('failed');
      expect(path.dirname(job!.folder)).toBe(watcher!.layout.failed);
      const error = await readFile(path.join(job!.folder, 'error.txt'), 'utf8');
      expect(error, name).toMatch(reason);
      expect(error).toContain(`file: ${name}`);
    }
    // The symlink was moved as a link, never followed or copied; the target is untouched.
    const [link] = await settledFor('link.csv');
    expect((await lstat(path.join(link!.folder, 'link.csv'))).isSymbolicLink()).toBe(true);
    expect(await readFile(outside, 'utf8')).toBe(CONTACTS);

    // Still alive: a good file goes through.
    await writeFile(inbox('good.csv'), CONTACTS);
    const [good] = await settledFor('good.csv');
    expect(good?.outcome).toBe('done');
  });

  it('does not take a file while it is still being written, nor a .part file until it is renamed', async () => {
    await start({ stableMs: 700 });
    const file = inbox('growing.csv');
    await writeFile(file, 'email,name\n');
    for (let i = 0; i < 12; i++) {
      await appendFile(file, `user${i}@w.test,User ${i}\n`);
      await new Promise((r) => setTimeout(r, 150));
      // Each write restarts the stability interval: the file stays in inbox/.
      expect((await readdir(path.join(root, 'inbox'))).includes('growing.csv')).toBe(true);
    }
    await writeFile(inbox('later.csv.part'), CONTACTS);
    const [grown] = await settledFor('growing.csv');
    expect(grown?.outcome).toBe('done');
    const report = await readJson<ListReport>(path.join(grown!.folder, 'growing.report.json'));
    expect(report.rows).toBe(12);

    expect(await readdir(path.join(root, 'inbox'))).toEqual(['later.csv.part']);
    await rename(inbox('later.csv.part'), inbox('later.csv'));
    const [later] = await settledFor('later.csv');
    expect(later?.outcome).toBe('done');
  });

  it('a restart resumes the same list of a job left in processing/ (stable list id), and finishes one whose report was written', async () => {
    // A watcher took the file and started its list, then stopped before any verification ran.
    const jobDir = path.join(root, 'processing', '20240101T000000Z-abcdef-left');
    await mkdir(jobDir, { recursive: true });
    await writeFile(path.join(jobDir, JOB_META_FILE), JSON.stringify({ originalName: 'left.csv', input: 'left.csv', takenAt: '2024-01-01T00:00:00Z' }));
    await writeFile(path.join(jobDir, 'left.csv'), CONTACTS);
    const enqueueOnly = await HygieneRuntime.start({ config: testConfig(world, prefix), logger, redisUrl: REDIS_URL, verifyWorkers: false, finalizeWorker: false });
    const started = await startList(enqueueOnly, { input: path.join(jobDir, 'left.csv'), outDir: jobDir, options: { reject: 'undeliverable', neutraliseFormulas: true } });
    expect((await enqueueOnly.store.get(started.listId))?.state).toBe('verifying');
    await enqueueOnly.close();

    // Another job whose report was already written when the watcher stopped.
    const finished = path.join(root, 'processing', '20240101T000000Z-123456-finished');
    await mkdir(finished);
    await writeFile(path.join(finished, JOB_META_FILE), JSON.stringify({ originalName: 'finished.csv', input: 'finished.csv', takenAt: '2024-01-01T00:00:00Z' }));
    await writeFile(path.join(finished, 'finished.csv'), CONTACTS);
    await writeFile(path.join(finished, 'finished.report.json'), JSON.stringify({ input: path.join(finished, 'finished.csv'), outputs: {} }));

    await start();
    const [left] = await settledFor('left.csv');
    expect(left?.outcome).toBe('done');
    expect(path.basename(left!.folder)).toBe('20240101T000000Z-abcdef-left');
    const report = await readJson<ListReport>(path.join(left!.folder, 'left.report.json'));
    expect(report.listId).toBe(started.listId);

    const [done] = await settledFor('finished.csv');
    expect(done?.outcome).toBe('done');
    expect((await readJson<ListReport>(path.join(done!.folder, 'finished.report.json'))).input).toBe(path.join(done!.folder, 'finished.csv'));
  });

  it('a file changed in processing/ while it verifies goes to failed/ with INPUT_CHANGED and no outputs; dropped again, it is verified', async () => {
    // Slow replies keep the list verifying long enough to change its input.
    await world.stop();
    world = await startSmallWorld(['alice', 'bob', 'new'], {}, { replyDelayMs: 150 });
    await start();
    await writeFile(inbox('contacts.csv'), CONTACTS);
    await eventually(async () => {
      const [id] = await runtime!.redis.zrange(`${prefix}:lists`, '0', '-1');
      return id ? (await runtime!.store.get(id))?.state === 'verifying' : false;
    }, 'the list to be verifying');
    // A writer that still had the file open adds rows at the top (the rename into processing/ keeps the inode).
    const [jobId] = await readdir(path.join(root, 'processing'));
    const taken = path.join(root, 'processing', jobId!, 'contacts.csv');
    await writeFile(taken, `email,name\nnew@w.test,New\nalice@w.test,Alice again\n${CONTACTS.slice('email,name\n'.length)}`);

    const [job] = await settledFor('contacts.csv');
    expect(job?.outcome).toBe('failed');
    const error = await readFile(path.join(job!.folder, 'error.txt'), 'utf8');
    expect(error).toContain('code: INPUT_CHANGED');
    expect(error).toMatch(/contacts\.csv changed while it was being verified/);
    expect(error).not.toContain(root);
    // No output under any name: only the input (as it is now) and the job's own files.
    expect((await readdir(job!.folder)).sort()).toEqual(['.watch.json', 'contacts.csv', 'error.txt'].sort());

    await writeFile(inbox('contacts.csv'), await readFile(path.join(job!.folder, 'contacts.csv')));
    const both = await settledFor('contacts.csv', 2);
    expect(both[1]?.outcome).toBe('done');
    const report = await readJson<ListReport>(path.join(both[1]!.folder, 'contacts.report.json'));
    expect(report.rows).toBe(5);
    expect(report.counts.byReason).toEqual({ accepted: 3, duplicate: 1, mailbox_not_found: 1 });
  });
});
