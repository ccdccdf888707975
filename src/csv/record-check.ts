/**
 * What one record of a list means, as both passes over the file see it: checkRow's answer, found
 * the quick way for a plain record (its email cell read in place, see record-view.ts) and the
 * general way (every cell split) for anything else. The producer and the collector both call this,
 * so the two passes agree on every row; the collector's duplicate detection relies on that.
 */
import { checkRow, type RowCheck } from '../domain/row-check.ts';
import { parseEmailAddress } from '../domain/email-address.ts';
import { cellsOf, type CsvRecord } from './csv-row-stream.ts';
import { viewRecord } from './record-view.ts';

export interface CheckedRecord {
  check: RowCheck;
  cellCount: number;
  /** The cells, when the record had to be split (a malformed record: its raw text as its one cell); absent for a plain record. */
  cells?: string[];
  /** A plain record has a cell the formula guard would change (looked for only when asked). */
  formula: boolean;
}

export function checkRecord(record: CsvRecord, delimiter: string, emailColumn: number, expectedCells: number, checkFormulas = false): CheckedRecord {
  if (!record.problem && !record.blank) {
    const view = viewRecord(record.text, delimiter, emailColumn, checkFormulas);
    if (view !== null) {
      // A cell holding a valid address is not blank, so checkRow would answer 'address' too.
      const parsed = parseEmailAddress(view.cell ?? '');
      if (parsed.ok) return { check: { kind: 'address', parsed }, cellCount: view.cellCount, formula: view.formula };
      // Not an address: checkRow's other answers (blank row, ragged row...) need the cells.
    }
  }
  const row = cellsOf(record, delimiter);
  return { check: checkRow(row, emailColumn, expectedCells), cellCount: row.cells.length, cells: row.problem ? [row.problem.raw] : row.cells, formula: false };
}
