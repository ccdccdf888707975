/**
 * The columns every output row gets after its original cells, declared once. Every way in (CLI,
 * watched folder, API downloads, scheduled runs) writes its files through the collector, so this
 * list is the one place an appended column is added: the header (list-input.ts) and the cells
 * (the router) both come from here. New columns go at the end, so a consumer that reads columns by
 * position keeps working.
 */
import type { RowCheck } from '../domain/row-check.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { Annotation } from '../flags/address-annotator.ts';

/** Columns filled from the verdict (shared by every row with the same verdict and annotation). */
export const VERDICT_COLUMNS = [
  'hygiene_status',
  'hygiene_reason',
  'hygiene_detail',
  'hygiene_smtp_reply',
  'hygiene_mx',
  'hygiene_suggestion',
  'hygiene_checked_at',
  'hygiene_flags',
] as const;

/**
 * Columns filled from the row itself, after the verdict's:
 * - hygiene_address: the normalised address that was verified (what was inside `Name <...>` or after
 *   `mailto:`, trimmed, domain lower-case and as its IDN A-label; the local part as written), so a
 *   row can be mailed as it is; empty when the row has no valid address. The original cell is never
 *   changed.
 */
export const ROW_COLUMNS = ['hygiene_address'] as const;

/**
 * Columns after the row's own, filled from the verdict again (columns are only ever appended at
 * the end, so a consumer reading by position keeps working):
 * - hygiene_provider: the provider slug of the mail server that answered or was asked
 *   (src/providers/providers.json: `google`, `microsoft`, `yahoo`, `proofpoint`, ...), empty when the
 *   server matched no provider or no server was asked (issue 14). A duplicate carries its first
 *   occurrence's provider (same address, same server).
 */
export const TRAILING_COLUMNS = ['hygiene_provider'] as const;

export const HYGIENE_COLUMNS = [...VERDICT_COLUMNS, ...ROW_COLUMNS, ...TRAILING_COLUMNS] as const;

/** A provider slug as written in hygiene_provider: lower-case letters, digits, '.', '_' and '-'; anything else reads as unknown. */
export function providerCell(provider: string | undefined): string {
  return provider !== undefined && /^[a-z0-9][a-z0-9._-]{0,62}$/.test(provider) ? provider : '';
}

/** The verdict's cells, in VERDICT_COLUMNS order. */
export function verdictCells(verdict: Verdict, annotation: Annotation = { flags: '' }): string[] {
  const suggestion = annotation.suggestion ?? verdict.suggestion ?? '';
  return [verdict.status, verdict.reason, verdict.detail, verdict.smtpReply ?? '', verdict.mx ?? '', suggestion, verdict.checkedAt, annotation.flags];
}

/** The row's own cells and the trailing ones, in ROW_COLUMNS then TRAILING_COLUMNS order. */
export function rowCells(check: RowCheck, verdict: Verdict): string[] {
  return [check.kind === 'address' ? check.parsed.address : '', providerCell(verdict.provider)];
}
