/**
 * Schedules as plain functions: add, list, get, remove. Used by `hygiene schedule` and meant for
 * the HTTP API too (it passes its Redis client and key prefix). A schedule is a ScheduleRecord in
 * Redis plus a BullMQ job scheduler of the same id in the "schedule" queue (upsertJobScheduler with
 * an `every` interval or a cron `pattern` and `tz`); `hygiene schedule run` processes its jobs.
 * Both live in Redis, so schedules survive restarts of every process.
 */
import { randomBytes } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { openListInput } from '../app/list-input.ts';
import { outputBaseName } from '../app/list-runner.ts';
import { fileError } from '../csv/input-sniffer.ts';
import { HygieneError } from '../errors.ts';
import { bullPrefix } from '../store/redis-keys.ts';
import { checkCronPattern, checkTimeZone, parseDuration } from './schedule-spec.ts';
import { ScheduleStore, type ScheduleRecord, type ScheduleRunSummary } from './schedule-store.ts';

export const SCHEDULE_QUEUE = 'schedule';
/** Default --max-age: verdicts checked more than a day ago are probed again on each run. */
export const DEFAULT_MAX_VERDICT_AGE_MS = 86_400_000;
/** Shortest --every accepted (the tests use seconds; production schedules use days). */
export const MIN_EVERY_MS = 1_000;

export interface ScheduleJobData {
  scheduleId: string;
}

export interface ScheduleDeps {
  redis: Redis;
  prefix: string;
  /** The "schedule" queue; openScheduleQueue(redis, prefix) makes one. */
  queue: Queue<ScheduleJobData>;
}

export function openScheduleQueue(redis: Redis, prefix: string): Queue<ScheduleJobData> {
  return new Queue<ScheduleJobData>(SCHEDULE_QUEUE, {
    connection: redis,
    prefix: bullPrefix(prefix),
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } },
  });
}

export interface AddScheduleRequest {
  /** The list's CSV, a path the schedule daemon can read. */
  input: string;
  outDir: string;
  /** Interval: "7d", "12h"... or ms. Exactly one of every / cron. */
  every?: string | number;
  cron?: string;
  /** Time zone of the cron pattern; default UTC. */
  tz?: string;
  /** "1d" or ms; default DEFAULT_MAX_VERDICT_AGE_MS. */
  maxAge?: string | number;
  /** Output base name; default: the input's name without .csv. */
  name?: string;
  emailColumn?: string;
}

export interface ScheduleView extends ScheduleRecord {
  /** Next due time (ms since epoch) as BullMQ knows it, when the job scheduler exists. */
  next?: number;
  lastRun?: ScheduleRunSummary;
}

function durationOf(value: string | number, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new HygieneError('USAGE', `${what} must be a whole number of milliseconds`);
    return value;
  }
  return parseDuration(value, what);
}

export async function addSchedule(deps: ScheduleDeps, request: AddScheduleRequest): Promise<ScheduleView> {
  if ((request.every === undefined) === (request.cron === undefined)) {
    throw new HygieneError('USAGE', 'A schedule needs exactly one of --every (e.g. 7d) or --cron (e.g. "0 3 * * 1").');
  }
  const every = request.every === undefined ? undefined : durationOf(request.every, '--every');
  if (every !== undefined && every < MIN_EVERY_MS) throw new HygieneError('USAGE', `--every must be at least ${MIN_EVERY_MS} ms`);
  const cron = request.cron === undefined ? undefined : checkCronPattern(request.cron);
  const tz = checkTimeZone(request.tz ?? 'UTC');
  const maxVerdictAgeMs = request.maxAge === undefined ? DEFAULT_MAX_VERDICT_AGE_MS : durationOf(request.maxAge, '--max-age');
  const absolute = path.resolve(request.input);
  const input = await realpath(absolute).catch((err: unknown) => {
    throw fileError(err, absolute);
  });
  // Refuse a file that would fail every run: binary, empty, no email column...
  await openListInput(input, request.emailColumn);
  if (request.name !== undefined && !/^[\w.-]{1,100}$/.test(request.name)) throw new HygieneError('USAGE', 'The name may only use letters, digits, _ . - (at most 100).');

  const record: ScheduleRecord = {
    id: `s${randomBytes(5).toString('hex')}`,
    input,
    outDir: path.resolve(request.outDir),
    name: request.name ?? outputBaseName(input),
    every,
    cron,
    tz,
    maxVerdictAgeMs,
    emailColumn: request.emailColumn,
    createdAt: new Date().toISOString(),
  };
  const store = new ScheduleStore(deps.redis, deps.prefix);
  await store.save(record);
  try {
    await deps.queue.upsertJobScheduler(record.id, every !== undefined ? { every } : { pattern: cron, tz }, { name: 'reverify', data: { scheduleId: record.id } });
  } catch (err) {
    await store.delete(record.id);
    throw new HygieneError('USAGE', `The schedule was refused: ${(err as Error).message}`, { cron, tz }, { cause: err });
  }
  return (await getSchedule(deps, record.id)) ?? record;
}

export async function getSchedule(deps: ScheduleDeps, id: string): Promise<ScheduleView | null> {
  const store = new ScheduleStore(deps.redis, deps.prefix);
  const record = await store.get(id);
  if (!record) return null;
  const [scheduler, runs] = await Promise.all([deps.queue.getJobScheduler(id), store.runs(id, 1)]);
  return { ...record, next: scheduler?.next, lastRun: runs[0] };
}

export async function listSchedules(deps: ScheduleDeps): Promise<ScheduleView[]> {
  const store = new ScheduleStore(deps.redis, deps.prefix);
  const views = await Promise.all((await store.all()).map((r) => getSchedule(deps, r.id)));
  return views.filter((v): v is ScheduleView => v !== null);
}

export async function listScheduleRuns(deps: ScheduleDeps, id: string, limit = 10): Promise<ScheduleRunSummary[]> {
  return new ScheduleStore(deps.redis, deps.prefix).runs(id, limit);
}

/** Removes the job scheduler and everything the schedule stored; false when there was no such schedule. */
export async function removeSchedule(deps: ScheduleDeps, id: string): Promise<boolean> {
  const removedScheduler = await deps.queue.removeJobScheduler(id);
  const removedRecord = await new ScheduleStore(deps.redis, deps.prefix).delete(id);
  return removedScheduler || removedRecord;
}
