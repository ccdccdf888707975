/**
 * report.json: the machine-readable summary of one list. Counts by outcome, by status and by reason
 * each add up to the number of input rows; counts by outcome per file add up to the rows of that file.
 */
import { ROW_OUTCOMES, type RowOutcome } from '../domain/row-outcome.ts';
import { STATUSES, type Reason, type Status } from '../domain/verdict.ts';

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
  /** By the rows' hygiene_status (a duplicate under its first occurrence's status, as in its cell). */
  byStatus: Partial<Record<Status, number>>;
  /** Each row once: duplicates on their own line (absent in reports written before issue 16). */
  byOutcome?: Partial<Record<DomainOutcome, number>>;
}

/** The outcomes a row with an address can have: its status, or duplicate. */
export type DomainOutcome = Status | 'duplicate';

/** Counts per outcome; every outcome is present (0 when none). */
export type OutcomeCounts = Record<RowOutcome, number>;

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
  counts: {
    /**
     * The headline: every row once, on the line of what it is (a verified address's status, or
     * duplicate, invalid_syntax, missing_email, malformed_row); adds up to `rows`. Absent in reports
     * written before issue 16.
     */
    byOutcome?: OutcomeCounts;
    /** byOutcome per output file: cleaned adds up to `cleanedRows`, rejected to `rejectedRows`. */
    byFile?: { cleaned: OutcomeCounts; rejected: OutcomeCounts };
    /** By the rows' hygiene_status cell: a duplicate counts under its first occurrence's status. */
    byStatus: Partial<Record<Status, number>>;
    byReason: Partial<Record<Reason, number>>;
    /**
     * By the rows' hygiene_provider cell (issue 14): provider slug -> rows, rows with an empty cell
     * under `none`; adds up to `rows`. Absent in reports written before issue 14.
     */
    byProvider?: Record<string, number>;
  };
  cache: { hits: number; probed: number };
  mx: MxReport[];
  /** The domains with the most rows (valid addresses only), largest first; see DomainCounter. */
  topDomains?: DomainReport[];
  /** Per provider slug: the rows of its hygiene_provider cell and the list's SMTP activity with it (issue 14). */
  providers?: Record<string, ProviderReport>;
  /** Per outbound identity id: the list's SMTP activity through it (issue 15). */
  identities?: Record<string, IdentityReport>;
  /** One per sender block a probe of this list met, oldest first (issues 14/15). */
  alerts?: SenderAlert[];
  timings: { createdAt: string; parsedAt?: string; enqueuedAt?: string; finishedAt: string; totalMs: number; collectMs: number };
}

/**
 * One provider's figures. `rows`, `byStatus` and `byReason` count the rows whose hygiene_provider
 * cell is this slug (byStatus and byReason each add up to `rows`; `rows` over every provider plus
 * `counts.byProvider.none` is the list's `rows`). `sessions`, `rcpts` and `cooldowns` are the SMTP
 * activity the engine reported for this list (sessions that served it, RCPTs answered, probes that
 * waited for or were moved from a resting identity); `blocks` is the number of this provider's
 * entries in `alerts` of severity block.
 */
export interface ProviderReport {
  rows: number;
  byStatus: Partial<Record<Status, number>>;
  byReason: Partial<Record<Reason, number>>;
  sessions: number;
  rcpts: number;
  blocks: number;
  /** Its entries in `alerts` of severity throttle (a provider slowing our identity down: Google's unusual rate, Yahoo's TSS04). */
  throttles: number;
  cooldowns: number;
}

/** One outbound identity's activity for this list; `blocks` / `throttles` are its entries in `alerts` by severity. */
export interface IdentityReport {
  sessions: number;
  rcpts: number;
  blocks: number;
  throttles: number;
  cooldowns: number;
}

/**
 * A server refused *us* (our IP listed, our HELO, our rate), not a mailbox: the circuit breaker
 * rested `identity` for `provider` (or for the server `mx` when it matched no provider) until
 * `cooldownUntil`. Its probes are asked through another identity where one may ask, else they are
 * unknown/policy_block.
 */
