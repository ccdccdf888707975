/**
 * Email address parsing and normalising. Pure domain code: imports nothing of ours.
 *
 * This is the boundary where an address from a CSV cell becomes something we may later put on an
 * SMTP command line (`RCPT TO:<...>`), so it is strict about anything that could break the
 * protocol: CR, LF, NUL, other control characters and angle brackets are refused outright
 * (RFC 5321 §4.1.2 gives no way to carry them in a Mailbox).
 *
 * What is accepted (and what is not):
 * - Surrounding white space and invisible format characters (TAB, NBSP, U+200B zero-width space,
 *   U+2060 word joiner, U+FEFF BOM...) are trimmed; CR, LF and other control characters never are.
 * - One `mailto:` prefix is stripped (case-insensitive).
 * - The display form `Name <x@d>` and a bare `<x@d>` are accepted: the address is what is inside
 *   the brackets. Outlook and many CRMs export contacts that way, and the name is not part of
 *   the address. Anything else with `<` or `>` is invalid.
 * - Local part: dot-atom of RFC 5322 §3.2.3 atext, or a quoted-string (§3.2.4); non-ASCII
 *   characters are allowed (RFC 6531/6532) but flagged with `asciiLocal: false`, because only
 *   servers announcing SMTPUTF8 can be asked about such a mailbox. At most 64 octets
 *   (RFC 5321 §4.5.3.1.1).
 * - Domain: a host name, IDNs converted to the lower-case A-label form (`bücher.test` →
 *   `xn--bcher-kva.test`); labels of 1–63 letters, digits and hyphens, not starting or ending with
 *   a hyphen (RFC 1035 §2.3.1, RFC 5321 §4.1.2), at most 253 octets, at least two labels, and a
 *   top-level label that is not all digits (RFC 3696 §2). Address literals (`[1.2.3.4]`,
 *   RFC 5321 §4.1.3) are refused: we do not probe IP addresses.
 * - The whole address is at most 254 octets (RFC 5321 §4.5.3.1.3 path limit minus the brackets).
 */
import { domainToASCII } from 'node:url';

export type ParsedAddress =
  | {
      ok: true;
      /** The cell as it was read. */
      original: string;
      /** local + '@' + lower-case A-label domain. The local part keeps its case (RFC 5321 §2.4). */
      address: string;
      /** `address` lower-cased: the de-duplication key. */
      key: string;
      local: string;
      /** Lower-case A-label. */
      domain: string;
      /** False when the local part has non-ASCII characters (needs SMTPUTF8, RFC 6531). */
      asciiLocal: boolean;
    }
  | { ok: false; original: string; reason: 'missing_email' | 'invalid_syntax'; detail: string };

const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254;
const MAX_DOMAIN_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;

/**
 * What we trim from the ends, as pasted from spreadsheets, web pages and word processors: TAB, every
 * Unicode space separator (Zs: space, NBSP, U+2000-U+200A, U+202F, U+205F, U+3000...), the line and
 * paragraph separators U+2028/U+2029, and the invisible format characters (Cf: soft hyphen, U+200B
 * zero-width space, U+200C/D joiners, LRM/RLM and the bidi marks, U+2060 word joiner, U+FEFF BOM,
 * U+180E...). Never CR, LF, NUL or another control character: a trailing "\r\n" is what an SMTP
 * command injection looks like, so it is refused, never quietly trimmed away.
 */
const EDGE_SPACE = /^[\t\p{Zs}\u2028\u2029\p{Cf}]+|[\t\p{Zs}\u2028\u2029\p{Cf}]+$/gu;
/** C0 controls (incl. TAB, CR, LF, NUL), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** RFC 5322 §3.2.3 atext, plus any non-ASCII character (RFC 6532 §3.2 UTF8-non-ascii). */
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+$/u;
const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const MAILTO = /^mailto:/i;
/** `Display Name <addr>`: the name must not itself contain brackets. */
const DISPLAY_FORM = /^([^<>]*)<([^<>]*)>$/;

