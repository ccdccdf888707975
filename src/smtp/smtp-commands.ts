/**
 * SMTP command builders. Pure: each returns one command line WITHOUT the trailing CRLF (the session
 * adds it). This is the boundary where addresses and names from input files reach the wire, so they
 * are checked here, once (STYLE.md): anything that could smuggle a second command (CR, LF, NUL),
 * break the path syntax (`<`, `>`, whitespace) or is not a plausible address throws
 * HygieneError('SMTP_UNSAFE_INPUT').
 *
 * There is deliberately no builder for DATA or BDAT: this program never sends a message.
 * `assertSafeCommandLine` is the session's last guard on its write path.
 */
import { isAddressLiteral, isLdhLabel, isSmtpLocalPart, parseHeloName, parseMailFrom, type HeloName, type MailFrom } from '../config/setting-values.ts';
import { HygieneError } from '../errors.ts';

/** RFC 5321 §4.5.3.1.3 path limit is 256 including the brackets; RFC 3696 errata: 254 for the address. */
export const MAX_ADDRESS_LENGTH = 254;
/** RFC 5321 §4.5.3.1.1. */
export const MAX_LOCAL_PART_LENGTH = 64;

export interface MailFromOptions {
  /** Append the SMTPUTF8 parameter (RFC 6531 §3.4); required for a non-ASCII sender address. */
  smtputf8?: boolean;
}

/** The name is checked by parseHeloName, the same rule loadConfig applies to HYGIENE_HELO_NAME. */
export function ehlo(name: HeloName | string): string {
  return `EHLO ${checkHeloName(name)}`;
}

export function helo(name: HeloName | string): string {
  return `HELO ${checkHeloName(name)}`;
}

/**
 * `MAIL FROM:<address>`; an empty address gives the null reverse-path `<>` (RFC 5321 §4.5.5). The
 * address is checked by parseMailFrom, the rule loadConfig applies to HYGIENE_MAIL_FROM (non-ASCII
 * only inside an SMTPUTF8 transaction).
 */
export function mailFrom(address: MailFrom | string, options: MailFromOptions = {}): string {
  const smtputf8 = options.smtputf8 === true;
  let path = '';
  if (address !== '') {
    const parsed = parseMailFrom(address, { allowUtf8: smtputf8 });
    if (!parsed.ok) throw unsafe(`The sender address ${parsed.problem}.`, String(address));
    path = parsed.value;
  }
  return `MAIL FROM:<${path}>${smtputf8 ? ' SMTPUTF8' : ''}`;
}

/**
 * `RCPT TO:<address>`. Non-ASCII is allowed here; whether the transaction may carry it is decided
 * by the MAIL FROM ... SMTPUTF8 of the same transaction (RFC 6531 §3.4), which the engine controls.
 */
export function rcptTo(address: string): string {
  return `RCPT TO:<${checkAddress(address, { allowUtf8: true })}>`;
}

export function rset(): string {
  return 'RSET';
}

export function quit(): string {
  return 'QUIT';
}

export function starttls(): string {
  return 'STARTTLS';
}

/** The verb of a command line, upper-case ("MAIL", "RCPT", ...). */
export function commandVerb(line: string): string {
  const verb = /^[A-Za-z]+/.exec(line)?.[0] ?? '';
  return verb.toUpperCase();
}

/**
 * Last guard before bytes reach the socket: one line, no CR/LF/NUL, never DATA or BDAT
 * (case-insensitive, also with leading whitespace). Throws HygieneError('SMTP_UNSAFE_INPUT').
 */
export function assertSafeCommandLine(line: string): void {
  if (/[\r\n\0]/.test(line)) {
    throw unsafe('A command line contains CR, LF or NUL and was not sent.', line);
  }
  if (/^\s*(DATA|BDAT)\b/i.test(line)) {
    throw unsafe('This program never sends DATA or BDAT; the command was not sent.', line);
  }
  if (line.length === 0 || line.length > 512 - 2) {
    // RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    throw unsafe('A command line is empty or longer than 510 characters and was not sent.', line);
  }
}

// ---------------------------------------------------------------------------------------------

/** SMTP verbs; an "address" that starts with one followed by space/colon is an injection attempt. */
const VERB_TRICK = /^\s*(HELO|EHLO|MAIL|RCPT|DATA|BDAT|RSET|VRFY|EXPN|HELP|NOOP|QUIT|STARTTLS|AUTH|TURN|ETRN)(\s|:|$)/i;
const UTF8_LABEL = /^[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]*[\p{L}\p{N}\p{M}])?$/u;

function checkAddress(address: string, { allowUtf8 }: { allowUtf8: boolean }): string {
  if (typeof address !== 'string') throw unsafe('An address is not a string.', String(address));
  // Control characters first (C0, DEL, C1): CR/LF/NUL are the command-injection vectors.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(address)) {
    throw unsafe('The address contains control characters (CR, LF, NUL or similar).', address);
  }
  if (/[<>]/.test(address)) throw unsafe('The address contains "<" or ">".', address);
  if (Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_LENGTH) {
    throw unsafe(`The address is longer than ${MAX_ADDRESS_LENGTH} bytes.`, address);
  }
  if (VERB_TRICK.test(address)) throw unsafe('The address starts with an SMTP command.', address);
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw unsafe('The address has no local part or no domain.', address);
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!allowUtf8 && /[^\x00-\x7f]/.test(address)) {
    throw unsafe('The address has non-ASCII characters, which need SMTPUTF8.', address);
  }
  if (Buffer.byteLength(local, 'utf8') > MAX_LOCAL_PART_LENGTH) {
    throw unsafe(`The local part is longer than ${MAX_LOCAL_PART_LENGTH} bytes.`, address);
  }
  // Whitespace is only possible inside a quoted local part; isSmtpLocalPart enforces that.
  if (!isSmtpLocalPart(local, allowUtf8)) throw unsafe('The local part has characters SMTP does not allow (whitespace outside quotes?).', address);
  if (!isDomainOrLiteral(domain, allowUtf8)) throw unsafe('The domain is not a valid host name or address literal.', address);
  return address;
}

function checkHeloName(name: string): HeloName {
  const parsed = parseHeloName(name);
  if (!parsed.ok) {
    throw unsafe(`The EHLO/HELO name ${parsed.problem}: it must be a fully qualified host name or an address literal like [192.0.2.1].`, String(name));
  }
  return parsed.value;
}

/** A recipient's domain: a host name (U-labels with allowUtf8) or an RFC 5321 §4.1.3 address literal. */
function isDomainOrLiteral(domain: string, allowUtf8: boolean): boolean {
  if (domain.startsWith('[')) return isAddressLiteral(domain);
  if (domain.length === 0 || domain.length > 253) return false;
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  return labels.every((label) => isLdhLabel(label) || (allowUtf8 && /[^\x00-\x7f]/.test(label) && UTF8_LABEL.test(label)));
}

function unsafe(message: string, input: string): HygieneError {
  // JSON.stringify escapes control characters, so the context is safe to log.
  return new HygieneError('SMTP_UNSAFE_INPUT', message, { input: JSON.stringify(input.slice(0, 300)) });
}
