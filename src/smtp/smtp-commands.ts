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
import { isIPv4, isIPv6 } from 'node:net';
import { HygieneError } from '../errors.ts';

/** RFC 5321 §4.5.3.1.3 path limit is 256 including the brackets; RFC 3696 errata: 254 for the address. */
export const MAX_ADDRESS_LENGTH = 254;
/** RFC 5321 §4.5.3.1.1. */
export const MAX_LOCAL_PART_LENGTH = 64;

export interface MailFromOptions {
  /** Append the SMTPUTF8 parameter (RFC 6531 §3.4); required for a non-ASCII sender address. */
  smtputf8?: boolean;
}

export function ehlo(name: string): string {
  return `EHLO ${checkHeloName(name)}`;
}

export function helo(name: string): string {
  return `HELO ${checkHeloName(name)}`;
}

/** `MAIL FROM:<address>`; an empty address gives the null reverse-path `<>` (RFC 5321 §4.5.5). */
export function mailFrom(address: string, options: MailFromOptions = {}): string {
  const smtputf8 = options.smtputf8 === true;
  const path = address === '' ? '' : checkAddress(address, { allowUtf8: smtputf8 });
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
/** atext (RFC 5322 §3.2.3) as used by RFC 5321 Dot-string. */
const ATEXT_ASCII = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const DOT_STRING_ASCII = new RegExp(`^[${ATEXT_ASCII}]+(?:\\.[${ATEXT_ASCII}]+)*$`);
/** RFC 6531 §3.3: atext extended with any non-ASCII UTF-8 character. */
const DOT_STRING_UTF8 = new RegExp(`^[\\u0080-\\u{10FFFF}${ATEXT_ASCII}]+(?:\\.[\\u0080-\\u{10FFFF}${ATEXT_ASCII}]+)*$`, 'u');
/** RFC 5321 §4.1.2 Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) or quoted-pairSMTP. */
const QUOTED_STRING_ASCII = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const QUOTED_STRING_UTF8 = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
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
  const quoted = local.startsWith('"');
  const localOk = quoted
    ? (allowUtf8 ? QUOTED_STRING_UTF8 : QUOTED_STRING_ASCII).test(local)
    : (allowUtf8 ? DOT_STRING_UTF8 : DOT_STRING_ASCII).test(local);
  // Whitespace is only possible inside a quoted local part; the patterns above enforce that.
  if (!localOk) throw unsafe('The local part has characters SMTP does not allow (whitespace outside quotes?).', address);
  if (!isDomainOrLiteral(domain, allowUtf8)) throw unsafe('The domain is not a valid host name or address literal.', address);
  return address;
}

function checkHeloName(name: string): string {
  if (typeof name !== 'string' || !isDomainOrLiteral(name, false)) {
    throw unsafe('The EHLO/HELO name must be a host name or an address literal like [192.0.2.1].', String(name));
  }
  return name;
}

function isDomainOrLiteral(domain: string, allowUtf8: boolean): boolean {
  if (domain.startsWith('[')) {
    // RFC 5321 §4.1.3 address literals.
    const inner = /^\[(.*)\]$/.exec(domain)?.[1];
    if (inner === undefined) return false;
    if (inner.toLowerCase().startsWith('ipv6:')) return isIPv6(inner.slice(5));
    return isIPv4(inner);
  }
  if (domain.length === 0 || domain.length > 253) return false;
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  return labels.every((label) => LDH_LABEL.test(label) || (allowUtf8 && /[^\x00-\x7f]/.test(label) && UTF8_LABEL.test(label)));
}

function unsafe(message: string, input: string): HygieneError {
  // JSON.stringify escapes control characters, so the context is safe to log.
  return new HygieneError('SMTP_UNSAFE_INPUT', message, { input: JSON.stringify(input.slice(0, 300)) });
}
