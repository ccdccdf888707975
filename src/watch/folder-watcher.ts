/**
 * `hygiene watch DIR`: takes complete CSV files from DIR/inbox, verifies each as a list and moves it
 * with its outputs to DIR/done/JOB, or to DIR/failed/JOB with error.txt (layout: watch-layout.ts).
 *
 * - chokidar (inbox only, symlinks not followed) tells us something changed; a periodic rescan is
 *   the safety net for missed events. A file is taken once lstat shows the same size and mtime for
 *   `stableMs`; names ending in .part and hidden names are never taken.
 * - Files already in inbox/ when the watcher starts are taken like new ones. Jobs left in
 *   processing/ by a stopped watcher are resumed: the list id comes from the input's real path,
 *   size and mtime (list-runner.ts), and the input stays at processing/JOB/NAME for the whole job,
 *   so the restarted watcher finds the same list and carries on; a job whose report was already
 *   written is only moved to done/.
 * - Bad input never stops the watcher: symlinks (never followed, wherever they lead), directories,
 *   devices and FIFOs, names without .csv/.tsv/.txt, and anything the list cannot be started from
 *   (binary, empty, unreadable, no email column...) go to failed/ with the reason.
 */
import { lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { outputBaseName, readReport, startList, waitForList } from '../app/list-runner.ts';
import type { HygieneRuntime } from '../app/runtime.ts';
import { openAtomicFile } from '../collector/atomic-file.ts';
import { describePolicy } from '../domain/routing-policy.ts';
import { HygieneError, isHygieneError } from '../errors.ts';
import {
  ensureLayout,
  ERROR_FILE,
  errorText,
  hasAcceptedExtension,
  isIgnoredName,
  moveJob,
  newJobId,
  readJobMeta,
  safeFileName,
  watchLayout,
  writeJobMeta,
  type WatchLayout,
} from './watch-layout.ts';

export interface FolderWatcherOptions {
  dir: string;
  runtime: HygieneRuntime;
  logger: Logger;
  /** A file is taken once its size and mtime were unchanged this long. Default 2000 ms. */
  stableMs?: number;
  /** Lists verified at once. Default 2. */
  parallel?: number;
  /** Full inbox rescan interval (missed events). Default 10 000 ms. */
  rescanMs?: number;
  emailColumn?: string;
  /** Called when a job reaches done/ or failed/ (logs, tests, the CLI's output). */
  onSettled?: (event: SettledJob) => void;
}

export interface SettledJob {
  outcome: 'done' | 'failed';
  jobId: string;
  originalName: string;
  folder: string;
  reason?: string;
}

export interface FolderWatcher {
  layout: WatchLayout;
  close(): Promise<void>;
}

interface Candidate {
  size: number;
  mtimeMs: number;
  since: number;
}

export async function startFolderWatcher(options: FolderWatcherOptions): Promise<FolderWatcher> {
  const root = await realpath(path.resolve(options.dir)).catch((err: unknown) => {
    throw new HygieneError('INPUT_NOT_FOUND', `The watched folder ${options.dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? err}).`, { path: options.dir });
  });
  const layout = watchLayout(root);
  await ensureLayout(layout);
  const stableMs = options.stableMs ?? 2_000;
  const parallel = Math.max(1, options.parallel ?? 2);
  const log = options.logger.child({ watch: root });
  const { runtime } = options;
  const abort = new AbortController();

  const candidates = new Map<string, Candidate>();
  /** Inbox names being moved right now (duplicate events must not take them twice). */
  const claiming = new Set<string>();
  /** Names that could not even be moved to failed/: left alone until they change. */
  const stuck = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let closed = false;

  const settle = (event: SettledJob) => {
    log.info({ job: event.jobId, outcome: event.outcome, reason: event.reason }, event.outcome === 'done' ? 'file verified' : 'file failed');
    try {
      options.onSettled?.(event);
    } catch {
      // a listener's failure is not the watcher's
    }
  };

  const track = (work: Promise<void>) => {
    const p = work.catch((err: unknown) => log.error({ err: (err as Error).message }, 'watch job error')).finally(() => running.delete(p));
    running.add(p);
  };

  /** Moves what is at inbox/NAME (file, symlink, directory...) to failed/JOB with error.txt. */
  async function failFromInbox(name: string, code: string, reason: string): Promise<void> {
    const jobId = newJobId(name);
    const jobDir = path.join(layout.failed, jobId);
    try {
      await mkdir(jobDir);
      await rename(path.join(layout.inbox, name), path.join(jobDir, safeFileName(name)));
      await writeFile(path.join(jobDir, ERROR_FILE), errorText(name, code, reason));
      settle({ outcome: 'failed', jobId, originalName: name, folder: jobDir, reason });
    } catch (err) {
      log.error({ file: name, err: (err as Error).message }, 'could not move a refused file to failed/; leaving it in inbox/');
      // Gone meanwhile (moved by hand): nothing left to report about it.
      const info = await lstat(path.join(layout.inbox, name)).catch(() => null);
      stuck.set(name, info?.mtimeMs ?? 0);
    }
  }

  /** Looks at one inbox entry: refuse it, wait for it to settle, or take it when a slot is free. */
  async function consider(name: string): Promise<void> {
    if (closed || isIgnoredName(name) || claiming.has(name)) return;
    const full = path.join(layout.inbox, name);
    // A file that vanished between the event and here is simply not considered.
    const info = await lstat(full).catch(() => null);
    if (!info) {
      candidates.delete(name);
      return;
    }
    if (stuck.has(name) && stuck.get(name) === info.mtimeMs) return;
    stuck.delete(name);
    if (info.isSymbolicLink()) {
      const target = await readlink(full).catch(() => '?');
      // A dangling link has no target: null is reported as such below.
      const resolved = await realpath(full).catch(() => null);
      const outside = resolved === null || !(resolved === root || resolved.startsWith(`${root}${path.sep}`));
      claiming.add(name);
      try {
        await failFromInbox(name, 'INPUT_SYMLINK', `${name} is a symbolic link (to ${target}${outside ? ', outside the watched folder' : ''}); links are never followed. Copy the file itself into inbox/.`);
      } finally {
        claiming.delete(name);
        candidates.delete(name);
      }
      return;
    }
    if (!info.isFile()) {
      claiming.add(name);
      try {
        const what = info.isDirectory() ? 'a directory' : 'not a regular file (device, FIFO or socket)';
        await failFromInbox(name, 'INPUT_UNREADABLE', `${name} is ${what}; drop CSV files into inbox/.`);
      } finally {
        claiming.delete(name);
        candidates.delete(name);
      }
      return;
    }
    const now = Date.now();
    const seen = candidates.get(name);
    if (!seen || seen.size !== info.size || seen.mtimeMs !== info.mtimeMs) {
      candidates.set(name, { size: info.size, mtimeMs: info.mtimeMs, since: now });
      return;
    }
    if (now - seen.since < stableMs || running.size >= parallel) return;
    candidates.delete(name);
    claiming.add(name);
    try {
      if (!hasAcceptedExtension(name)) {
        await failFromInbox(name, 'INPUT_UNREADABLE', `${name} is not a CSV file: only .csv, .tsv and .txt files are verified.`);
        return;
      }
      const jobId = newJobId(name);
      const jobDir = path.join(layout.processing, jobId);
      const input = safeFileName(name);
      await mkdir(jobDir);
      await writeJobMeta(jobDir, { originalName: name, input, takenAt: new Date().toISOString() });
      try {
        await rename(full, path.join(jobDir, input));
      } catch (err) {
        await rm(jobDir, { recursive: true, force: true });
        throw err;
      }
      log.info({ file: name, job: jobId }, 'file taken');
      track(runJob(jobDir));
    } finally {
      claiming.delete(name);
    }
  }

  /** Verifies processing/JOB, then moves it to done/ or failed/. Resumes a job already started. */
  async function runJob(jobDir: string): Promise<void> {
    const jobId = path.basename(jobDir);
    const meta = await readJobMeta(jobDir);
    if (!meta) {
      await failJob(jobDir, jobId, '(unknown)', 'WATCH_STATE', 'The job folder has no readable .watch.json; it was not created by this watcher.');
      return;
    }
    const input = path.join(jobDir, meta.input);
    try {
      const reportFile = path.join(jobDir, `${outputBaseName(meta.input)}.report.json`);
      if (!(await exists(reportFile))) {
        const started = await startList(runtime, {
          input,
          outDir: jobDir,
          options: { emailColumn: options.emailColumn, reject: describePolicy(runtime.config.output.rejectPolicy), neutraliseFormulas: runtime.config.output.neutraliseFormulas },
        });
        if (started.resumed) log.info({ job: jobId, listId: started.listId }, 'resuming a job left in processing/');
        const list = await waitForList(runtime, started.listId, { signal: abort.signal, pollMs: 250 });
        await readReport(list);
      }
      await pointReportAtDone(reportFile, jobDir, path.join(layout.done, jobId));
      const folder = await moveJob(jobDir, layout.done);
      settle({ outcome: 'done', jobId, originalName: meta.originalName, folder });
    } catch (err) {
      if (abort.signal.aborted) return; // shutting down: the job stays in processing/ and resumes next start
      const code = isHygieneError(err) ? err.code : ((err as NodeJS.ErrnoException).code ?? 'ERROR');
      await failJob(jobDir, jobId, meta.originalName, code, (err as Error).message);
    }
  }

  async function failJob(jobDir: string, jobId: string, originalName: string, code: string, reason: string): Promise<void> {
    try {
      await writeFile(path.join(jobDir, ERROR_FILE), errorText(originalName, code, reason.replaceAll(jobDir, `processing/${jobId}`)));
      const folder = await moveJob(jobDir, layout.failed);
      settle({ outcome: 'failed', jobId, originalName, folder, reason });
    } catch (err) {
      log.error({ job: jobId, err: (err as Error).message }, 'could not move a failed job to failed/');
    }
  }

  /** The report names processing/ paths; the files are read from done/. */
  async function pointReportAtDone(reportFile: string, from: string, to: string): Promise<void> {
    const text = await readFile(reportFile, 'utf8');
    const report = JSON.parse(text) as { input?: string; outputs?: Record<string, string> };
    const move = (p: string) => (p.startsWith(`${from}${path.sep}`) ? path.join(to, p.slice(from.length + 1)) : p);
    if (report.input) report.input = move(report.input);
    if (report.outputs) for (const [k, v] of Object.entries(report.outputs)) report.outputs[k] = move(v);
    const file = openAtomicFile(reportFile);
    file.stream.end(`${JSON.stringify(report, null, 2)}\n`);
    await file.commit();
  }

  async function scanInbox(): Promise<void> {
    const names = await readdir(layout.inbox).catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, 'cannot read inbox/');
      return [] as string[];
    });
    for (const name of names) await consider(name).catch((err: unknown) => log.warn({ file: name, err: (err as Error).message }, 'cannot look at a file in inbox/'));
  }

  // Jobs a previous watcher left in processing/.
  for (const entry of await readdir(layout.processing, { withFileTypes: true })) {
    const jobDir = path.join(layout.processing, entry.name);
    if (!entry.isDirectory()) continue;
    const contents = await readdir(jobDir).catch(() => [] as string[]);
    if (contents.length === 0) {
      // Tidying only: a job folder that cannot be removed (not empty, gone) is left as it is.
      await rmdir(jobDir).catch(() => undefined);
      continue;
    }
    const meta = await readJobMeta(jobDir);
    if (meta && !contents.includes(meta.input)) {
      // Taken-but-not-moved (stopped between writing .watch.json and the rename): the file is
      // still in inbox/ and will be taken again.
      await rm(jobDir, { recursive: true, force: true });
      continue;
    }
    track(runJob(jobDir));
  }

  const watcher: FSWatcher = watch(layout.inbox, { depth: 0, followSymlinks: false, ignoreInitial: false, alwaysStat: false, ignorePermissionErrors: true });
  const onEvent = (file: string) => {
    const name = path.relative(layout.inbox, file);
    if (!name || name.includes(path.sep)) return;
    void consider(name).catch((err: unknown) => log.warn({ file: name, err: (err as Error).message }, 'cannot look at a file in inbox/'));
  };
  watcher.on('add', onEvent).on('change', onEvent).on('addDir', onEvent);
  watcher.on('error', (err) => log.warn({ err: (err as Error).message }, 'file watcher error'));

  // Candidates are re-checked often (stability), the whole inbox now and then (missed events).
  let lastScan = 0;
  const rescanMs = options.rescanMs ?? 10_000;
  const tick = setInterval(() => {
    if (closed) return;
    const due = Date.now() - lastScan >= rescanMs;
    if (due) lastScan = Date.now();
    const names = due ? null : [...candidates.keys()];
    // consider() logs its own failures; a file it could not take is found again by the next scan.
    void (names ? Promise.all(names.map((n) => consider(n).catch(() => undefined))) : scanInbox());
  }, Math.max(50, Math.min(500, Math.floor(stableMs / 4))));

  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  lastScan = Date.now();
  await scanInbox();
  log.info({ inbox: layout.inbox, stableMs, parallel }, 'watching');

  let closing: Promise<void> | null = null;
  return {
    layout,
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(tick);
        // Closing: a watcher that fails to close holds nothing we still need.
        await watcher.close().catch(() => undefined);
        abort.abort();
        await Promise.allSettled([...running]);
      })();
      return closing;
    },
  };
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}
