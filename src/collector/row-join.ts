/**
 * The row join, pure: one input row and what Redis holds for its address → the verdict written on
 * the row, its annotation (flags, suggestion), its outcome in the headline counts and which file it
 * goes to. No Redis, no files: the collector feeds it rows and writes what it answers, and the unit
 * tests call it directly.
 *
 * Every row gets a verdict (routing is a total function, so every row lands in exactly one file):
 * - a row the row check answered (blank, missing or invalid address, malformed): that answer;
 * - a later occurrence of an address: `duplicate`, with the first occurrence's status;
 * - the first occurrence: its recorded verdict, or unknown/not_verified when none was recorded.
 */
import type { ParsedAddress } from '../domain/email-address.ts';
import type { RowCheck } from '../domain/row-check.ts';
import { isRejected, type RejectPolicy } from '../domain/routing-policy.ts';
import { rowOutcome, type RowOutcome } from '../domain/row-outcome.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { Annotation } from '../flags/address-annotator.ts';

export interface RowToJoin {
  /** 0-based data row index (the producer's :first values count the same way). */
  index: number;
  check: RowCheck;
  /** The verdict recorded for the row's address (address rows only), when there is one. */
  recorded: Verdict | undefined;
  /** The data row of the address's first occurrence, when the lookup knows it (maybe this row). */
  firstIndex: number | undefined;
}

export interface JoinContext {
  /** ISO time for verdicts decided now (row-level answers, missing verdicts). */
  now: string;
  policy: RejectPolicy;
  /** Flags and suggestion of an address (flags/address-annotator.ts). */
  annotate(address: Extract<ParsedAddress, { ok: true }>, verdict: Verdict): Annotation;
}

export type VerdictSource =
  /** The row check answered: no address to verify. */
  | 'row'
  /** A later occurrence of an address. */
  | 'duplicate'
  /** The first occurrence, answered from the verdict cache. */
  | 'cache'
  /** The first occurrence, answered by a probe (or DNS, or the suppression list) in this run. */
  | 'probe'
  /** The first occurrence, and no verdict was recorded (cannot happen unless keys were lost). */
  | 'missing';

export interface JoinedRow {
  verdict: Verdict;
  source: VerdictSource;
  /** Absent for rows without an address. */
  annotation: Annotation | undefined;
  outcome: RowOutcome;
  rejected: boolean;
}

export function joinRow(row: RowToJoin, context: JoinContext): JoinedRow {
  const { check } = row;
  let verdict: Verdict;
  let source: VerdictSource;
  if (check.kind === 'verdict') {
    verdict = { status: check.status, reason: check.reason, detail: check.detail, checkedAt: context.now };
    source = 'row';
  } else if (row.firstIndex !== undefined && row.firstIndex !== row.index) {
    verdict = {
      status: row.recorded?.status ?? 'unknown',
      reason: 'duplicate',
      detail: `Same address as data row ${row.firstIndex + 1}; only the first occurrence is kept.`,
      checkedAt: row.recorded?.checkedAt ?? context.now,
    };
    // Same address, same mail server: the hygiene_provider cell repeats the first occurrence's.
    if (row.recorded?.provider !== undefined) verdict.provider = row.recorded.provider;
    source = 'duplicate';
  } else if (row.recorded) {
    // The recorded object itself, never a copy: rows sharing it share their formatted cells.
    verdict = row.recorded;
    source = row.recorded.cached ? 'cache' : 'probe';
  } else {
    verdict = { status: 'unknown', reason: 'not_verified', detail: 'No verdict was recorded for this address.', checkedAt: context.now };
    source = 'missing';
  }
  const annotation = check.kind === 'address' ? context.annotate(check.parsed, verdict) : undefined;
  return {
    verdict,
    source,
    annotation,
    outcome: rowOutcome(verdict, source === 'row' || source === 'duplicate'),
    rejected: isRejected(context.policy, verdict, annotation?.flags),
  };
}
