/**
 * Collector: second pass over the original file. Joins every row with its verdict (batched Redis
 * reads), routes it to cleaned or rejected, and writes both CSVs and report.json atomically. Every
 * input row is written to exactly one of the two files; a row whose address somehow has no verdict
 * is still written (unknown/not_verified), never dropped.
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import { isRejected, type RejectPolicy, describePolicy } from '../domain/routing-policy.ts';
import type { RowCheck } from '../domain/row-check.ts';
import type { Verdict } from '../domain/verdict.ts';
import { createAddressAnnotator, type Annotation } from '../flags/address-annotator.ts';
import { buildDeliverableIndex, DeliverableIndex } from '../flags/deliverable-index.ts';
import { cellsOf, type CsvRecord } from '../csv/csv-row-stream.ts';
import { ROW_BUFFERED, type CsvWriter } from '../csv/csv-writer.ts';
import { checkRecord } from '../csv/record-check.ts';
import type { ListRecord, ListStore } from '../queue/list-store.ts';
import { resolveVerdictTexts } from '../queue/verdict-texts.ts';
import { parseMxStats } from '../store/redis-keys.ts';
import { openAtomicFile, type AtomicFile } from './atomic-file.ts';
import { SeenFilter } from './seen-filter.ts';
import { DomainCounter, increment, type ListReport, type MxReport } from './report.ts';

export const HYGIENE_COLUMNS = [
  'hygiene_status',
  'hygiene_reason',
  'hygiene_detail',
  'hygiene_smtp_reply',
  'hygiene_mx',
  'hygiene_suggestion',
  'hygiene_checked_at',
  'hygiene_flags',
] as const;

const OUTPUT_HIGH_WATER_MARK = 1024 * 1024;

export type RowWriter = Pick<CsvWriter, 'writeRow' | 'writeRecord' | 'formatAppended' | 'neutralisesFormulas' | 'end'>;

export interface CollectInput {
  list: ListRecord;
  header: string[] | null;
  /** Batches of records (see CsvRecords). */
  rows: AsyncIterable<CsvRecord[]>;
  emailColumn: { index: number; name: string };
  /** The input's dialect, echoed in the report. */
  dialect: ListReport['dialect'];
  expectedCells: number;
  rejectPolicy: RejectPolicy;
  /** Opens a CSV writer on the file; it writes the header (original + HYGIENE_COLUMNS) itself. */
  openWriter(file: AtomicFile): RowWriter;
  batchSize?: number;
  /**
   * Called once every row was read and written to the temporary files, before any output is renamed
   * into place: throwing here aborts the outputs (the input check of the finalize step).
   */
  beforeCommit?: () => void | Promise<void>;
  /** Test hook: called after each batch is written (lets tests crash the collector mid-write). */
  afterBatch?: (rowsWritten: number) => void | Promise<void>;
}

export function outputPaths(outDir: string, name: string) {
  return {
    cleaned: path.join(outDir, `${name}.cleaned.csv`),
    rejected: path.join(outDir, `${name}.rejected.csv`),
    report: path.join(outDir, `${name}.report.json`),
  };
}

/** The appended cells, in HYGIENE_COLUMNS order. */
export function verdictCells(verdict: Verdict, annotation: Annotation = { flags: '' }): string[] {
  const suggestion = annotation.suggestion ?? verdict.suggestion ?? '';
  return [verdict.status, verdict.reason, verdict.detail, verdict.smtpReply ?? '', verdict.mx ?? '', suggestion, verdict.checkedAt, annotation.flags];
}

