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

/** = + - @ TAB CR and the full-width ＝ ＋ － ＠, as UTF-16 code units. */
function isTrigger(code: number): boolean {
  return code === 0x3d || code === 0x2b || code === 0x2d || code === 0x40 || code === 0x09 || code === 0x0d || code === 0xff1d || code === 0xff0b || code === 0xff0d || code === 0xff20;
}

/**
 * `^[+-][0-9 .,()/-]*[0-9][0-9 .,()/-]*$` (a signed number or phone number) or `^-+$` (dashes only),
 * as a loop: every output cell is checked, and a phone column makes this run once per row.
 */
function isHarmless(cell: string): boolean {
  const first = cell.charCodeAt(0);
  if (first !== 0x2b && first !== 0x2d) return false;
  let digits = false;
  let dashesOnly = first === 0x2d;
  for (let i = 1; i < cell.length; i++) {
    const c = cell.charCodeAt(i);
    if (c !== 0x2d) dashesOnly = false;
    if (c >= 0x30 && c <= 0x39) digits = true;
    // space . , ( ) / -
    else if (c !== 0x20 && c !== 0x2e && c !== 0x2c && c !== 0x28 && c !== 0x29 && c !== 0x2f && c !== 0x2d) return false;
  }
  return digits || dashesOnly;
}

export function isFormulaLike(cell: string): boolean {
  if (cell.length === 0 || !isTrigger(cell.charCodeAt(0))) return false;
  return !isHarmless(cell);
}

/** Returns the cell with a leading `'` when a spreadsheet could run it as a formula. */
export function neutraliseFormula(cell: string): string {
  return isFormulaLike(cell) ? `'${cell}` : cell;
}
