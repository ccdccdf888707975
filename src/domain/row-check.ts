/**
 * What a single CSV row means before any network work: an address to verify, or a verdict already
 * (blank row, missing or invalid email, malformed row). Pure; the producer and the collector both
 * call it, so the same row always gets the same answer on both passes over the file.
 */
import { parseEmailAddress, type ParsedAddress } from './email-address.ts';
import type { Reason, Status } from './verdict.ts';

export type RowCheck =
  | { kind: 'address'; parsed: Extract<ParsedAddress, { ok: true }> }
  | { kind: 'verdict'; status: Status; reason: Reason; detail: string };

/** The parts of a CSV row this check needs (structural, so domain code imports no CSV module). */
export interface RowCells {
  cells: readonly string[];
  /** Set by the reader when the record could not be parsed (unterminated quote, oversized...). */
  problem?: { detail: string };
}

/**
 * @param expectedCells the header's width (or the first row's when the file has no header)
 *
 * A ragged row whose email cell still holds a valid address is verified as usual (exports often drop
 * trailing empty cells). A ragged row whose email cell does not parse is `malformed_row`, because the
 * cells have probably shifted and "invalid address" would blame the wrong thing.
 */
export function checkRow(row: RowCells, emailColumn: number, expectedCells: number): RowCheck {
  const { cells } = row;
  if (row.problem) {
    return { kind: 'verdict', status: 'unknown', reason: 'malformed_row', detail: `The row could not be read as CSV: ${row.problem.detail}` };
  }
  if (cells.every((cell) => cell.trim() === '')) {
    return { kind: 'verdict', status: 'undeliverable', reason: 'missing_email', detail: 'The row is blank.' };
  }
  const cell = cells[emailColumn];
  const parsed = parseEmailAddress(cell ?? '');
  if (parsed.ok) return { kind: 'address', parsed };
  if (cells.length !== expectedCells) {
    return {
      kind: 'verdict',
      status: 'unknown',
      reason: 'malformed_row',
      detail: `The row has ${cells.length} fields where the header has ${expectedCells}, and its email cell does not hold an address; check the row for an unquoted delimiter.`,
    };
  }
  return { kind: 'verdict', status: 'undeliverable', reason: parsed.reason, detail: parsed.detail };
}
