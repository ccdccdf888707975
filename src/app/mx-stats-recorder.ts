/**
 * The run's counters for report.json, fed by the SMTP pools' events (PoolEvents): per list and MX
 * host, and per provider and per outbound identity with the sender-block alerts (the events
 * onIdentityActivity and onSenderBlock, issues 14 and 15).
 */
import type { Redis } from 'ioredis';
import type { SenderAlert } from '../collector/report.ts';
import type { IdentityActivity, PoolEvents, SenderBlockEvent } from '../probe/mx-session-pool.ts';
import {
  alertField,
  identityStatsField,
  listActivityKeys,
  listKeys,
  mxStatsField,
  mxStatsPauseField,
  mxStatsPauseValue,
  providerStatsField,
  type ActivityCounter,
  type MxStatsCounter,
} from '../store/redis-keys.ts';
import { senderAlert } from './sender-alert.ts';

export interface MxStatsRecorderOptions {
  /**
   * Called once per (list, sender block of severity block) the first time any process records it
   * (HSETNX on the list's alerts hash said "new"): the runtime queues the `sender.blocked` webhook
   * here. Throttles are in the report's alerts only (one per pause: too chatty for a webhook).
   */
  onNewAlert?: (listId: string, alert: SenderAlert) => void | Promise<void>;
  /** Where a failure of onNewAlert or of the alert write goes (never thrown into the pool). */
  onError?: (err: Error, listId: string) => void;
  /**
   * Where a failed counter flush goes. The counters are report figures only (a lost flush makes a
   * figure low, never a verdict wrong), so the flush is not retried; the owner logs it.
   */
  onFlushError?: (err: Error) => void;
}

const ACTIVITY_COUNTER: Readonly<Record<IdentityActivity['what'], ActivityCounter | null>> = {
  session: 'sessions',
  rcpt: 'rcpts',
  cooldown: 'cooldowns',
  // Blocks are counted from the alerts themselves (one per block, deduplicated across processes),
  // so a report's `blocks` always equals its number of alerts.
  block: null,
};

/**
 * Per-list, per-MX counters for report.json ({p}:list:{id}:mxstats, format MX_STATS in
 * store/redis-keys.ts). Buffered in memory and flushed every 250 ms so a hot probe loop costs no
 * Redis round trip. A pause that sent a list's probes back is one field per pause (HSETNX: the same
 * pause seen by several processes is counted once), plus the "deferred" counter (probes sent back).
 */
export function createMxStatsRecorder(redis: Redis, prefix: string, options: MxStatsRecorderOptions = {}): { events: PoolEvents; flush: () => Promise<void> } {
  const pending = new Map<string, Map<string, number>>();
  /** Per-provider and per-identity counters, flushed with the MX counters. */
  const activity = new Map<string, Map<string, number>>();
  /** Alert writes in flight: flush() waits for them, so a report never misses an alert raised before the job ended. */
  const alertWrites = new Set<Promise<void>>();
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
  const bumpActivity = (event: IdentityActivity) => {
    const counter = ACTIVITY_COUNTER[event.what];
    if (counter === null) return;
    const by = event.count ?? 1;
    const fields = activity.get(event.listId) ?? new Map<string, number>();
    const add = (field: string) => fields.set(field, (fields.get(field) ?? 0) + by);
    add(identityStatsField(event.identity, counter));
    if (event.provider) add(providerStatsField(event.provider, counter));
    activity.set(event.listId, fields);
    timer ??= setTimeout(() => void flush(), 250);
  };
  /**
   * One alert per (list, block): written at once (blocks are rare, and the webhook should not wait
   * for the next flush); the HSETNX answer says whether this process is the first to record it.
   */
  const recordBlock = (event: SenderBlockEvent) => {
    const alert = senderAlert(event);
    const field = alertField(event.provider ?? event.mx, event.identity, event.level, event.cooldownUntil);
    const json = JSON.stringify(alert);
    for (const listId of new Set(event.listIds)) {
      const write = (async () => {
        try {
          const added = await redis.hsetnx(listActivityKeys(prefix, listId).alerts, field, json);
          if (added === 1 && alert.severity === 'block') await options.onNewAlert?.(listId, alert);
        } catch (err) {
          options.onError?.(err as Error, listId);
        }
      })();
      alertWrites.add(write);
      void write.finally(() => alertWrites.delete(write));
    }
  };
  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (alertWrites.size > 0) await Promise.all([...alertWrites]);
    if (pending.size === 0 && notes.size === 0 && activity.size === 0) return;
    const pipeline = redis.pipeline();
    for (const [listId, fields] of activity) {
      const key = listActivityKeys(prefix, listId).providerStats;
      for (const [field, by] of fields) pipeline.hincrby(key, field, by);
    }
    activity.clear();
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
    // Report counters only: a lost flush makes a report figure low, never a verdict wrong; said, not retried.
    // A pipeline reports a failed command in its results, not by rejecting: both are said.
    try {
      const failed = (await pipeline.exec())?.find(([err]) => err);
      if (failed?.[0]) options.onFlushError?.(failed[0]);
    } catch (err) {
      options.onFlushError?.(err as Error);
    }
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
    onIdentityActivity: bumpActivity,
    onSenderBlock: recordBlock,
  };
  return { events, flush };
}
