/**
 * Writes CSV rows with csv-stringify: the original cells unchanged (quoted only where CSV needs it)
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
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
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
}

export interface CsvWriter {
  /** Resolves when the row is accepted; waits for 'drain' when the output is busy. */
  writeRow(cells: readonly string[], appended?: readonly string[]): Promise<void>;
  /** Flushes and ends the output stream; rejects if writing failed. */
  end(): Promise<void>;
}

export function createCsvWriter(stream: Writable, options: CsvWriterOptions): CsvWriter {
  const neutraliseOriginal = options.neutraliseFormulas ?? true;
  const columnCount = options.columnCount ?? options.header?.length ?? 0;
  const stringifier = stringify({
    delimiter: options.delimiter,
    record_delimiter: options.lineEnding,
    // csv-stringify turns this off whenever record_delimiter is given, so a cell with a bare "\n"
    // would be written unquoted into a CRLF file and split the row on the next read. Always quote.
    quote_record_delimiter: true,
    bom: options.bom ?? false,
    eof: true,
  });
  const done = pipeline(stringifier, stream);
  // Surfaced by end() or by the next writeRow; never an unhandled rejection.
  let failure: unknown;
  done.catch((err: unknown) => {
    failure = err;
  });

  const original = (cells: readonly string[]): string[] => (neutraliseOriginal ? cells.map(neutraliseFormula) : [...cells]);

  const write = async (record: string[]): Promise<void> => {
    if (failure !== undefined) throw failure;
    if (!stringifier.write(record)) await once(stringifier, 'drain');
  };

  let headerWritten = options.header === null;
  const writeHeader = async (): Promise<void> => {
    if (headerWritten || options.header === null) return;
    headerWritten = true;
    await write([...original(options.header), ...(options.appendedHeader ?? []).map(neutraliseFormula)]);
  };

  return {
    async writeRow(cells, appended = []) {
      await writeHeader();
      const row = original(cells);
      if (appended.length > 0) {
        while (row.length < columnCount) row.push('');
        for (const cell of appended) row.push(neutraliseFormula(cell));
      }
      await write(row);
    },
    async end() {
      await writeHeader();
      stringifier.end();
      await done;
    },
  };
}
