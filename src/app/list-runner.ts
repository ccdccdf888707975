/**
 * Starting (or resuming) a list and waiting for it. A list's id is derived from the input file
 * (real path, size, mtime) and the options, so running the same command again after a crash finds
 * the same list and carries on from where it stopped: an interrupted parse starts over (nothing was
 * enqueued yet), an interrupted enqueue re-adds the same job ids (BullMQ keeps one of each), and
 * verdicts already recorded are never probed again. A finished list run again gets a new run id.
 * The parse pass records a digest of the bytes it read; the collector's pass checks it (a file
 * changed in between fails the list with INPUT_CHANGED, and running the command again starts a new
 * list: the new size and mtime give a new id, and a failed list is never resumed).
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ListReport } from '../collector/report.ts';
import { InputDigest } from '../csv/input-digest.ts';
import { fileError } from '../csv/input-sniffer.ts';
import { HygieneError, isRunStopCode } from '../errors.ts';
import { finalizeJobId } from '../queue/job-types.ts';
import { enqueueVerifyJobs, recordAddresses } from '../queue/list-producer.ts';
import type { ListOptions, ListRecord } from '../queue/list-store.ts';
import { openListInput, type ListInput } from './list-input.ts';
import type { HygieneRuntime } from './runtime.ts';
import { listRunKey } from '../store/redis-keys.ts';

export interface StartListRequest {
  input: string;
  outDir: string;
  options: ListOptions;
  /** Output base name; default: the input's name without .csv. */
  name?: string;
  onRowsRead?: (rows: number) => void;
  /** Use this id instead of deriving one from the file (the HTTP API assigns ids at upload). */
  listId?: string;
  /** Called once the list record exists (or was found), before the parse pass starts. */
  onCreated?: (listId: string) => void;
  /** The API tenant the list belongs to (API uploads only). */
  tenant?: string;
}

export interface StartedList {
  listId: string;
  resumed: boolean;
  input: ListInput;
}

export function outputBaseName(file: string): string {
  return path.basename(file).replace(/\.(csv|tsv|txt)$/i, '') || 'list';
}

export async function startList(runtime: HygieneRuntime, request: StartListRequest): Promise<StartedList> {
  const absolute = path.resolve(request.input);
  const info = await stat(absolute).catch((err: unknown) => {
    throw fileError(err, absolute);
  });
  if (!info.isFile()) throw new HygieneError('INPUT_UNREADABLE', `${absolute} is not a regular file.`, { path: absolute });
  // Everything that can be wrong with the file is found before anything is written.
  const input = await openListInput(absolute, request.options.emailColumn);
  const real = await realpath(absolute);
  const outDir = path.resolve(request.outDir);
  const base = createHash('sha256')
    .update(JSON.stringify([real, info.size, info.mtimeMs, outDir, request.name ?? '', request.options.emailColumn ?? '']))
    .digest('hex')
    .slice(0, 20);

  const { store, redis, config } = runtime;
  const runKey = listRunKey(config.keyPrefix, base);
  let run = Number((await redis.get(runKey)) ?? 0);
  let listId = request.listId ?? (run === 0 ? base : `${base}${run.toString(16).padStart(4, '0')}`);
  let existing = await store.get(listId);
  if (request.listId === undefined && existing && (existing.state === 'done' || existing.state === 'failed')) {
    run = await redis.incr(runKey);
    listId = `${base}${run.toString(16).padStart(4, '0')}`;
    existing = await store.get(listId);
  }
  await redis.expire(runKey, 30 * 86_400);
  const resumed = existing !== null;
  if (!existing) {
    await store.create({ id: listId, input: real, name: request.name ?? outputBaseName(absolute), outDir, options: request.options, tenant: request.tenant });
  }
  request.onCreated?.(listId);
  let state = existing?.state ?? 'parsing';
  const log = runtime.logger.child({ listId });

  if (state === 'parsing') {
    if (resumed) await store.resetParse(listId);
    // The collector's pass must read these very bytes: hashed as they are read (see InputDigest).
    const digest = new InputDigest();
    const rows = await input.openRecords(digest);
    const result = await recordAddresses(redis, store, {
      listId,
      rows,
      delimiter: input.sniffed.delimiter,
      emailColumn: input.emailColumn.index,
      expectedCells: input.expectedCells,
      onProgress: request.onRowsRead,
    });
    request.onRowsRead?.(result.rows);
    await store.markParsed(listId, { ...digest.result(), layout: input.layout });
    log.info({ rows: result.rows, unique: result.uniqueAddresses }, 'list parsed');
    state = 'enqueuing';
  }
  if (state === 'enqueuing') {
    const jobs = await enqueueVerifyJobs(redis, store, runtime.verifyQueue, listId, config.queue.jobSize);
    await store.setState(listId, 'verifying', { enqueued: '1', jobs, enqueuedAt: new Date().toISOString() });
    log.info({ jobs }, 'verify jobs enqueued');
  }
  // Covers lists with no address at all, and a crash between the last job and its finalize step.
  if ((await store.get(listId))?.state !== 'done' && (await store.markJobDone(listId, null))) {
    await runtime.finalizeQueue.add('finalize', { listId }, { jobId: finalizeJobId(listId) });
  }
  return { listId, resumed, input };
}

export interface WaitOptions {
  pollMs?: number;
  onProgress?: (list: ListRecord) => void;
  signal?: AbortSignal;
}

/** Polls the list state until it is done or failed (polling survives Redis restarts). */
export async function waitForList(runtime: HygieneRuntime, listId: string, options: WaitOptions = {}): Promise<ListRecord> {
  const pollMs = options.pollMs ?? 200;
  for (;;) {
    if (options.signal?.aborted) throw new HygieneError('LIST_FAILED', 'Interrupted while waiting for the list.', { listId });
    // Redis unreachable for a moment (a restart): poll again; null below is the list really gone.
    const list = await runtime.store.get(listId).catch(() => undefined);
    // Redis answered but the list is gone: it was restarted without persistence (or flushed).
    // Waiting would hang forever; the input is untouched, so the same command can simply run again.
    if (list === null) {
      throw new HygieneError(
        'LIST_FAILED',
        `List ${listId} vanished from Redis (was Redis restarted without persistence?). Run the same command again to start over.`,
        { listId },
      );
    }
    if (list) {
      options.onProgress?.(list);
      if (list.state === 'done') return list;
      if (list.state === 'failed') {
        // Stopped by our own fault (fault guard): the error keeps its code and message as they are.
        if (list.errorCode && isRunStopCode(list.errorCode)) throw new HygieneError(list.errorCode, list.error ?? 'The run was stopped.', { listId });
        throw new HygieneError(list.errorCode === 'INPUT_CHANGED' ? 'INPUT_CHANGED' : 'LIST_FAILED', `List ${listId} failed: ${list.error ?? 'unknown error'}`, { listId });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export async function readReport(list: ListRecord): Promise<ListReport> {
  const { readFile } = await import('node:fs/promises');
  if (!list.reportPath) throw new HygieneError('LIST_FAILED', `List ${list.id} has no report.`, { listId: list.id });
  return JSON.parse(await readFile(list.reportPath, 'utf8')) as ListReport;
}
