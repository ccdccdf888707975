/**
 * Streams the records of a CSV file: file read stream → TextDecoder (any encoding, BOM stripped) →
 * CsvRecordSplitter (record boundaries, size cap) → csv-parse (the cells of each record).
 * Memory is bounded by the read chunk size plus `maxRecordBytes`, never by the file size.
 *
 * Row identity: `index` is the 0-based ordinal of the record in the file, header excluded, counting
 * EVERY record — blank lines and malformed records included. Boundaries depend only on the bytes of
 * the file and the sniffed delimiter/encoding, so a second pass over the same file yields the same
 * indexes (the collector joins verdicts to rows by index).
 *
 * Nothing is dropped silently: blank lines come out with `blank: true` and no cells, ragged rows
 * come out with whatever cells they have (the consumer flags them), and malformed records
 * (too large, unterminated quote) come out with `problem` set and no cells.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { InputDigest } from './input-digest.ts';
import { fileError, type SniffedInput } from './input-sniffer.ts';
import { CsvRecordSplitter, type MalformedProblem, type SplitRecord } from './record-splitter.ts';

/** Default cap on one record: 1 MiB. Above it the record is reported and skipped. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

export interface CsvRowProblem {
  code: MalformedProblem | 'unparseable';
  /** A sentence a person understands. */
  detail: string;
  /** The record's text (only the start of it for `record_too_large`). */
  raw: string;
}

export interface CsvRow {
  /** 0-based data row index, header excluded; stable across passes over the same file. */
  index: number;
  /** 1-based physical line where the record starts (for messages). */
  line: number;
  /** The cells as written (unquoted, unescaped); [] for a blank or malformed record. */
  cells: string[];
  /** The line was empty. */
  blank: boolean;
  problem?: CsvRowProblem;
}

export interface CsvRowsOptions {
  sniffed: SniffedInput;
  /** Whether the first record is a header (see findEmailColumn). Default true. */
  hasHeader?: boolean;
  maxRecordBytes?: number;
  /**
   * Leave out empty lines (they still count for `index`, so indexes match every other pass). An empty
   * line is not a record to a spreadsheet or to Python's DictReader or pandas: writing it back with a
   * verdict would add a row nobody had.
   */
  skipBlankLines?: boolean;
  /** Fed every byte of the file as it is read (the passes over a list prove they read the same bytes). */
  digest?: InputDigest;
}

export interface CsvRows extends AsyncIterable<CsvRow> {
  /** The header cells, or null when the file has no header row. */
  readonly header: string[] | null;
}

/**
 * A record before it is split into cells: what the two passes over a list read. Most records need
 * only their email cell and their width (see record-view.ts), and the collector writes a record's
 * own text back when no cell changes, so splitting every record into cells is left to the few that
 * need it (cellsOf).
 */
export interface CsvRecord {
  /** 0-based data row index, header excluded; stable across passes over the same file. */
  index: number;
  /** 1-based physical line where the record starts (for messages). */
  line: number;
  /** The record as written, without its terminator ('' for a blank line; the raw text of a malformed record). */
  text: string;
  blank: boolean;
  problem?: CsvRowProblem;
}

/** Records come in batches (those of one read chunk): one await per batch, not one per record. */
export interface CsvRecords extends AsyncIterable<CsvRecord[]> {
  /** The header cells, or null when the file has no header row. */
  readonly header: string[] | null;
}

/** Reads the header (when there is one) and returns the data rows as a one-shot async iterable. */
export async function openCsvRows(path: string, options: CsvRowsOptions): Promise<CsvRows> {
  const records = await openCsvRecords(path, options);
  const delimiter = options.sniffed.delimiter;
  return {
    header: records.header,
    async *[Symbol.asyncIterator]() {
      for await (const batch of records) for (const record of batch) yield cellsOf(record, delimiter);
    },
  };
}

/** The data records, unsplit (see CsvRecord) and in batches; the header is split into cells. */
export async function openCsvRecords(path: string, options: CsvRowsOptions): Promise<CsvRecords> {
  const delimiter = options.sniffed.delimiter;
  // With a header, the header record gets index -1 so data rows count from 0 as they are made:
  // renumbering afterwards cost an object copy and an async-generator hop per row.
  const hasHeader = options.hasHeader ?? true;
  const batches = readBatches(path, options.sniffed, options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES, hasHeader ? -1 : 0, options.skipBlankLines ?? false, options.digest);
  let header: string[] | null = null;
  let rest: CsvRecord[] = [];
  if (hasHeader) {
    for (;;) {
      const next = await batches.next();
      if (next.done) {
        header = [];
        break;
      }
      const [first, ...others] = next.value;
      if (first === undefined) continue;
      header = cellsOf(first, delimiter).cells;
      rest = others;
      break;
    }
  }
  let used = false;
  return {
    header,
    [Symbol.asyncIterator]() {
      if (used) throw new Error('openCsvRecords: the records can be iterated only once; open the file again.');
      used = true;
      return (async function* () {
        if (rest.length > 0) yield rest;
        yield* batches;
      })();
    },
  };
}