function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function invalid(original: string, detail: string): ParsedAddress {
  return { ok: false, original, reason: 'invalid_syntax', detail };
}

function describeControl(text: string): string {
  if (/[\r\n]/.test(text)) return 'It contains a line break, which is never allowed in an email address.';
  if (text.includes('\u0000')) return 'It contains a NUL character, which is never allowed in an email address.';
  if (text.includes('\t')) return 'It contains a tab character, which is not allowed in an email address.';
  return 'It contains an invisible control character, which is not allowed in an email address.';
}

/**
 * The shape of nearly every address in a real list: an ASCII dot-atom local part and an ASCII host
 * name whose labels are 1–63 letters, digits and inner hyphens, with no space, bracket, quote or
 * control character anywhere. For such a cell every rule below reduces to length checks and a
 * lower-cased domain, so it skips the general path (trims, mailto:, display form, IDNA, per-atom
 * and per-label tests), which was a quarter of each pass over a big file. Anything else, including
 * every address this pattern does not cover, takes the general path; a test checks both paths agree.
 */
const PLAIN_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;

export function parseEmailAddress(cell: string): ParsedAddress {
  if (cell.length <= MAX_ADDRESS_OCTETS && PLAIN_ADDRESS.test(cell)) {
    const at = cell.lastIndexOf('@');
    const domain = cell.slice(at + 1).toLowerCase();
    const tld = domain.slice(domain.lastIndexOf('.') + 1);
    // ASCII only, so characters are octets.
    if (at <= MAX_LOCAL_OCTETS && domain.length <= MAX_DOMAIN_OCTETS && !ALL_DIGITS.test(tld)) {
      const local = cell.slice(0, at);
      // Usually the domain is lower-case already: the cell is the address (no new string to build).
      const address = domain.length === cell.length - at - 1 && cell.endsWith(domain) ? cell : `${local}@${domain}`;
      return { ok: true, original: cell, address, key: address.toLowerCase(), local, domain, asciiLocal: true };
    }
  }
  return parseGeneralAddress(cell);
}

/** The general path of parseEmailAddress: every form and every rule. Exported for the test that
 *  checks the plain-address shortcut gives the same answers. */
export function parseGeneralAddress(cell: string): ParsedAddress {
  const original = cell;
  // Only TABs, spaces and invisible format characters are trimmed; control characters are checked on
  // what remains, so a trailing "\r\n" (an SMTP command injection) is refused, never trimmed away.
  let text = cell.replace(EDGE_SPACE, '');
  if (CONTROL.test(text)) return invalid(original, describeControl(text));
  if (text === '') return { ok: false, original, reason: 'missing_email', detail: 'The email cell is empty.' };

  text = text.replace(MAILTO, '').replace(EDGE_SPACE, '');
  const display = DISPLAY_FORM.exec(text);
  if (display) text = (display[2] ?? '').replace(EDGE_SPACE, '');
  if (text === '') return { ok: false, original, reason: 'missing_email', detail: 'The email cell has no address in it.' };
  if (text.includes('<') || text.includes('>')) {
    return invalid(original, 'It contains an angle bracket (< or >) that is not around the whole address.');
  }

  const at = text.lastIndexOf('@');
  if (at === -1) return invalid(original, 'There is no @ sign, so this is not an email address.');
  const localRaw = text.slice(0, at);
  const domainRaw = text.slice(at + 1);

  if (!localRaw.startsWith('"') && localRaw.includes('@') && /[\s,;]/.test(text)) {
    return invalid(original, 'The cell seems to hold more than one address; put one address per row.');
  }

  const localProblem = checkLocal(localRaw);
  if (localProblem !== null) return invalid(original, localProblem);

  const domain = toDomain(domainRaw);
  if (typeof domain !== 'string') return invalid(original, domain.problem);

  const address = `${localRaw}@${domain}`;
  if (octets(address) > MAX_ADDRESS_OCTETS) {
    return invalid(original, `The address is longer than ${MAX_ADDRESS_OCTETS} characters.`);
  }
  return {
    ok: true,
    original,
    address,
    key: address.toLowerCase(),
    local: localRaw,
    domain,
    asciiLocal: ASCII_PRINTABLE.test(localRaw),
  };
}

