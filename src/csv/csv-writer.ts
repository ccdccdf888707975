/**
 * Writes CSV rows the way csv-stringify does (see csvCellFormatter): the original cells unchanged (quoted only where CSV needs it)
 * plus the columns we append (status, reason, detail...). Output is UTF-8 whatever the input
 * encoding was, with the input's delimiter and line ending. Cells containing the delimiter, a quote,
 * CR or LF are quoted (CR and LF whatever the output line ending is).
 *
 * Formula injection (OWASP CSV Injection): appended cells are always neutralised (they can carry
 * text from remote SMTP servers). Original cells are neutralised only when `neutraliseFormulas` is
 * on (the default): it changes the user's data (a leading `'`), so the choice is theirs — turn it off
 * when the output feeds another program rather than a spreadsheet. See formula-guard.ts for the
 * signed-number exception.
 *
 * Ragged rows: when columns are appended, a row shorter than `columnCount` is padded with empty
 * cells so the appended columns line up under their header; a longer row keeps all its cells and
 * the appended ones follow (the consumer is expected to route ragged rows to the rejected file).
 * With nothing appended, rows are written exactly as read.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { neutraliseFormula } from './formula-guard.ts';

export interface CsvWriterOptions {
  delimiter: string;
  lineEnding: '\r\n' | '\n';
  /** The original header, or null to write no header row (the input had none). */
  header: string[] | null;
  /** Names of the appended columns, written after the header. Default none. */
  appendedHeader?: readonly string[];
  /** Width used to pad short rows when columns are appended. Default: the header's length. */
  columnCount?: number;
  /** Neutralise formula-like ORIGINAL cells too. Default true. Appended cells always are. */
  neutraliseFormulas?: boolean;
  /** Start the file with a UTF-8 BOM (Excel needs it to read UTF-8). Default false. */
  bom?: boolean;
  /** A line written before the header, as is (the input's Excel "sep=;" hint). */
  preamble?: string;
}

export interface CsvWriter {
  /**
   * Accepts a row. Rows are gathered into chunks of about CHUNK_CHARS before they reach the
   * stream, so this mostly resolves at once; it waits for 'drain' when the output is busy.
   */
  writeRow(cells: readonly string[], appended?: readonly string[]): Promise<void>;
  /**
   * Accepts a row given as the input record's own text (its `cellCount` cells, none of which the
   * formula guard would change) plus appended cells already formatted by formatAppended. Cheaper
   * than writeRow, and the original cells keep their exact spelling (quotes included).
   */
  writeRecord(text: string, cellCount: number, formattedAppended: string): Promise<void>;
  /** The appended cells as writeRow writes them after the original ones (each after a delimiter). */
  formatAppended(appended: readonly string[]): string;
  /** Whether original cells go through the formula guard (writeRecord's caller must check them). */
  readonly neutralisesFormulas: boolean;
  /** Flushes and ends the output stream; rejects if writing failed. */
  end(): Promise<void>;
}

/**
 * Characters gathered before one stream.write. Why: a stream write per row (what csv-stringify's
 * Transform did) was the collector's main cost after the parse; 64 Ki chars is one fs write.
 */
const CHUNK_CHARS = 64 * 1024;
const UTF8_BOM = '\ufeff';
/**
 * What writeRow/writeRecord return when the row only went into the pending chunk. Callers writing
 * many rows compare against it and await only the other promises: an await per row costs a
 * microtask turn per row even on a resolved promise.
 */
export const ROW_BUFFERED: Promise<void> = Promise.resolve();
const RESOLVED = ROW_BUFFERED;

/**
 * One cell as csv-stringify 6 writes it with our options (quote '"', escape '"',
 * quote_record_delimiter on, no casting: every cell is a string): quoted when it contains a quote,
 * CR, LF or the delimiter (for a multi-character delimiter, also when its tail plus the delimiter
 * would read as one), quotes doubled inside. The same rules, written out, so a row costs string
 * work only — no Transform stream, no per-record option handling.
 */
