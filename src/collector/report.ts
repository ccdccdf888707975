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
  /** Times this server was paused fleet-wide because it slowed us down, while this list waited for it
   *  (absent in reports written before issue 11). */
  pauses?: number;
  /** How long those pauses lasted in all (ms). */
  pausedMs?: number;
  /** Why: the server's replies that caused the pauses (distinct, at most 3). */
  pauseReasons?: string[];
  /** Probes of this list sent back by a pause to be asked when it ended. */
  deferred?: number;
}

export interface DomainReport {
  domain: string;
  rows: number;
  byStatus: Partial<Record<Status, number>>;
}

export interface ListReport {
  listId: string;
  input: string;
  outputs: { cleaned: string; rejected: string; report: string };
  emailColumn: { index: number; name: string };
  /** How the input was read; outputs use the same delimiter and line ending, in UTF-8. */
  dialect: { delimiter: string; encoding: string; lineEnding: string; hasHeader: boolean };
  rejectPolicy: string;
  rows: number;
  cleanedRows: number;
  rejectedRows: number;
  uniqueAddresses: number;
  counts: { byStatus: Partial<Record<Status, number>>; byReason: Partial<Record<Reason, number>> };
  cache: { hits: number; probed: number };
  mx: MxReport[];
  /** The domains with the most rows (valid addresses only), largest first; see DomainCounter. */
  topDomains?: DomainReport[];
  timings: { createdAt: string; parsedAt?: string; enqueuedAt?: string; finishedAt: string; totalMs: number; collectMs: number };
}

export function increment<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** A flat copy of `text` that shares no memory with the string it came from (see DomainCounter.add). */
export function ownCopy(text: string): string {
  // ' ' + text is flattened into a new string by slice(); the result refers only to that new string.
  return (' ' + text).slice(1);
}

/**
 * Rows per domain for report.topDomains. Memory is bounded on huge lists: once `maxDomains`
 * distinct domains are counted, new ones are no longer tracked (the first domains met keep exact
 * counts; a big domain first seen late is missed). `untracked` says how many rows that concerned.
 */
export class DomainCounter {
  private readonly counts = new Map<string, DomainReport>();
  untracked = 0;

  constructor(private readonly maxDomains = 100_000) {}

  add(domain: string, status: Status): void {
    let entry = this.counts.get(domain);
    if (!entry) {
      if (this.counts.size >= this.maxDomains) {
        this.untracked += 1;
        return;
      }
      // A copy, not the string we were given: that is usually a slice of a 64 KiB chunk of the input
      // file, and one kept slice per domain pinned hundreds of chunks (tens of MB on a 1M-row list).
      entry = { domain: ownCopy(domain), rows: 0, byStatus: {} };
      this.counts.set(entry.domain, entry);
    }
    entry.rows += 1;
    increment(entry.byStatus, status);
  }

  /**
   * The `limit` domains with the most rows, largest first; ties in code-unit order of the name (the
   * names are lower-case A-labels, so that is alphabetical). One pass keeping the best `limit`, not a
   * sort of every domain: with localeCompare as tie-break, sorting the 20k domains of a big list took
   * longer than writing its rows.
   */
  top(limit = 20): DomainReport[] {
    const before = (a: DomainReport, b: DomainReport): boolean => a.rows > b.rows || (a.rows === b.rows && a.domain < b.domain);
    const best: DomainReport[] = [];
    for (const entry of this.counts.values()) {
      if (best.length === limit && !before(entry, best[limit - 1]!)) continue;
      let at = best.length === limit ? limit - 1 : best.length;
      while (at > 0 && before(entry, best[at - 1]!)) at--;
      best.splice(at, 0, entry);
      if (best.length > limit) best.pop();
    }
    return best;
  }
}
