/**
 * The collector's last steps in memory, for the router tests: a RowRouter writing two-column
 * (email,name) CSV into strings through real CsvWriters, and the LookedUpRow the verdict lookup
 * would hand it for one record line.
 */
import { PassThrough } from 'node:stream';
import { HYGIENE_COLUMNS } from '../../src/collector/appended-columns.ts';
import { RowRouter } from '../../src/collector/row-router.ts';
import type { LookedUpRow } from '../../src/collector/verdict-lookup.ts';
import { checkRecord } from '../../src/csv/record-check.ts';
import { createCsvWriter } from '../../src/csv/csv-writer.ts';
import type { Verdict } from '../../src/domain/verdict.ts';

/** A router over email,name files; `text` holds what each file received so far. */
export function memoryRouter(): { router: RowRouter; text: { cleaned: string; rejected: string } } {
  const files = { cleaned: new PassThrough(), rejected: new PassThrough() };
  const text = { cleaned: '', rejected: '' };
  files.cleaned.on('data', (d: Buffer) => (text.cleaned += d.toString()));
  files.rejected.on('data', (d: Buffer) => (text.rejected += d.toString()));
  const open = (stream: PassThrough) => createCsvWriter(stream, { delimiter: ',', lineEnding: '\n', header: ['email', 'name'], appendedHeader: HYGIENE_COLUMNS, neutraliseFormulas: true });
  return { router: new RowRouter(open(files.cleaned), open(files.rejected), ',', 2), text };
}

/** Record `index` (line index + 2 of the file) as the lookup sees it, with its recorded verdict and first occurrence. */
export function lookedUpRow(index: number, line: string, recorded: Verdict | undefined, firstIndex: number | undefined): LookedUpRow {
  const record = { index, line: index + 2, text: line, blank: false };
  const checked = checkRecord(record, ',', 0, 2, true);
  return {
    index,
    record,
    check: checked.check,
    cellCount: checked.cellCount,
    cells: checked.cells,
    verbatim: checked.cells === undefined && !checked.formula && checked.cellCount <= 2,
    recorded,
    firstIndex,
  };
}
