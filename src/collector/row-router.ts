/**
 * The router: writes each joined row to cleaned or rejected, with the appended columns. A row whose
 * cells need no change is written back as its own text (original quoting kept) followed by the
 * appended cells; a row the formula guard changes, a ragged row or one that is not plain CSV is
 * written cell by cell. A record that could not be parsed keeps its raw text in one cell.
 */
import { cellsOf } from '../csv/csv-row-stream.ts';
import type { CsvWriter } from '../csv/csv-writer.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { Annotation } from '../flags/address-annotator.ts';
import { rowCells, verdictCells } from './appended-columns.ts';
import type { JoinedRow } from './row-join.ts';
import type { LookedUpRow } from './verdict-lookup.ts';

export type RowWriter = Pick<CsvWriter, 'writeRow' | 'writeRecord' | 'formatAppended' | 'neutralisesFormulas' | 'end'>;

export class RowRouter {
  cleanedRows = 0;
  rejectedRows = 0;
  /**
   * The verdict's appended cells, formatted once per (recorded verdict, flags, suggestion): rows of
   * one domain or one job share verdict objects (see verdict-lookup.ts), so most rows reuse the
   * text; only the row's own cells (appended-columns.ts ROW_COLUMNS) are formatted per row.
   */
  private readonly appendedText = new WeakMap<Verdict, Map<string, string>>();

  constructor(
    private readonly cleaned: RowWriter,
    private readonly rejected: RowWriter,
    private readonly delimiter: string,
    private readonly expectedCells: number,
  ) {}

  /** Resolves at once (ROW_BUFFERED) unless the output must drain: callers await only other promises. */
  write(row: LookedUpRow, joined: JoinedRow): Promise<void> {
    const writer = joined.rejected ? this.rejected : this.cleaned;
    if (joined.rejected) this.rejectedRows += 1;
    else this.cleanedRows += 1;
    if (row.verbatim) return writer.writeRecord(row.record.text, row.cellCount, this.formatVerdictCells(joined) + this.cleaned.formatAppended(rowCells(row.check, joined.verdict)));
    let cells = row.cells ?? cellsOf(row.record, this.delimiter).cells;
    let appended = [...verdictCells(joined.verdict, joined.annotation), ...rowCells(row.check, joined.verdict)];
    if (cells.length > this.expectedCells) {
      // Keep the appended columns under their headers; the surplus cells follow them, in order.
      appended = [...appended, ...cells.slice(this.expectedCells)];
      cells = cells.slice(0, this.expectedCells);
    }
    return writer.writeRow(cells, appended);
  }

  async end(): Promise<void> {
    await this.cleaned.end();
    await this.rejected.end();
  }

  /** The verdict's cells, formatted as they follow the original cells. */
  private formatVerdictCells(joined: JoinedRow): string {
    const { verdict, annotation } = joined;
    // Only a recorded verdict is shared by other rows; one made for this row is formatted once anyway.
    if (joined.source !== 'cache' && joined.source !== 'probe') return this.cleaned.formatAppended(verdictCells(verdict, annotation));
    const key = annotationKey(annotation);
    let byAnnotation = this.appendedText.get(verdict);
    if (byAnnotation === undefined) {
      byAnnotation = new Map();
      this.appendedText.set(verdict, byAnnotation);
    }
    let text = byAnnotation.get(key);
    if (text === undefined) {
      text = this.cleaned.formatAppended(verdictCells(verdict, annotation));
      byAnnotation.set(key, text);
    }
    return text;
  }
}

function annotationKey(annotation: Annotation | undefined): string {
  return annotation ? `${annotation.flags}\u0000${annotation.suggestion ?? ''}` : '';
}