/** Returns a sentence describing the problem, or null when the local part is valid. */
function checkLocal(local: string): string | null {
  if (local === '') return 'There is nothing before the @ sign.';
  if (octets(local) > MAX_LOCAL_OCTETS) {
    return `The part before the @ is longer than ${MAX_LOCAL_OCTETS} characters.`;
  }
  if (local.startsWith('"')) return checkQuotedLocal(local);
  if (local.startsWith('.')) return 'The part before the @ starts with a dot.';
  if (local.endsWith('.')) return 'The part before the @ ends with a dot.';
  if (local.includes('..')) return 'The part before the @ has two dots in a row.';
  for (const atom of local.split('.')) {
    if (!ATEXT.test(atom)) {
      const bad = [...atom].find((ch) => !ATEXT.test(ch)) ?? '';
      return `The part before the @ contains a character that is not allowed: ${quoteChar(bad)}.`;
    }
  }
  return null;
}

/** RFC 5322 §3.2.4 quoted-string: qtext or quoted-pair between DQUOTEs (UTF-8 allowed, RFC 6532). */
function checkQuotedLocal(local: string): string | null {
  if (local.length < 2 || !local.endsWith('"')) return 'The quoted part before the @ has no closing quote.';
  const inner = local.slice(1, -1);
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '\\') {
      if (i === inner.length - 1) return 'The quoted part before the @ ends with a lone backslash.';
      i++;
    } else if (ch === '"') {
      return 'The quoted part before the @ contains an unescaped double quote.';
    }
  }
  return null;
}

function quoteChar(ch: string): string {
  return ch === ' ' ? 'a space' : `"${ch}"`;
}

/** Returns the lower-case A-label domain, or the problem with it. */
function toDomain(raw: string): string | { problem: string } {
  if (raw === '') return { problem: 'There is nothing after the @ sign.' };
  if (raw.startsWith('[')) {
    return { problem: 'The part after the @ is an IP address literal; only domain names can be checked.' };
  }
  if (raw.endsWith('.')) return { problem: 'The domain ends with a dot.' };
  if (raw.startsWith('.')) return { problem: 'The domain starts with a dot.' };
  if (raw.includes('..')) return { problem: 'The domain has two dots in a row.' };

  let domain = raw.toLowerCase();
  // Only internationalised names go through UTS #46; an ASCII name is checked as written, so that
  // the URL host parser cannot quietly turn "0x7f.1" into "127.0.0.1".
  if (!ASCII_PRINTABLE.test(domain)) {
    const ascii = domainToASCII(domain);
    if (ascii === '') return { problem: 'The domain is not a valid internationalised domain name.' };
    domain = ascii.toLowerCase();
  }
  if (octets(domain) > MAX_DOMAIN_OCTETS) {
    return { problem: `The domain is longer than ${MAX_DOMAIN_OCTETS} characters.` };
  }
  const labels = domain.split('.');
  if (labels.length < 2) return { problem: 'The domain has no dot; it needs at least a name and an ending such as ".com".' };
  for (const label of labels) {
    if (label === '') return { problem: 'The domain has an empty part between dots.' };
    if (label.length > MAX_LABEL_OCTETS) {
      return { problem: `A part of the domain is longer than ${MAX_LABEL_OCTETS} characters.` };
    }
    if (label.startsWith('-') || label.endsWith('-')) {
      return { problem: `The domain part "${label}" starts or ends with a hyphen.` };
    }
    if (!LABEL.test(label)) {
      const bad = [...label].find((ch) => !/[a-z0-9-]/.test(ch)) ?? '';
      return { problem: `The domain contains a character that is not allowed: ${quoteChar(bad)}.` };
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return { problem: 'The domain ends in a number, which is not a valid top-level domain.' };
  }
  return domain;
}