export interface SenderAlert {
  /** Provider slug, or null when the server matched no provider. */
  provider: string | null;
  mx: string;
  identity: string;
  /** The DNS blocklist the reply names ("zen.spamhaus.org"), or null. */
  blocklist: string | null;
  /** The provider's own code in the reply ("S3140", "TSS04", "5.7.606"), or null. */
  code: string | null;
  /** Id of the block signature in the provider table that matched, or null. */
  signature: string | null;
  /** Whom the block is about: ip, network, helo, sender or rate. */
  about: string;
  severity: 'block' | 'throttle';
  reply: string;
  means: string;
  /** What to do about it, or null when only waiting helps. */
  action: string | null;
  /** Escalation level of the cooldown (1 = first block). */
  level: number;
  cooldownUntil: string;
}

export function increment<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** A flat copy of `text` that shares no memory with the string it came from (see DomainCounter.add). */
export function ownCopy(text: string): string {
  // ' ' + text is flattened into a new string by slice(); the result refers only to that new string.
  return (' ' + text).slice(1);
}

/** Status slots 0-3 (STATUSES order); a duplicate of a row with status i counts in slot 4 + i. */
const DUPLICATE_SLOT = STATUSES.length;

interface DomainEntry {
  domain: string;
  rows: number;
  counts: number[];
}

/**
 * Rows per domain for report.topDomains. Memory is bounded on huge lists: once `maxDomains`
 * distinct domains are counted, new ones are no longer tracked (the first domains met keep exact
 * counts; a big domain first seen late is missed). `untracked` says how many rows that concerned.
 * Counts are kept as one small array per domain; the report objects are made for the top ones only.
 */
export class DomainCounter {
  private readonly counts = new Map<string, DomainEntry>();
  untracked = 0;

  constructor(private readonly maxDomains = 100_000) {}

  /** @param duplicate the row is a later occurrence of an address (its status is the first occurrence's) */
  add(domain: string, status: Status, duplicate = false): void {
    let entry = this.counts.get(domain);
    if (!entry) {
      if (this.counts.size >= this.maxDomains) {
        this.untracked += 1;
        return;
      }
      // A copy, not the string we were given: that is usually a slice of a 64 KiB chunk of the input
      // file, and one kept slice per domain pinned hundreds of chunks (tens of MB on a 1M-row list).
      entry = { domain: ownCopy(domain), rows: 0, counts: new Array<number>(2 * DUPLICATE_SLOT).fill(0) };
      this.counts.set(entry.domain, entry);
    }
    entry.rows += 1;
    entry.counts[STATUSES.indexOf(status) + (duplicate ? DUPLICATE_SLOT : 0)]! += 1;
  }

  /**
   * The `limit` domains with the most rows, largest first; ties in code-unit order of the name (the
   * names are lower-case A-labels, so that is alphabetical). One pass keeping the best `limit`, not a
   * sort of every domain: with localeCompare as tie-break, sorting the 20k domains of a big list took
   * longer than writing its rows.
   */
  top(limit = 20): DomainReport[] {
    const before = (a: DomainEntry, b: DomainEntry): boolean => a.rows > b.rows || (a.rows === b.rows && a.domain < b.domain);
    const best: DomainEntry[] = [];
    for (const entry of this.counts.values()) {
      if (best.length === limit && !before(entry, best[limit - 1]!)) continue;
      let at = best.length === limit ? limit - 1 : best.length;
      while (at > 0 && before(entry, best[at - 1]!)) at--;
      best.splice(at, 0, entry);
      if (best.length > limit) best.pop();
    }
    return best.map(domainReport);
  }
}

function domainReport(entry: DomainEntry): DomainReport {
  const byStatus: DomainReport['byStatus'] = {};
  const byOutcome: NonNullable<DomainReport['byOutcome']> = {};
  let duplicates = 0;
  STATUSES.forEach((status, i) => {
    const first = entry.counts[i]!;
    const later = entry.counts[i + DUPLICATE_SLOT]!;
    if (first + later > 0) byStatus[status] = first + later;
    if (first > 0) byOutcome[status] = first;
    duplicates += later;
  });
  if (duplicates > 0) byOutcome.duplicate = duplicates;
  return { domain: entry.domain, rows: entry.rows, byStatus, byOutcome };
}

/** Zero for every outcome: the headline names each line, even an empty one. */
export function emptyOutcomeCounts(): OutcomeCounts {
  const counts = {} as OutcomeCounts;
  for (const outcome of ROW_OUTCOMES) counts[outcome] = 0;
  return counts;
}
