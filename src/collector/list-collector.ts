/**
 * Collector: second pass over the original file. Joins every row with its verdict and writes both
 * CSVs and report.json atomically. Every input row is written to exactly one of the two files; a
 * row whose address somehow has no verdict is still written (unknown/not_verified), never dropped.
 *
 * The parts, each with one job:
 *   verdict-lookup.ts   the pipelined Redis lookup (batch N+1 in flight while batch N is written)
 *   row-join.ts         pure: row + verdict → verdict written, annotation, outcome, file
 *   row-router.ts       writes the row to cleaned or rejected (its own text when nothing changes)
 *   report-builder.ts   counts and report.json
 * This file runs them in order and owns the commit: the CSVs go in first, the report last, and
 * nothing is renamed into place before `beforeCommit` (the input check) has passed.
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { RejectPolicy } from '../domain/routing-policy.ts';
import { createAddressAnnotator } from '../flags/address-annotator.ts';
import { buildDeliverableIndex, DeliverableIndex } from '../flags/deliverable-index.ts';
import type { CsvRecord } from '../csv/csv-row-stream.ts';
import { ROW_BUFFERED } from '../csv/csv-writer.ts';
import type { ListRecord, ListStore } from '../queue/list-store.ts';
import { listActivityKeys, parseActivityStats, parseMxStats, type ActivityStats } from '../store/redis-keys.ts';
import { openAtomicFile, type AtomicFile } from './atomic-file.ts';
import { buildListReport, ListTally } from './report-builder.ts';
import type { ListReport, MxReport, SenderAlert } from './report.ts';
import { joinRow, type JoinContext } from './row-join.ts';
import { RowRouter, type RowWriter } from './row-router.ts';
import { VerdictLookup, type LookedUpRow } from './verdict-lookup.ts';

export { HYGIENE_COLUMNS } from './appended-columns.ts';
export type { RowWriter } from './row-router.ts';

const OUTPUT_HIGH_WATER_MARK = 1024 * 1024;
/** Lookups in flight: batch N+1's while batch N is written. Bounded, so memory stays flat. */
const MAX_BATCHES_IN_FLIGHT = 2;

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
  const router = new RowRouter(cleaned, input.openWriter(rejectedFile), input.dialect.delimiter, input.expectedCells);
  const tally = new ListTally();
  const lookup = new VerdictLookup(redis, {
    keys,
    delimiter: input.dialect.delimiter,
    emailColumn: input.emailColumn.index,
    expectedCells: input.expectedCells,
    checkFormulas: cleaned.neutralisesFormulas,
    uniqueAddresses: list.uniqueAddresses,
  });
  // The deliverable index (an HSCAN of every verdict) is only consulted for mailbox_not_found rows:
  // build it while the first batches are read and joined, and wait for it only when such a row comes
  // (or at the end, so a failure still fails the collect). A list without any mailbox_not_found
  // verdict needs no index.
  let deliverable: DeliverableIndex | undefined;
  const needsIndex = list.notFound === undefined || list.notFound > 0;
  const indexLoading = (needsIndex ? buildDeliverableIndex(redis, keys.verdicts, keys.vtext) : Promise.resolve(new DeliverableIndex(new Map()))).then((index) => {
    deliverable = index;
  });
  // Marks the rejection handled while rows are read; indexLoading is awaited before the first write, which rethrows it.
  indexLoading.catch(() => undefined);
  const annotator = createAddressAnnotator({ suggest: (local, domain) => deliverable?.suggest(local, domain) });

  const inFlight: Array<Promise<LookedUpRow[]>> = [];
  const writeOldest = async (): Promise<void> => {
    const batch = inFlight.shift();
    if (!batch) return;
    const rows = await batch;
    // The suggestion of a mailbox_not_found row needs the index: wait for it before such a batch.
    if (deliverable === undefined && rows.some((row) => row.recorded?.reason === 'mailbox_not_found')) await indexLoading;
    const context: JoinContext = { now: new Date().toISOString(), policy: input.rejectPolicy, annotate: (address, verdict) => annotator.annotate(address, verdict) };
    for (const row of rows) {
      const joined = joinRow(row, context);
      tally.add(row, joined);
      const written = router.write(row, joined);
      if (written !== ROW_BUFFERED) await written;
    }
    await input.afterBatch?.(tally.rows);
  };

  const batchSize = input.batchSize ?? 2_000;
  let batch: CsvRecord[] = [];
  try {
    for await (const records of input.rows) {
      for (const record of records) batch.push(record);
      if (batch.length >= batchSize) {
        inFlight.push(lookup.lookUp(batch));
        batch = [];
        if (inFlight.length >= MAX_BATCHES_IN_FLIGHT) await writeOldest();
      }
    }
    if (batch.length > 0) inFlight.push(lookup.lookUp(batch));
    while (inFlight.length > 0) await writeOldest();
    await input.beforeCommit?.();
    await indexLoading;
    await router.end();
  } catch (err) {
    await Promise.all([cleanedFile.abort(), rejectedFile.abort()]);
    throw err;
  }

  const report = buildListReport(tally, {
    list,
    outputs: paths,
    emailColumn: input.emailColumn,
    dialect: input.dialect,
    rejectPolicy: input.rejectPolicy,
    cleanedRows: router.cleanedRows,
    rejectedRows: router.rejectedRows,
    mx: await readMxStats(redis, keys.mxStats),
    ...(await readActivity(redis, store.prefix, list.id)),
    collectStartedMs: started,
    finishedAt: new Date(),
  });
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

/** Per-provider and per-identity counters and the sender-block alerts of the list (issues 14/15; formats in store/redis-keys.ts). */
async function readActivity(redis: Redis, prefix: string, listId: string): Promise<{ activity: ActivityStats; alerts: SenderAlert[] }> {
  const keys = listActivityKeys(prefix, listId);
  const [stats, alerts] = await Promise.all([redis.hgetall(keys.providerStats), redis.hvals(keys.alerts)]);
  const parsed = alerts.flatMap((json): SenderAlert[] => {
    try {
      return [JSON.parse(json) as SenderAlert];
    } catch {
      // Written by our own recorder; a field that does not parse was not written by it.
      return [];
    }
  });
  parsed.sort((a, b) => a.cooldownUntil.localeCompare(b.cooldownUntil) || a.identity.localeCompare(b.identity));
  return { activity: parseActivityStats(stats), alerts: parsed };
}
