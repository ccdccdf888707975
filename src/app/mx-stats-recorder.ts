/**
 * The run's counters for report.json, fed by the SMTP pools' events (PoolEvents): per list and MX
 * host today; per provider and per outbound identity are the events onSenderBlock and
 * onIdentityActivity (issues 14 and 15).
 */
import type { Redis } from 'ioredis';
import type { PoolEvents } from '../probe/mx-session-pool.ts';
import { listKeys, mxStatsField, mxStatsPauseField, mxStatsPauseValue, type MxStatsCounter } from '../store/redis-keys.ts';

/**
 * Per-list, per-MX counters for report.json ({p}:list:{id}:mxstats, format MX_STATS in
 * store/redis-keys.ts). Buffered in memory and flushed every 250 ms so a hot probe loop costs no
 * Redis round trip. A pause that sent a list's probes back is one field per pause (HSETNX: the same
 * pause seen by several processes is counted once), plus the "deferred" counter (probes sent back).
 */
export function createMxStatsRecorder(redis: Redis, prefix: string): { events: PoolEvents; flush: () => Promise<void> } {
  const pending = new Map<string, Map<string, number>>();
  const notes = new Map<string, Map<string, string>>();
  let timer: NodeJS.Timeout | null = null;
  const note = (listId: string, field: string, value: string) => {
    const fields = notes.get(listId) ?? new Map<string, string>();
    fields.set(field, value);
    notes.set(listId, fields);
    timer ??= setTimeout(() => void flush(), 250);
  };
  const bump = (listId: string, mx: string, counter: MxStatsCounter, by = 1) => {
    const field = mxStatsField(mx, counter);
    const fields = pending.get(listId) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + by);
    pending.set(listId, fields);
    timer ??= setTimeout(() => void flush(), 250);
  };
  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending.size === 0 && notes.size === 0) return;
    const pipeline = redis.pipeline();
    for (const [listId, fields] of pending) {
      const key = listKeys(prefix, listId).mxStats;
      for (const [field, by] of fields) pipeline.hincrby(key, field, by);
    }
    for (const [listId, fields] of notes) {
      const key = listKeys(prefix, listId).mxStats;
      for (const [field, value] of fields) pipeline.hsetnx(key, field, value);
    }
    pending.clear();
    notes.clear();
    // Report counters only: a lost flush makes a report figure low, never a verdict wrong.
    await pipeline.exec().catch(() => undefined);
  };
  const events: PoolEvents = {
    onSessionForList: (mx, listId) => bump(listId, mx, 'sessions'),
    onReply: (mx, listId, code) => {
      bump(listId, mx, 'rcpts');
      bump(listId, mx, `code:${code}`);
    },
    onReconnect: (mx, listId) => bump(listId, mx, 'reconnects'),
    onExchange: (mx, listIds, ms) => {
      for (const listId of listIds) bump(listId, mx, 'ms', ms);
    },
    onPause: (mx, deferredByList, pause) => {
      for (const [listId, count] of deferredByList) {
        bump(listId, mx, 'deferred', count);
        note(listId, mxStatsPauseField(mx, pause.since), mxStatsPauseValue(pause.until, pause.reason));
      }
    },
  };
  return { events, flush };
}