/** The first `limit` records of the file (header included), for header and column detection. */
export async function readCsvSample(path: string, sniffed: SniffedInput, limit = 200): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  const batches = readBatches(path, sniffed, DEFAULT_MAX_RECORD_BYTES, 0, false);
  try {
    for await (const batch of batches) {
      for (const record of batch) {
        if (rows.length >= limit) break;
        rows.push(cellsOf(record, sniffed.delimiter));
      }
      if (rows.length >= limit) break;
    }
  } finally {
    await batches.return(undefined);
  }
  return rows;
}

/**
 * The records of the file, a batch per read chunk (a batch may be empty). `firstIndex`: the index of
 * the file's first record (-1 when it is a header, see openCsvRecords).
 */
async function* readBatches(path: string, sniffed: SniffedInput, maxRecordBytes: number, firstIndex: number, skipBlank: boolean, digest?: InputDigest): AsyncGenerator<CsvRecord[]> {
  // highWaterMark 64 KiB: small enough to keep memory flat, large enough for throughput.
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  // ignoreBOM false: the decoder strips a leading BOM, which is what we want for every encoding.
  const decoder = new TextDecoder(sniffed.encoding, { ignoreBOM: false });
  const splitter = new CsvRecordSplitter(sniffed.delimiter, maxRecordBytes);
  let index = firstIndex;
  // Excel's "sep=;" hint line is not a record (see SniffedInput.preamble).
  let skipPreamble = sniffed.preamble !== undefined;
  const batchOf = (splits: SplitRecord[]): CsvRecord[] => {
    const batch: CsvRecord[] = [];
    for (const split of splits) {
      if (skipPreamble) {
        skipPreamble = false;
        continue;
      }
      const record = toRecord(split, index++);
      if (!(skipBlank && record.blank && record.index >= 0)) batch.push(record);
    }
    return batch;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      digest?.update(chunk);
      yield batchOf(splitter.push(decoder.decode(chunk, { stream: true })));
    }
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code ? fileError(err, path) : err;
  } finally {
    stream.destroy();
  }
  const tail = decoder.decode();
  yield batchOf([...(tail === '' ? [] : splitter.push(tail)), ...splitter.end()]);
}

function toRecord(split: SplitRecord, index: number): CsvRecord {
  if (split.kind === 'malformed') {
    return { index, line: split.line, text: split.text, blank: false, problem: { code: split.problem, detail: split.detail, raw: split.text } };
  }
  return { index, line: split.line, text: split.text, blank: split.text === '' };
}

/** csv-parse options for the records splitWellFormedRecord leaves to it. */
const PARSE_OPTIONS = { bom: false, relax_quotes: true, relax_column_count: true, skip_empty_lines: false } as const;

/** A record split into its cells (a record csv-parse cannot read becomes a row with a problem). */
export function cellsOf(record: CsvRecord, delimiter: string): CsvRow {
  const { index, line, text } = record;
  if (record.problem) return { index, line, cells: [], blank: false, problem: record.problem };
  if (record.blank) return { index, line, cells: [], blank: true };
  // Well-formed records are split here: a csv-parse call per record costs a parser set-up and a
  // record-delimiter discovery (a Buffer copy of the text), which made it the hot spot of a pass.
  const fast = splitWellFormedRecord(text, delimiter);
  if (fast !== null) return { index, line, cells: fast, blank: false };
  // The splitter guarantees balanced quotes and no unquoted line break, so exactly one record comes back.
  try {
    const parsed = parse(text, { ...PARSE_OPTIONS, delimiter }) as string[][];
    const cells = parsed[0];
    if (parsed.length === 1 && cells) return { index, line, cells, blank: false };
    throw new Error(`expected one record, got ${parsed.length}`);
  } catch (err) {
    return {
      index,
      line,
      cells: [],
      blank: false,
      problem: { code: 'unparseable', detail: `This record could not be read as CSV (${(err as Error).message}).`, raw: text },
    };
  }
}

/**
 * Cells of one record when it is plainly well-formed RFC 4180 (unquoted cells without quotes or
 * line breaks; quoted cells with "" escapes whose closing quote ends the cell). Anything else —
 * stray quotes, bare CR/LF, text after a closing quote — returns null and goes to csv-parse, so the
 * relaxed-quote rules stay csv-parse's. For the cases accepted here both give the same cells.
 */
export function splitWellFormedRecord(text: string, delimiter: string): string[] | null {
  if (delimiter.length !== 1 || delimiter === '"') return null;
  const cells: string[] = [];
  let pos = 0;
  for (;;) {
    if (text.charCodeAt(pos) === 0x22) {
      // Quoted cell.
      let value = '';
      let from = pos + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) return null;
        if (text.charCodeAt(quote + 1) === 0x22) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        pos = quote + 1;
        break;
      }
      cells.push(value);
      if (pos === text.length) return cells;
      if (text[pos] !== delimiter) return null;
      pos += 1;
      continue;
    }
    let end = text.indexOf(delimiter, pos);
    if (end < 0) end = text.length;
    const value = text.slice(pos, end);
    if (value.includes('"') || value.includes('\r') || value.includes('\n')) return null;
    cells.push(value);
    if (end === text.length) return cells;
    pos = end + 1;
  }
}