export async function collectList(redis: Redis, store: ListStore, input: CollectInput): Promise<ListReport> {
  const started = Date.now();
  const { list } = input;
  const keys = store.keys(list.id);
  const paths = outputPaths(list.outDir, list.name);
  // 1 MiB before backpressure: the writer hands over 64 Ki-char chunks, and with the 16 KiB default
  // every chunk waited for its own disk write to finish before the next rows were joined.
  const cleanedFile = openAtomicFile(paths.cleaned, { highWaterMark: OUTPUT_HIGH_WATER_MARK });
  const rejectedFile = openAtomicFile(paths.rejected, { highWaterMark: OUTPUT_HIGH_WATER_MARK });
  const cleaned = input.openWriter(cleanedFile);
  const rejected = input.openWriter(rejectedFile);
  const byStatus: ListReport['counts']['byStatus'] = {};
  const byReason: ListReport['counts']['byReason'] = {};
  let rows = 0;
  let cleanedRows = 0;
  let rejectedRows = 0;
  let cacheHits = 0;
  let probed = 0;
  const batchSize = input.batchSize ?? 2_000;
  let batch: CsvRecord[] = [];
  const delimiter = input.dialect.delimiter;
  const checkFormulas = cleaned.neutralisesFormulas;
  // The deliverable index (an HSCAN of every verdict) is only consulted for mailbox_not_found rows:
  // build it while the first batches are read and joined, and wait for it only when such a row comes
  // (or at the end, so a failure still fails the collect).
  let deliverable: DeliverableIndex | undefined;
  // A list without any mailbox_not_found verdict needs no index (an HSCAN of every verdict).
  const needsIndex = list.notFound === undefined || list.notFound > 0;
  const indexLoading = (needsIndex ? buildDeliverableIndex(redis, keys.verdicts, keys.vtext) : Promise.resolve(new DeliverableIndex(new Map()))).then((index) => {
    deliverable = index;
  });
  indexLoading.catch(() => undefined);
  const annotator = createAddressAnnotator({ suggest: (local, domain) => deliverable?.suggest(local, domain) });
  const domains = new DomainCounter();
  // The appended cells of a recorded verdict, formatted once per (verdict, flags, suggestion): rows
  // of one domain or one job share verdict objects (see writeOldest), so most rows reuse the text.
  const appendedText = new WeakMap<Verdict, Map<string, string>>();
  // Shared verdict texts already fetched (see verdict-texts.ts): one string object per text, so the
  // per-batch JSON dedup below hashes each once.
  const sharedTexts = new Map<string, string>();
  const formatAppended = (verdict: Verdict, annotation: Annotation | undefined, shared: boolean): string => {
    if (!shared) return cleaned.formatAppended(verdictCells(verdict, annotation));
    const key = annotation ? `${annotation.flags}\u0000${annotation.suggestion ?? ''}` : '';
    let byAnnotation = appendedText.get(verdict);
    if (byAnnotation === undefined) {
      byAnnotation = new Map();
      appendedText.set(verdict, byAnnotation);
    }
    let text = byAnnotation.get(key);
    if (text === undefined) {
      text = cleaned.formatAppended(verdictCells(verdict, annotation));
      byAnnotation.set(key, text);
    }
    return text;
  };

  /**
   * One record, ready to join: its check, and either a view (a plain record whose address was read
   * in place; written back as its own text when no cell changes) or its cells.
   */
  interface Prepared {
    record: CsvRecord;
    check: RowCheck;
    cellCount: number;
    /** Set when the record had to be split (see CheckedRecord); otherwise split only if it must be written cell by cell. */
    cells?: string[];
    /** The record's own text can be written as is. */
    verbatim: boolean;
  }

  const prepare = (record: CsvRecord): Prepared => {
    const { check, cellCount, cells, formula } = checkRecord(record, delimiter, input.emailColumn.index, input.expectedCells, checkFormulas);
    return { record, check, cellCount, cells, verbatim: cells === undefined && !formula && cellCount <= input.expectedCells };
  };

  /** A batch whose Redis lookup is on its way: rows, their checks, and the pending answer. */
  interface LookedUpBatch {
    rows: Prepared[];
    /** Place of each key in the verdict lookup. */
    slot: Map<string, number>;
    /** Place of each key the seen-filter could not clear in the :first lookup. */
    firstSlot: Map<string, number>;
    lookup: Promise<[(string | null)[], (string | null)[]]>;
  }
  const seen = new SeenFilter(list.uniqueAddresses);
  // Why a queue: the lookup of batch N+1 is in flight while batch N is joined and written, so the
  // Redis round trip overlaps our CPU work instead of adding to it. Bounded: memory stays flat.
  const lookedUp: LookedUpBatch[] = [];
  const MAX_BATCHES_IN_FLIGHT = 2;

  const lookUp = (recordsOfBatch: CsvRecord[]): void => {
    const prepared = recordsOfBatch.map(prepare);
    const slot = new Map<string, number>();
    const firstSlot = new Map<string, number>();
    const addressKeys: string[] = [];
    const maybeSeenKeys: string[] = [];
    for (const { check } of prepared) {
      if (check.kind !== 'address') continue;
      const { key } = check.parsed;
      if (!slot.has(key)) {
        slot.set(key, addressKeys.length);
        addressKeys.push(key);
      }
      // A key met for the first time in this pass is its first occurrence (see seen-filter.ts).
      if (seen.testAndAdd(key) && !firstSlot.has(key)) {
        firstSlot.set(key, maybeSeenKeys.length);
        maybeSeenKeys.push(key);
      }
    }
    const lookup: LookedUpBatch['lookup'] =
      addressKeys.length === 0
        ? Promise.resolve([[], []])
        : (maybeSeenKeys.length > 0 ? redis.pipeline().hmget(keys.verdicts, ...addressKeys).hmget(keys.first, ...maybeSeenKeys) : redis.pipeline().hmget(keys.verdicts, ...addressKeys))
            .exec()
            .then(async (results) => {
              const [verdicts, first] = results ?? [];
              if (verdicts?.[0] || first?.[0]) throw verdicts?.[0] ?? first?.[0];
              return [(first?.[1] ?? []) as (string | null)[], await resolveVerdictTexts(redis, keys.vtext, verdicts?.[1] as (string | null)[], sharedTexts)];
            });
    // Handled here so a failure while an older batch is written is no unhandled rejection; the
    // promise still rejects where it is awaited.
    lookup.catch(() => undefined);
    lookedUp.push({ rows: prepared, slot, firstSlot, lookup });
  };

  const writeOldest = async (): Promise<void> => {
    const oldest = lookedUp.shift();
    if (!oldest) return;
    const [firstRows, verdictJson] = await oldest.lookup;
    const { slot, firstSlot } = oldest;
    // Verdicts repeat verbatim (a verifier's answer for a whole domain, every syntax-only verdict):
    // parse each distinct JSON text once per batch. Verdicts are never mutated below, so sharing is safe.
    const parsed = new Map<string, Verdict>();
    const now = new Date().toISOString();
    for (const prepared of oldest.rows) {
      const { check, record } = prepared;
      let verdict: Verdict;
      let shared = false;
      if (check.kind === 'verdict') {
        verdict = { status: check.status, reason: check.reason, detail: check.detail, checkedAt: now };
      } else {
        const at = slot.get(check.parsed.key)!;
        const firstAt = firstSlot.get(check.parsed.key);
        // Not in the :first lookup: the seen-filter knows this row is the first occurrence.
        const firstRow = firstAt === undefined ? null : firstRows[firstAt];
        const json = verdictJson[at];
        let recorded: Verdict | undefined;
        if (json) {
          recorded = parsed.get(json);
          if (recorded === undefined) {
            recorded = JSON.parse(json) as Verdict;
            parsed.set(json, recorded);
          }
        }
        if (firstRow !== null && firstRow !== undefined && Number(firstRow) !== record.index) {
          verdict = {
            status: recorded?.status ?? 'unknown',
            reason: 'duplicate',
            detail: `Same address as data row ${Number(firstRow) + 1}; only the first occurrence is kept.`,
            checkedAt: recorded?.checkedAt ?? now,
          };
        } else if (recorded) {
          verdict = recorded;
          shared = true;
          if (recorded.cached) cacheHits += 1;
          else probed += 1;
        } else {
          verdict = { status: 'unknown', reason: 'not_verified', detail: 'No verdict was recorded for this address.', checkedAt: now };
        }
      }
      rows += 1;
      increment(byStatus, verdict.status);
      increment(byReason, verdict.reason);
      let annotation: Annotation | undefined;
      if (check.kind === 'address') {
        if (deliverable === undefined && verdict.reason === 'mailbox_not_found') await indexLoading;
        annotation = annotator.annotate(check.parsed, verdict);
        domains.add(check.parsed.domain, verdict.status);
      }
      const writer = isRejected(input.rejectPolicy, verdict, annotation?.flags) ? rejected : cleaned;
      if (writer === rejected) rejectedRows += 1;
      else cleanedRows += 1;
      if (prepared.verbatim) {
        const written = writer.writeRecord(record.text, prepared.cellCount, formatAppended(verdict, annotation, shared));
        if (written !== ROW_BUFFERED) await written;
        continue;
      }
      // A record that could not be parsed keeps its raw text (as read) in one cell: nothing is dropped.
      let cells = prepared.cells ?? cellsOf(record, delimiter).cells;
      let appended = verdictCells(verdict, annotation);
      if (cells.length > input.expectedCells) {
        // Keep the verdict columns under their headers; the surplus cells follow them, in order.
        appended = [...appended, ...cells.slice(input.expectedCells)];
        cells = cells.slice(0, input.expectedCells);
      }
      const written = writer.writeRow(cells, appended);
      if (written !== ROW_BUFFERED) await written;
    }
    await input.afterBatch?.(rows);
  };

  try {
    for await (const records of input.rows) {
      for (const record of records) batch.push(record);
      if (batch.length >= batchSize) {
        lookUp(batch);
        batch = [];
        if (lookedUp.length >= MAX_BATCHES_IN_FLIGHT) await writeOldest();
      }
    }
    if (batch.length > 0) lookUp(batch);
    while (lookedUp.length > 0) await writeOldest();
    await input.beforeCommit?.();
    await indexLoading;
    await cleaned.end();
    await rejected.end();
  } catch (err) {
    await Promise.all([cleanedFile.abort(), rejectedFile.abort()]);
    throw err;
  }

  const finishedAt = new Date().toISOString();
  const report: ListReport = {
    listId: list.id,
    input: list.input,
    outputs: paths,
    emailColumn: input.emailColumn,
    dialect: input.dialect,
    rejectPolicy: describePolicy(input.rejectPolicy),
    rows,
    cleanedRows,
    rejectedRows,
    uniqueAddresses: list.uniqueAddresses,
    counts: { byStatus, byReason },
    cache: { hits: cacheHits, probed },
    mx: await readMxStats(redis, keys.mxStats),
    topDomains: domains.top(),
    timings: {
      createdAt: list.createdAt,
      parsedAt: list.parsedAt,
      enqueuedAt: list.enqueuedAt,
      finishedAt,
      totalMs: Date.parse(finishedAt) - Date.parse(list.createdAt),
      collectMs: Date.now() - started,
    },
  };
  // The CSVs go in first, the report last: a report on disk means both CSVs are complete.
  await cleanedFile.commit();
  await rejectedFile.commit();
  const reportFile = openAtomicFile(paths.report);
  reportFile.stream.end(`${JSON.stringify(report, null, 2)}\n`);
  await reportFile.commit();
  return report;
}

/** Per-MX counters of the list (format and parsing: MX_STATS in store/redis-keys.ts). */
async function readMxStats(redis: Redis, key: string): Promise<MxReport[]> {
  return parseMxStats(await redis.hgetall(key));
}
