/**
 * Registered re-verification schedules and what their runs left behind.
 *
 * Redis keys (prefix {p}):
 *   {p}:schedules                      HASH   schedule id -> ScheduleRecord JSON
 *   {p}:schedule:{id}:snapshot         HASH   address key -> SnapshotEntry JSON: verdicts of the last
 *                                             finished run (what the next run's changes compare with)
 *   {p}:schedule:{id}:snapshot:next    HASH   snapshot being built by the running run; renamed over
 *                                             :snapshot when the run's change report is written
 *   {p}:schedule:{id}:runs             LIST   ScheduleRunSummary JSON, newest first (last 100)
 *   {p}:schedule:{id}:lock             STRING the process running a run of this schedule (TTL, renewed)
 *   {p}:schedule:{id}:run:{runAt}      HASH   listId, done ("1" once the run is recorded); 30 days.
 *                                             Lets a run retried after a crash resume its list and
 *                                             never compare twice.
 * The BullMQ job scheduler of the same id lives in the "schedule" queue ({p}:bull:schedule:*).
 */
import type { Redis } from 'ioredis';
import { scheduleKeys, schedulesKey } from '../store/redis-keys.ts';

export interface ScheduleRecord {
  id: string;
  /** Absolute real path of the list's CSV. */
  input: string;
  outDir: string;
  /** Output base name; each run writes NAME.<run time>.cleaned.csv and so on. */
  name: string;
  /** Interval in ms ("--every 7d"), or a cron pattern ("--cron"): exactly one is set. */
  every?: number;
  cron?: string;
  /** IANA time zone the cron pattern is read in. */
  tz: string;
  /** Cached verdicts older than this are probed again on each run. */
  maxVerdictAgeMs: number;
  emailColumn?: string;
  createdAt: string;
}

export interface SnapshotEntry {
  status: string;
  reason: string;
  checkedAt: string;
}

export interface ScheduleRunSummary {
  scheduleId: string;
  listId: string;
  /** When the run was due (ISO-8601). */
  runAt: string;
  finishedAt: string;
  /** The previous run's list id, or null on the first run. */
  previousListId: string | null;
  firstRun: boolean;
  /** Addresses in this run that were also in the previous one. */
  compared: number;
  /** Of those, how many changed status. */
  changed: number;
  /** "deliverable->undeliverable" -> count. */
  transitions: Record<string, number>;
  /** Addresses new in this run / gone since the previous one. */
  added: number;
  removed: number;
  /** Addresses answered from the verdict cache vs probed in this run (from the list report). */
  cacheHits: number;
  probed: number;
  outputs: { cleaned: string; rejected: string; report: string; changes: string; changesSummary: string };
}

export class ScheduleStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  keys(id: string) {
    return scheduleKeys(this.prefix, id);
  }

  async save(record: ScheduleRecord): Promise<void> {
    await this.redis.hset(schedulesKey(this.prefix), record.id, JSON.stringify(record));
  }

  async get(id: string): Promise<ScheduleRecord | null> {
    const raw = await this.redis.hget(schedulesKey(this.prefix), id);
    return raw ? (JSON.parse(raw) as ScheduleRecord) : null;
  }

  async all(): Promise<ScheduleRecord[]> {
    const raw = await this.redis.hvals(schedulesKey(this.prefix));
    return raw.map((r) => JSON.parse(r) as ScheduleRecord).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async runs(id: string, limit = 10): Promise<ScheduleRunSummary[]> {
    const raw = await this.redis.lrange(this.keys(id).runs, 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as ScheduleRunSummary);
  }

  /** Deletes the record, its snapshot, its run history and markers. */
  async delete(id: string): Promise<boolean> {
    const keys = this.keys(id);
    const markers: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', keys.runPattern, 'COUNT', 500);
      cursor = next;
      markers.push(...found);
    } while (cursor !== '0');
    const [[, removed] = []] = (await this.redis
      .multi()
      .hdel(schedulesKey(this.prefix), id)
      .del(keys.snapshot, keys.nextSnapshot, keys.runs, ...markers)
      .exec()) ?? [[]];
    return removed === 1;
  }
}
