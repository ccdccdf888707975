/**
 * The collector's Redis side: for a batch of records, the recorded verdict of each address and, for
 * an address this pass may have met before, the row of its first occurrence, in one pipelined round
 * trip (HMGET :verdicts + HMGET :first). The caller keeps the next batch's lookup in flight while it
 * joins and writes the current one, so the round trip overlaps CPU work instead of adding to it.
 *
 * Reads {p}:list:{id}:verdicts, :vtext and :first (layout in store/redis-keys.ts).
 */
import type { Redis } from 'ioredis';
import type { RowCheck } from '../domain/row-check.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { CsvRecord } from '../csv/csv-row-stream.ts';
import { checkRecord } from '../csv/record-check.ts';
import { resolveVerdictTexts } from '../queue/verdict-texts.ts';
import type { RowToJoin } from './row-join.ts';
import { SeenFilter } from './seen-filter.ts';

/** One record, ready to join and write. */
export interface LookedUpRow extends RowToJoin {
  record: CsvRecord;
  cellCount: number;
  /** Set when the record had to be split (see CheckedRecord); otherwise split only if it must be written cell by cell. */
  cells?: string[];
  /** The record's own text can be written as is (no cell changes, not ragged). */
  verbatim: boolean;
}

export interface VerdictLookupOptions {
  keys: { verdicts: string; vtext: string; first: string };
  delimiter: string;
  emailColumn: number;
  expectedCells: number;
  /** The writer neutralises formulas in original cells: such a record cannot be written verbatim. */
  checkFormulas: boolean;
  /** Unique addresses of the list (sizes the seen-filter). */
  uniqueAddresses: number;
}

export class VerdictLookup {
  private readonly seen: SeenFilter;
  /** Shared verdict texts already fetched (see verdict-texts.ts): one string object per text. */
  private readonly sharedTexts = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly options: VerdictLookupOptions,
  ) {
    this.seen = new SeenFilter(options.uniqueAddresses);
  }

  /**
   * Checks the batch's records now (in file order: the seen-filter relies on it) and starts their
   * lookup. The promise is handled here, so a failure while an older batch is written is no
   * unhandled rejection; it still rejects where it is awaited.
   */
  lookUp(records: readonly CsvRecord[]): Promise<LookedUpRow[]> {
    const { delimiter, emailColumn, expectedCells, checkFormulas } = this.options;
    const rows: LookedUpRow[] = records.map((record) => {
      const { check, cellCount, cells, formula } = checkRecord(record, delimiter, emailColumn, expectedCells, checkFormulas);
      return { index: record.index, record, check, cellCount, cells, verbatim: cells === undefined && !formula && cellCount <= expectedCells, recorded: undefined, firstIndex: undefined };
    });
    const slot = new Map<string, number>();
    const firstSlot = new Map<string, number>();
    const addressKeys: string[] = [];
    const maybeSeenKeys: string[] = [];
    for (const { check } of rows) {
      if (check.kind !== 'address') continue;
      const { key } = check.parsed;
      if (!slot.has(key)) {
        slot.set(key, addressKeys.length);
        addressKeys.push(key);
      }
      // A key met for the first time in this pass is its first occurrence (see seen-filter.ts).
      if (this.seen.testAndAdd(key) && !firstSlot.has(key)) {
        firstSlot.set(key, maybeSeenKeys.length);
        maybeSeenKeys.push(key);
      }
    }
    const done = addressKeys.length === 0 ? Promise.resolve(rows) : this.fetch(addressKeys, maybeSeenKeys).then(([first, verdictJson]) => fill(rows, slot, firstSlot, first, verdictJson));
    // Not swallowed: the caller awaits this same `done` and gets the rejection. The extra handler only
    // keeps Node from calling it unhandled while the batch waits its turn in the caller's queue.
    done.catch(() => undefined);
    return done;
  }

  private async fetch(addressKeys: string[], maybeSeenKeys: string[]): Promise<[(string | null)[], (string | null)[]]> {
    const { keys } = this.options;
    const pipeline = this.redis.pipeline().hmget(keys.verdicts, ...addressKeys);
    if (maybeSeenKeys.length > 0) pipeline.hmget(keys.first, ...maybeSeenKeys);
    const [verdicts, first] = (await pipeline.exec()) ?? [];
    if (verdicts?.[0] || first?.[0]) throw verdicts?.[0] ?? first?.[0];
    return [(first?.[1] ?? []) as (string | null)[], await resolveVerdictTexts(this.redis, keys.vtext, verdicts?.[1] as (string | null)[], this.sharedTexts)];
  }
}

/** Puts each row's recorded verdict and first occurrence in place. */
function fill(rows: LookedUpRow[], slot: Map<string, number>, firstSlot: Map<string, number>, first: (string | null)[], verdictJson: (string | null)[]): LookedUpRow[] {
  // Verdicts repeat verbatim (a verifier's answer for a whole domain, every syntax-only verdict):
  // parse each distinct JSON text once per batch. Verdicts are never mutated, so sharing is safe.
  const parsed = new Map<string, Verdict>();
  for (const row of rows) {
    const check: RowCheck = row.check;
    if (check.kind !== 'address') continue;
    const json = verdictJson[slot.get(check.parsed.key)!];
    if (json) {
      let recorded = parsed.get(json);
      if (recorded === undefined) {
        recorded = JSON.parse(json) as Verdict;
        parsed.set(json, recorded);
      }
      row.recorded = recorded;
    }
    // Not in the :first lookup: the seen-filter knows this row is the first occurrence.
    const firstAt = firstSlot.get(check.parsed.key);
    const firstRow = firstAt === undefined ? null : first[firstAt];
    if (firstRow !== null && firstRow !== undefined) row.firstIndex = Number(firstRow);
  }
  return rows;
}
