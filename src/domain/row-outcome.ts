/**
 * A row's outcome: the one line of the headline counts it is counted on. Pure domain code.
 *
 * Why not the status: a duplicate row carries its first occurrence's status in hygiene_status
 * (documented API), so counting rows by status counted a list's 978 duplicates of deliverable
 * addresses as "deliverable" while cleaned.csv held 11 such rows. An outcome counts each row once,
 * for what the row itself is: a verified address (its status), or a row-level answer that no mail
 * server gave (a duplicate, a blank or unreadable row, an invalid address). The outcomes of a list
 * add up to its rows, and per file to the rows of that file.
 */
import type { Reason, Status } from './verdict.ts';

/** Answers about the row itself, not about a verified mailbox (see row-check.ts and the collector). */
export const ROW_LEVEL_OUTCOMES = ['duplicate', 'invalid_syntax', 'missing_email', 'malformed_row'] as const;
export type RowLevelOutcome = (typeof ROW_LEVEL_OUTCOMES)[number];

export type RowOutcome = Status | RowLevelOutcome;

/** Every outcome, in the order a reader meets them: verified addresses good to bad, then row-level answers. */
export const ROW_OUTCOMES: readonly RowOutcome[] = ['deliverable', 'risky', 'unknown', 'undeliverable', ...ROW_LEVEL_OUTCOMES];

export function isRowLevelOutcome(value: string): value is RowLevelOutcome {
  return (ROW_LEVEL_OUTCOMES as readonly string[]).includes(value);
}

/**
 * @param rowLevel the row never reached a verifier: a duplicate, or a row check's answer (blank row,
 *   missing or invalid address, malformed row)
 */
export function rowOutcome(verdict: { status: Status; reason: Reason }, rowLevel: boolean): RowOutcome {
  if (rowLevel && isRowLevelOutcome(verdict.reason)) return verdict.reason;
  return verdict.status;
}
