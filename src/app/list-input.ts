/**
 * Opens a contact CSV for a list: sniff encoding and delimiter, find the email column and whether
 * there is a header, and give the producer and the collector identical row streams (same indexes
 * on every pass) plus a writer for outputs in the input's dialect.
 */
import { sniffInput, type SniffedInput } from '../csv/input-sniffer.ts';
import { findEmailColumn, type EmailColumn } from '../csv/email-column.ts';
import { openCsvRecords, readCsvSample, type CsvRecords } from '../csv/csv-row-stream.ts';
import type { InputDigest } from '../csv/input-digest.ts';
import { createCsvWriter } from '../csv/csv-writer.ts';
import { HYGIENE_COLUMNS } from '../collector/appended-columns.ts';
import type { RowWriter } from '../collector/row-router.ts';
import type { AtomicFile } from '../collector/atomic-file.ts';
import { HygieneError } from '../errors.ts';

export interface ListInput {
  path: string;
  sniffed: SniffedInput;
  header: string[] | null;
  emailColumn: EmailColumn;
  expectedCells: number;
  /**
   * How the file is read (dialect, header, email column, width), as one string: both passes must
   * read the file the same way, not only read the same bytes (see InputDigest).
   */
  layout: string;
  /** The data records, unsplit (blank lines left out; they keep their place in the indexes). */
  openRecords(digest?: InputDigest): Promise<CsvRecords>;
  openWriter(file: AtomicFile, neutraliseFormulas: boolean): RowWriter;
}

export async function openListInput(path: string, emailColumnOverride?: string): Promise<ListInput> {
  const sniffed = await sniffInput(path);
  const sample = await readCsvSample(path, sniffed, 200);
  const readable = sample.filter((row) => !row.problem && !row.blank);
  const first = readable[0];
  if (!first) {
    throw new HygieneError('INPUT_EMPTY', `${path} has no readable rows (only blank or malformed lines).`, { path });
  }
  const emailColumn = findEmailColumn(first.cells, readable.slice(1).map((row) => row.cells), emailColumnOverride);
  // Same rule as openCsvRows: with a header, the file's first record is it.
  const header = emailColumn.hasHeader ? (sample[0]?.cells ?? []) : null;
  const expectedCells = header ? header.length : first.cells.length;
  return {
    path,
    sniffed,
    header,
    emailColumn,
    expectedCells,
    layout: JSON.stringify([sniffed.encoding, sniffed.bom, sniffed.delimiter, sniffed.lineEnding, sniffed.preamble ?? null, emailColumn.hasHeader, emailColumn.index, expectedCells]),
    openRecords: (digest) => openCsvRecords(path, { sniffed, hasHeader: emailColumn.hasHeader, skipBlankLines: true, digest }),
    openWriter: (file, neutraliseFormulas) =>
      createCsvWriter(file.stream, {
        delimiter: sniffed.delimiter,
        lineEnding: sniffed.lineEnding,
        header,
        appendedHeader: header ? HYGIENE_COLUMNS : undefined,
        columnCount: expectedCells,
        neutraliseFormulas,
        preamble: sniffed.preamble,
      }),
  };
}
