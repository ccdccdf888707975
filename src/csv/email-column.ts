/**
 * Finds the column that holds the email addresses, and whether the first row is a header.
 *
 * Order of precedence: the user's override (a header name, or a 1-based column number), then a
 * header name from SYNONYMS, then the content (the column where most non-empty sample cells parse
 * as addresses, at least MIN_CONTENT_SHARE of them).
 *
 * Header or not: if a cell of the first row parses as an email address in the chosen column, the
 * file has no header (it starts with data), so columns are called column_1..N in messages and the
 * output files get no header row either. Otherwise the first row is the header.
 */
import { parseEmailAddress } from '../domain/email-address.ts';
import { HygieneError } from '../errors.ts';

export interface EmailColumn {
  /** 0-based column index. */
  index: number;
  /** The header name, or `column_N` (1-based) when the file has no header. */
  name: string;
  by: 'header' | 'content' | 'override';
  /** False when the first row is data. */
  hasHeader: boolean;
  /** Header names as used in messages: the first row, or column_1..N. */
  columnNames: string[];
}

/** Minimum share of non-empty sample cells that must parse as addresses to pick a column by content. */
export const MIN_CONTENT_SHARE = 0.5;

/**
 * Header names meaning "email", compared after normalise(). Ordered by preference: an exact
 * "email" beats "work email", which beats "email 2" (see rankHeader).
 */
const PRIMARY = ['email', 'emailaddress', 'mail', 'eaddress', 'emailid', 'mailaddress', 'courriel', 'adressecourriel', 'adresseemail', 'adressemail', 'correo', 'correoelectronico', 'emailadresse', 'mailadresse', 'posteelettronica', 'indirizzoemail', 'epost', 'epostadresse', 'sahkoposti'];
const QUALIFIED = ['workemail', 'businessemail', 'primaryemail', 'emailprimary', 'contactemail', 'personalemail', 'email1', 'emailaddress1', 'email1address', 'emailwork', 'officeemail', 'companyemail', 'useremail', 'customeremail'];
const SECONDARY = ['email2', 'email3', 'emailaddress2', 'emailaddress3', 'secondaryemail', 'alternateemail', 'alternativeemail', 'otheremail', 'email2address', 'homeemail'];

/** Lower-case, accents removed, everything but letters and digits removed: "E-mail Address" → "emailaddress". */
export function normaliseHeader(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

/** Lower is better; undefined when the header does not name an email column. */
function rankHeader(name: string): number | undefined {
  const n = normaliseHeader(name);
  if (n === '') return undefined;
  const primary = PRIMARY.indexOf(n);
  if (primary !== -1) return primary;
  if (QUALIFIED.includes(n)) return 100;
  if (SECONDARY.includes(n)) return 200;
  // Other "email"-something headers, but not things like "email opt-in" or "email bounced".
  if (/^e?mail(address)?\d*$/.test(n) || /(^|[a-z])e?mailaddress$/.test(n) || /email$/.test(n)) return 300;
  return undefined;
}

function looksLikeAddress(cell: string | undefined): boolean {
  return cell !== undefined && parseEmailAddress(cell).ok;
}

function isBlank(cell: string | undefined): boolean {
  return cell === undefined || cell.trim() === '';
}

/**
 * @param firstRow the first record of the file (header or data)
 * @param sampleRows the records that follow it (a few hundred are plenty)
 * @param override `--email-column`: a header name (case/space/punctuation-insensitive) or a 1-based number
 */
export function findEmailColumn(firstRow: string[], sampleRows: string[][], override?: string): EmailColumn {
  const width = Math.max(firstRow.length, ...sampleRows.map((r) => r.length));
  const genericNames = Array.from({ length: width }, (_, i) => `column_${i + 1}`);

  const firstRowHasAddress = firstRow.some((cell) => looksLikeAddress(cell));
  const result = (index: number, by: EmailColumn['by']): EmailColumn => {
    // A header row has no address in it; if the first row holds one in the chosen column, it is data.
    const hasHeader = !looksLikeAddress(firstRow[index]);
    const columnNames = hasHeader ? genericNames.map((g, i) => firstRow[i] ?? g) : genericNames;
    return { index, name: columnNames[index] ?? `column_${index + 1}`, by, hasHeader, columnNames };
  };

  if (override !== undefined && override.trim() !== '') return result(resolveOverride(override.trim(), firstRow, width), 'override');

  let best: { index: number; rank: number } | undefined;
  firstRow.forEach((name, index) => {
    const rank = rankHeader(name);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { index, rank };
  });
  if (best !== undefined) return result(best.index, 'header');

  // By content: the first row counts too when it is data.
  const rows = firstRowHasAddress ? [firstRow, ...sampleRows] : sampleRows;
  let bestShare = 0;
  let bestIndex = -1;
  for (let i = 0; i < width; i++) {
    const share = contentShare(rows, i);
    if (share > bestShare) {
      bestShare = share;
      bestIndex = i;
    }
  }
  if (bestIndex !== -1 && bestShare >= MIN_CONTENT_SHARE) return result(bestIndex, 'content');

  const names = firstRowHasAddress ? genericNames : firstRow;
  throw new HygieneError(
    'NO_EMAIL_COLUMN',
    `No email column found. The columns are: ${names.map((n) => JSON.stringify(n)).join(', ')}. ` +
      'Name the column with --email-column "<header name>" or give its number, e.g. --email-column 3.',
    { columns: names },
  );
}

/** Share of non-empty cells in column `index` that parse as addresses. */
function contentShare(rows: string[][], index: number): number {
  let filled = 0;
  let good = 0;
  for (const row of rows) {
    const cell = row[index];
    if (isBlank(cell)) continue;
    filled++;
    if (looksLikeAddress(cell)) good++;
  }
  return filled === 0 ? 0 : good / filled;
}

function resolveOverride(override: string, firstRow: string[], width: number): number {
  const wanted = normaliseHeader(override);
  const exact = firstRow.findIndex((name) => name.trim().toLowerCase() === override.toLowerCase());
  if (exact !== -1) return exact;
  const loose = wanted === '' ? -1 : firstRow.findIndex((name) => normaliseHeader(name) === wanted);
  if (loose !== -1) return loose;
  if (/^\d+$/.test(override)) {
    const n = Number(override);
    if (n >= 1 && n <= width) return n - 1;
  }
  throw new HygieneError(
    'EMAIL_COLUMN_NOT_FOUND',
    `The email column "${override}" was not found. The columns are: ${firstRow.map((n) => JSON.stringify(n)).join(', ')}` +
      ` (or a number from 1 to ${width}).`,
    { override, columns: firstRow },
  );
}
