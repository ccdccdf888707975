/**
 * One run of a schedule and the daemon that runs them (`hygiene schedule run`).
 *
 * A run verifies the schedule's list again as a new list (outputs NAME.<run time>.cleaned.csv,
 * .rejected.csv, .report.json) with maxVerdictAgeMs set, so verdict-cache entries older than the
 * schedule's max age are probed again and fresher ones are reused; then writes the change report
 * (NAME.<run time>.changes.csv and .changes.json) against the previous run's snapshot.
 *
 * Crash safety: the run's list id is recorded under {p}:schedule:{id}:run:{runAt} as soon as the
 * list starts, so a job retried after a crash waits for (or resumes) the same list instead of
 * starting over; the snapshot swap and the "done" mark happen in one MULTI after the change files
 * are written, so a retry never compares a run with itself.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { openAtomicFile } from '../collector/atomic-file.ts';
import { readReport, startList, waitForList } from '../app/list-runner.ts';
import { createRedisClient } from '../app/redis-connection.ts';
import type { HygieneRuntime } from '../app/runtime.ts';
import { describePolicy } from '../domain/routing-policy.ts';
import { claimKeyLease, releaseKeyLease, renewKeyLease } from '../queue/key-lease.ts';
import { bullPrefix } from '../store/redis-keys.ts';
import { writeChangeReport } from './change-report.ts';
import { SCHEDULE_QUEUE, type ScheduleJobData } from './schedules.ts';
import { ScheduleStore, type ScheduleRecord, type ScheduleRunSummary } from './schedule-store.ts';

const RUN_MARKER_TTL_SECONDS = 30 * 86_400;
const RUNS_KEPT = 100;

/** "20240115T030000Z" (".123" appended when the time has milliseconds): safe in file names. */
export function runStamp(runAt: number): string {
  const iso = new Date(runAt).toISOString();
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19).replace(/[-:]/g, '')}${ms === '000' ? '' : `.${ms}`}Z`;
}

/** When a scheduler job was due: BullMQ names them "repeat:{schedulerId}:{millis}". */
export function runAtOf(job: Pick<Job, 'id' | 'timestamp' | 'opts'>): number {
  const last = String(job.id ?? '').split(':').pop() ?? '';
  if (/^\d{10,}$/.test(last)) return Number(last);
  return job.timestamp + (job.opts.delay ?? 0);
}

export interface RunOptions {
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Runs (or resumes) one due run; null when the schedule no longer exists, or when a later run of it
 * has already finished (this one was overtaken).
 */
export async function runSchedule(runtime: HygieneRuntime, scheduleId: string, runAt: number, options: RunOptions = {}): Promise<ScheduleRunSummary | null> {
  const { redis, config } = runtime;
  const store = new ScheduleStore(redis, config.keyPrefix);
  const record = await store.get(scheduleId);
  if (!record) return null;
  const keys = store.keys(scheduleId);
  const markerKey = keys.run(runAt);
  const marker = await redis.hgetall(markerKey);
  if (marker.done === '1' && marker.summary) return JSON.parse(marker.summary) as ScheduleRunSummary;
  const log = (options.logger ?? runtime.logger).child({ scheduleId, runAt: new Date(runAt).toISOString() });

  // One run of a schedule at a time, fleet-wide: two overlapping runs (a run longer than the
  // interval, two daemons) would verify the same list twice at once and race on the snapshot.
  const lock = await acquireScheduleLock(redis, keys.lock, options.signal);
  try {
    // Under the lock, a run that an already finished later run has overtaken (a retried job) has
    // nothing left to compare: reporting it now would compare the past with the future.
    const latest = (await store.runs(scheduleId, 1))[0];
    if (latest && Date.parse(latest.runAt) > runAt) {
      log.warn({ latestRunAt: latest.runAt }, 'scheduled run skipped: a later run of the schedule has already finished');
      return null;
    }
    return await runLocked(runtime, store, record, runAt, markerKey, log, options);
  } finally {
    await lock.release();
  }
}

const SCHEDULE_LOCK_TTL_MS = 60_000;
const SCHEDULE_LOCK_WAIT_MS = 1_000;

/**
 * Waits for the schedule's lock (polling; a run can hold it for hours) and keeps it renewed until
 * released. A process that dies holding it frees it within SCHEDULE_LOCK_TTL_MS.
 */
async function acquireScheduleLock(redis: HygieneRuntime['redis'], key: string, signal?: AbortSignal): Promise<{ release: () => Promise<void> }> {
  const token = `${process.pid}-${randomUUID()}`;
  while (!(await claimKeyLease(redis, key, token, SCHEDULE_LOCK_TTL_MS))) {
    if (signal?.aborted) throw new Error('Interrupted while waiting for the schedule lock.');
    await new Promise((resolve) => setTimeout(resolve, SCHEDULE_LOCK_WAIT_MS));
  }
  // One failed renewal is retried at the next tick (a third of the TTL): the lock lapses only if Redis refuses every renewal for a whole TTL.
  const renew = setInterval(() => void renewKeyLease(redis, key, token, SCHEDULE_LOCK_TTL_MS).catch(() => undefined), SCHEDULE_LOCK_TTL_MS / 3);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      // A release Redis refuses only holds the lock until its TTL ends.
      await releaseKeyLease(redis, key, token).catch(() => undefined);
    },
  };
}

async function runLocked(
  runtime: HygieneRuntime,
  store: ScheduleStore,
  record: ScheduleRecord,
  runAt: number,
  markerKey: string,
  log: Logger,
  options: RunOptions,
): Promise<ScheduleRunSummary> {
  const { redis, config } = runtime;
  const scheduleId = record.id;
  const keys = store.keys(scheduleId);
  const marker = await redis.hgetall(markerKey);
  if (marker.done === '1' && marker.summary) return JSON.parse(marker.summary) as ScheduleRunSummary;
  const name = `${record.name}.${runStamp(runAt)}`;
  let listId = marker.listId;
  const existing = listId ? await runtime.store.get(listId) : null;
  if (!existing || existing.state !== 'done') {
    const started = await startList(runtime, {
      input: record.input,
      outDir: record.outDir,
      name,
      options: {
        emailColumn: record.emailColumn,
        reject: describePolicy(config.output.rejectPolicy),
        neutraliseFormulas: config.output.neutraliseFormulas,
        maxVerdictAgeMs: record.maxVerdictAgeMs,
      },
    });
    listId = started.listId;
    await redis.multi().hset(markerKey, { listId }).expire(markerKey, RUN_MARKER_TTL_SECONDS).exec();
    log.info({ listId, resumed: started.resumed }, 'scheduled re-verification started');
  }
  const list = await waitForList(runtime, listId!, { signal: options.signal, pollMs: 500 });
  const report = await readReport(list);

  const changes = path.join(record.outDir, `${name}.changes.csv`);
  const changesSummary = path.join(record.outDir, `${name}.changes.json`);
  const counts = await writeChangeReport(redis, {
    verdictsKey: runtime.store.keys(list.id).verdicts,
    vtextKey: runtime.store.keys(list.id).vtext,
    snapshotKey: keys.snapshot,
    nextSnapshotKey: keys.nextSnapshot,
    changesPath: changes,
  });
  const previous = (await store.runs(scheduleId, 1))[0];
  const summary: ScheduleRunSummary = {
    scheduleId,
    listId: list.id,
    runAt: new Date(runAt).toISOString(),
    finishedAt: new Date().toISOString(),
    previousListId: counts.firstRun ? null : (previous?.listId ?? null),
    firstRun: counts.firstRun,
    compared: counts.compared,
    changed: counts.changed,
    transitions: counts.transitions,
    added: counts.added,
    removed: counts.removed,
    cacheHits: report.cache.hits,
    probed: report.cache.probed,
    outputs: { ...report.outputs, changes, changesSummary },
  };
  const file = openAtomicFile(changesSummary);
  file.stream.end(`${JSON.stringify(summary, null, 2)}\n`);
  await file.commit();

  const tx = redis.multi();
  if ((await redis.exists(keys.nextSnapshot)) === 1) tx.rename(keys.nextSnapshot, keys.snapshot);
  else tx.del(keys.snapshot);
  await tx
    .hset(markerKey, { done: '1', summary: JSON.stringify(summary) })
    .expire(markerKey, RUN_MARKER_TTL_SECONDS)
    .lpush(keys.runs, JSON.stringify(summary))
    .ltrim(keys.runs, 0, RUNS_KEPT - 1)
    .exec();
  log.info({ listId: list.id, changed: counts.changed, compared: counts.compared, probed: summary.probed, cacheHits: summary.cacheHits }, 'scheduled re-verification done');
  return summary;
}

export interface ScheduleDaemon {
  close(): Promise<void>;
}

export interface ScheduleDaemonOptions {
  redisUrl: string;
  /** Schedule runs processed at once by this process (default 1). */
  concurrency?: number;
  onRun?: (summary: ScheduleRunSummary) => void;
}

/**
 * Processes schedule jobs until closed. Closing stops waiting at once (a list can take hours): the
 * job is handed back through BullMQ's stalled-job check and resumes its list on the next start.
 */
export function startScheduleDaemon(runtime: HygieneRuntime, options: ScheduleDaemonOptions): ScheduleDaemon {
  const abort = new AbortController();
  const connection = createRedisClient(options.redisUrl, 'hygiene-schedule-worker');
  connection.on('error', (err) => runtime.logger.warn({ err: err.message }, 'redis connection error'));
  const worker = new Worker<ScheduleJobData>(
    SCHEDULE_QUEUE,
    async (job) => {
      const summary = await runSchedule(runtime, job.data.scheduleId, runAtOf(job), { signal: abort.signal });
      if (summary) options.onRun?.(summary);
      return summary ? { listId: summary.listId, changed: summary.changed } : { skipped: 'schedule removed, or overtaken by a later run' };
    },
    {
      connection,
      prefix: bullPrefix(runtime.config.keyPrefix),
      concurrency: options.concurrency ?? 1,
      stalledInterval: runtime.config.queue.stalledIntervalMs,
      lockDuration: runtime.config.queue.lockDurationMs,
      maxStalledCount: 10,
    },
  );
  worker.on('failed', (job, err) => runtime.logger.error({ scheduleId: job?.data.scheduleId, err: err.message }, 'scheduled run failed'));
  worker.on('error', (err) => runtime.logger.warn({ err: err.message }, 'schedule worker error'));
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        // Force: do not wait for active runs; their jobs stall and are picked up again on restart.
        await worker.close(true).catch(() => undefined);
        abort.abort();
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}
