/**
 * What the two passes over a list need from most records, read without splitting them into cells:
 * how many cells there are, the text of one cell (the email column), and whether any cell would
 * be changed by the formula guard. Splitting every record into an array of cell strings, only to
 * read one of them and write the others back unchanged, was most of the garbage (and a good part
 * of the time) of a pass over a big file.
 *
 * The rules are splitWellFormedRecord's, exactly: it answers null for the same records (anything
 * not plainly RFC 4180), and then the caller splits the record the general way (cellsOf). A test
 * checks both agree on every record.
 */
import { isFormulaLike } from './formula-guard.ts';

export interface RecordView {
  cellCount: number;
  /** The cell at the requested column, unquoted; undefined when the record is narrower. */
  cell: string | undefined;
  /** Some cell would get the formula guard's leading quote (only looked for when asked). */
  formula: boolean;
}

const QUOTE = 0x22;

/** First code units of a cell the formula guard may change (see formula-guard.ts). */
function mayBeFormula(code: number): boolean {
  return code === 0x3d || code === 0x2b || code === 0x2d || code === 0x40 || code === 0x09 || code === 0x0d || code === 0xff1d || code === 0xff0b || code === 0xff0d || code === 0xff20;
}

/** Index of the first CR or LF at or after `from`, or Infinity. */
function nextBreak(text: string, from: number): number {
  const cr = text.indexOf('\r', from);
  const lf = text.indexOf('\n', from);
  if (cr < 0) return lf < 0 ? Infinity : lf;
  return lf < 0 ? cr : Math.min(cr, lf);
}

export function viewRecord(text: string, delimiter: string, column: number, checkFormulas: boolean): RecordView | null {
  if (delimiter.length !== 1 || delimiter === '"' || text === '') return null;
  const d = delimiter.charCodeAt(0);
  const length = text.length;
  let quoteAt = text.indexOf('"');
  if (quoteAt < 0) quoteAt = Infinity;
  let breakAt = nextBreak(text, 0);
  let pos = 0;
  let count = 0;
  let cell: string | undefined;
  let formula = false;
  for (;;) {
    if (text.charCodeAt(pos) === QUOTE) {
      // Quoted cell: "" is a literal quote; the closing quote must end the cell.
      const wanted = count === column || (checkFormulas && !formula && mayBeFormula(text.charCodeAt(pos + 1)));
      let value = '';
      let from = pos + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) return null;
        if (text.charCodeAt(quote + 1) === QUOTE) {
          if (wanted) value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        if (wanted) value += text.slice(from, quote);
        pos = quote + 1;
        break;
      }
      if (count === column) cell = value;
      if (wanted && checkFormulas && !formula) formula = isFormulaLike(value);
      count++;
      if (pos === length) break;
      if (text.charCodeAt(pos) !== d) return null;
      pos += 1;
      if (quoteAt < pos) {
        quoteAt = text.indexOf('"', pos);
        if (quoteAt < 0) quoteAt = Infinity;
      }
      if (breakAt < pos) breakAt = nextBreak(text, pos);
      continue;
    }
    let end = text.indexOf(delimiter, pos);
    if (end < 0) end = length;
    // An unquoted cell with a quote or a line break in it is not plain RFC 4180.
    if (quoteAt < end || breakAt < end) return null;
    if (count === column) cell = text.slice(pos, end);
    if (checkFormulas && !formula && end > pos && mayBeFormula(text.charCodeAt(pos))) formula = isFormulaLike(count === column ? (cell as string) : text.slice(pos, end));
    count++;
    if (end === length) break;
    pos = end + 1;
  }
  return { cellCount: count, cell, formula };
}