export function csvCellFormatter(delimiter: string): (cell: string) => string {
  const escapedDelimiter = delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const specials = new RegExp(`["\r\n]|${escapedDelimiter}`);
  const fusesWithDelimiter = (cell: string): boolean => delimiter.length > 1 && (cell + delimiter).indexOf(delimiter) < cell.length;
  return (cell) => {
    if (cell === '' || (!specials.test(cell) && !fusesWithDelimiter(cell))) return cell;
    return `"${cell.includes('"') ? cell.replaceAll('"', '""') : cell}"`;
  };
}

export function createCsvWriter(stream: Writable, options: CsvWriterOptions): CsvWriter {
  const neutraliseOriginal = options.neutraliseFormulas ?? true;
  const columnCount = options.columnCount ?? options.header?.length ?? 0;
  const { delimiter, lineEnding } = options;
  const formatCell = csvCellFormatter(delimiter);
  // Surfaced by end() or by the next writeRow; never an uncaught 'error' event.
  let failure: unknown;
  stream.on('error', (err: unknown) => {
    failure ??= err;
  });

  let pending = (options.bom ? UTF8_BOM : '') + (options.preamble !== undefined ? `${options.preamble}${options.lineEnding}` : '');
  let headerWritten = options.header === null;

  const flush = async (): Promise<void> => {
    if (failure !== undefined) throw failure;
    const chunk = pending;
    pending = '';
    // once() rejects when the stream errors while we wait, so a dead output never hangs us.
    if (chunk !== '' && !stream.write(chunk)) await once(stream, 'drain');
    if (failure !== undefined) throw failure;
  };

  const appendRow = (cells: readonly string[], appended: readonly string[], neutraliseCells: boolean): void => {
    let line = '';
    let width = 0;
    for (; width < cells.length; width++) {
      const cell = cells[width]!;
      line += (width === 0 ? '' : delimiter) + formatCell(neutraliseCells ? neutraliseFormula(cell) : cell);
    }
    if (appended.length > 0) {
      // Pad a short row so the appended cells sit under their header.
      for (; width < columnCount; width++) line += width === 0 ? '' : delimiter;
      for (const cell of appended) {
        line += (width === 0 ? '' : delimiter) + formatCell(neutraliseFormula(cell));
        width++;
      }
    }
    pending += line + lineEnding;
  };

  const writeHeader = (): void => {
    if (headerWritten || options.header === null) return;
    headerWritten = true;
    // The header is never padded; the appended names are ours, neutralised like any appended cell.
    const names = [...options.header.map((cell) => (neutraliseOriginal ? neutraliseFormula(cell) : cell)), ...(options.appendedHeader ?? []).map(neutraliseFormula)];
    pending += names.map(formatCell).join(delimiter) + lineEnding;
  };

  const formatAppended = (appended: readonly string[]): string => {
    let text = '';
    for (const cell of appended) text += delimiter + formatCell(neutraliseFormula(cell));
    return text;
  };

  return {
    neutralisesFormulas: neutraliseOriginal,
    formatAppended,
    writeRow(cells, appended = []) {
      if (failure !== undefined) return Promise.reject(failure);
      writeHeader();
      appendRow(cells, appended, neutraliseOriginal);
      return pending.length >= CHUNK_CHARS ? flush() : RESOLVED;
    },
    writeRecord(text, cellCount, formattedAppended) {
      if (failure !== undefined) return Promise.reject(failure);
      writeHeader();
      // Pad a short row so the appended cells sit under their header (as appendRow does).
      const padding = formattedAppended !== '' && cellCount < columnCount ? delimiter.repeat(columnCount - cellCount) : '';
      pending += text + padding + formattedAppended + lineEnding;
      return pending.length >= CHUNK_CHARS ? flush() : RESOLVED;
    },
    async end() {
      writeHeader();
      await flush();
      stream.end();
      // Only the writable side: a Duplex output need not be read to its end for us to be done.
      await finished(stream, { readable: false });
      if (failure !== undefined) throw failure;
    },
  };
}
