/**
 * Formula-injection guard for cells written to CSV files that people open in a spreadsheet
 * (OWASP "CSV Injection"). A cell starting with `=`, `+`, `-`, `@`, TAB or CR (or the full-width
 * ＝ ＋ － ＠ that some spreadsheets normalise) can be run as a formula; prefixing a single quote
 * makes every common spreadsheet show it as text. Pure, imports nothing.
 *
 * Exception, on purpose: a cell starting with `+` or `-` that is otherwise only digits, spaces and
 * number/phone punctuation (`. , ( ) / -`) is left alone — "-5", "-3.5", "+44 20 7946 0958",
 * "+1 (555) 123-4567". Such a cell cannot call a function or reach another cell, so the worst a
 * spreadsheet does with it is arithmetic, while a quote prefix would corrupt every phone number
 * and negative amount in the file. Likewise a cell of dashes only ("-", "--", the usual "no value"
 * placeholder of CRM exports) has no operand to compute and is left as it is.
 */

const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uff1d', '\uff0b', '\uff0d', '\uff20']);
const HARMLESS_SIGNED_NUMBER = /^[+-][0-9 .,()/-]*[0-9][0-9 .,()/-]*$/;
const DASHES_ONLY = /^-+$/;

export function isFormulaLike(cell: string): boolean {
  const first = cell[0];
  if (first === undefined || !TRIGGERS.has(first)) return false;
  return !HARMLESS_SIGNED_NUMBER.test(cell) && !DASHES_ONLY.test(cell);
}

/** Returns the cell with a leading `'` when a spreadsheet could run it as a formula. */
export function neutraliseFormula(cell: string): string {
  return isFormulaLike(cell) ? `'${cell}` : cell;
}
