/** report.json: the machine-readable summary of one list. Counts by status and by reason each add
 *  up to the number of input rows. */
import type { Reason, Status } from '../domain/verdict.ts';

export interface MxReport {
  mx: string;
  sessions: number;
  rcpts: number;
  reconnects: number;
  repliesByCode: Record<string, number>;
  durationMs: number;
}

export interface ListReport {
  listId: string;
  input: string;
  outputs: { cleaned: string; rejected: string; report: string };
  emailColumn: { index: number; name: string };
  rejectPolicy: string;
  rows: number;
  cleanedRows: number;
  rejectedRows: number;
  uniqueAddresses: number;
  counts: { byStatus: Partial<Record<Status, number>>; byReason: Partial<Record<Reason, number>> };
  cache: { hits: number; probed: number };
  mx: MxReport[];
  timings: { createdAt: string; parsedAt?: string; enqueuedAt?: string; finishedAt: string; totalMs: number; collectMs: number };
}

export function increment<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
