/**
 * The change report of a scheduled run: every address whose status differs from the previous run
 * (e.g. deliverable -> undeliverable after someone left the company), as NAME.changes.csv plus a
 * JSON summary. Compares the run's verdicts ({p}:list:{id}:verdicts) with the schedule's snapshot
 * in batches (HSCAN + HMGET), so a 10M-address list is never held in memory, and builds the next
 * snapshot on the way.
 */
import type { Redis } from 'ioredis';
import { resolveVerdictTexts } from '../queue/verdict-texts.ts';
import { openAtomicFile } from '../collector/atomic-file.ts';
import { createCsvWriter } from '../csv/csv-writer.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { SnapshotEntry } from './schedule-store.ts';

export const CHANGE_COLUMNS = ['address', 'previous_status', 'previous_reason', 'previous_checked_at', 'status', 'reason', 'detail', 'smtp_reply', 'mx', 'checked_at'] as const;

export interface ChangeCounts {
  firstRun: boolean;
  compared: number;
  changed: number;
  transitions: Record<string, number>;
  added: number;
  removed: number;
}

export interface CompareRequest {
  verdictsKey: string;
  /** The list's shared verdict texts (see verdict-texts.ts). */
  vtextKey: string;
  snapshotKey: string;
  /** Filled with this run's snapshot (deleted first); the caller renames it over snapshotKey. */
  nextSnapshotKey: string;
  changesPath: string;
  batchSize?: number;
}

export async function writeChangeReport(redis: Redis, request: CompareRequest): Promise<ChangeCounts> {
  const firstRun = (await redis.exists(request.snapshotKey)) === 0;
  const previousSize = firstRun ? 0 : await redis.hlen(request.snapshotKey);
  await redis.del(request.nextSnapshotKey);
  const file = openAtomicFile(request.changesPath);
  const writer = createCsvWriter(file.stream, { delimiter: ',', lineEnding: '\n', header: [...CHANGE_COLUMNS], neutraliseFormulas: true });
  const counts: ChangeCounts = { firstRun, compared: 0, changed: 0, transitions: {}, added: 0, removed: 0 };
  const sharedTexts = new Map<string, string>();
  try {
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(request.verdictsKey, cursor, 'COUNT', request.batchSize ?? 1_000);
      cursor = next;
      const keys: string[] = [];
      const stored: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        keys.push(flat[i]!);
        stored.push(flat[i + 1]!);
      }
      const verdicts = (await resolveVerdictTexts(redis, request.vtextKey, stored, sharedTexts)).map((text) => JSON.parse(text ?? '{}') as Verdict);
      if (keys.length === 0) continue;
      const previous = firstRun ? [] : await redis.hmget(request.snapshotKey, ...keys);
      const nextFields: string[] = [];
      for (const [i, key] of keys.entries()) {
        const verdict = verdicts[i]!;
        const entry: SnapshotEntry = { status: verdict.status, reason: verdict.reason, checkedAt: verdict.checkedAt };
        nextFields.push(key, JSON.stringify(entry));
        const raw = previous[i];
        if (!raw) {
          if (!firstRun) counts.added += 1;
          continue;
        }
        counts.compared += 1;
        const before = JSON.parse(raw) as SnapshotEntry;
        if (before.status === verdict.status) continue;
        counts.changed += 1;
        const transition = `${before.status}->${verdict.status}`;
        counts.transitions[transition] = (counts.transitions[transition] ?? 0) + 1;
        await writer.writeRow([key, before.status, before.reason, before.checkedAt, verdict.status, verdict.reason, verdict.detail, verdict.smtpReply ?? '', verdict.mx ?? '', verdict.checkedAt]);
      }
      await redis.hset(request.nextSnapshotKey, ...nextFields);
    } while (cursor !== '0');
    counts.removed = Math.max(0, previousSize - counts.compared);
    await writer.end();
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
  return counts;
}
