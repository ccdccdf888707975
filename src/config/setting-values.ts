/**
 * One rule per setting ("parse, don't validate", STYLE.md): each function here is the only check of
 * one kind of value, and returns the typed value the code that uses it consumes. loadConfig calls
 * them on what the user set, and the SMTP command builders call the same functions on what they put
 * on the wire, so no value can pass the configuration and then fail at send time (a HELO name of
 * "vm" once did: one regex accepted it, the other refused it).
 *
 * Pure: imports nothing of ours. A problem is a sentence fragment ("is not ..."); loadConfig adds the
 * variable's name and a valid example.
 */
import { isIPv4, isIPv6 } from 'node:net';

declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** An EHLO/HELO name: a fully qualified host name or an address literal (RFC 5321 §4.1.1.1, §4.1.3). */
export type HeloName = Branded<string, 'HeloName'>;
/** Our envelope sender: a plain address at a fully qualified domain (RFC 5321 §4.1.2 Mailbox). */
export type MailFrom = Branded<string, 'MailFrom'>;
/** A TCP/UDP port, 1-65535 (0 only where "any free port" makes sense). */
export type Port = Branded<number, 'Port'>;
/** A literal IPv4 or IPv6 address (what `net.connect({ localAddress })` accepts). */
export type IpAddress = Branded<string, 'IpAddress'>;
/** A DNS server as `Resolver.setServers()` accepts it: `ip`, `ip:port` or `[ipv6]:port`. */
export type DnsServer = Branded<string, 'DnsServer'>;
/** A redis:// or rediss:// URL. */
export type RedisUrl = Branded<string, 'RedisUrl'>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** RFC 1035 §2.3.1 / RFC 5321 §4.1.2 Let-dig-hyp label. */
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** atext (RFC 5322 §3.2.3) as used by RFC 5321 Dot-string. */
const ATEXT_ASCII = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const DOT_STRING_ASCII = new RegExp(`^[${ATEXT_ASCII}]+(?:\\.[${ATEXT_ASCII}]+)*$`);
/** RFC 6531 §3.3: atext extended with any non-ASCII UTF-8 character. */
const DOT_STRING_UTF8 = new RegExp(`^[\\u0080-\\u{10FFFF}${ATEXT_ASCII}]+(?:\\.[\\u0080-\\u{10FFFF}${ATEXT_ASCII}]+)*$`, 'u');
/** RFC 5321 §4.1.2 Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) or quoted-pairSMTP. */
const QUOTED_STRING_ASCII = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const QUOTED_STRING_UTF8 = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
/** Names that never identify a host to the outside world, whatever the local resolver says. */
const LOCAL_ONLY = /(?:^|\.)(?:localhost|localdomain)$/i;
/** RFC 5321 §4.5.3.1.1 and §4.5.3.1.3 (minus the brackets). */
const MAX_LOCAL_PART = 64;
const MAX_ADDRESS = 254;

/** One Let-dig-hyp label of a host name. */
export function isLdhLabel(label: string): boolean {
  return LDH_LABEL.test(label);
}

/** An RFC 5321 address literal: [192.0.2.1] or [IPv6:2001:db8::1]. */
export function isAddressLiteral(text: string): boolean {
  const inner = /^\[(.*)\]$/.exec(text)?.[1];
  if (inner === undefined) return false;
  if (inner.toLowerCase().startsWith('ipv6:')) return isIPv6(inner.slice(5));
  return isIPv4(inner);
}

/**
 * A fully qualified host name: at least two LDH labels, at most 253 characters, a top-level label
 * that is not all digits (so "1.2.3.4" is not taken for a name), and not localhost or *.localdomain.
 * Returns the problem, or null.
 */
export function fqdnProblem(name: string): string | null {
  if (name === '') return 'is empty';
  if (name.length > 253) return 'is longer than 253 characters';
  const labels = name.split('.');
  if (!labels.every((label) => LDH_LABEL.test(label))) return 'is not a host name (letters, digits and hyphens between dots)';
  if (labels.length < 2) return 'is a single-label name, not a fully qualified domain name';
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return 'is not a host name (it ends in a number)';
  if (LOCAL_ONLY.test(name)) return 'is a local-only name that no mail server can check';
  return null;
}

/**
 * EHLO/HELO name (RFC 5321 §4.1.1.1): a fully qualified host name or an address literal. A bare
 * single-label host name ("vm") and localhost are refused: Postfix's reject_non_fqdn_helo_hostname
 * and most receivers refuse or tarpit them (SMTP-FACTS: the EHLO name should be an FQDN whose PTR matches).
 */
export function parseHeloName(text: string): Parsed<HeloName> {
  if (typeof text !== 'string') return bad('is not text');
  if (isAddressLiteral(text)) return ok(text as HeloName);
  if (text.startsWith('[')) return bad('is not a valid address literal like [192.0.2.1]');
  const problem = fqdnProblem(text);
  return problem === null ? ok(text as HeloName) : bad(problem);
}

/** A local part SMTP can carry (RFC 5321 §4.1.2 Dot-string or Quoted-string; RFC 6531 with allowUtf8). */
export function isSmtpLocalPart(local: string, allowUtf8: boolean): boolean {
  if (local.startsWith('"')) return (allowUtf8 ? QUOTED_STRING_UTF8 : QUOTED_STRING_ASCII).test(local);
  return (allowUtf8 ? DOT_STRING_UTF8 : DOT_STRING_ASCII).test(local);
}

/**
 * Our envelope sender: local@fully.qualified.domain, a local part SMTP can carry, at most 254 bytes.
 * ASCII unless allowUtf8 (only for a transaction with SMTPUTF8, RFC 6531 §3.4): a configured sender
 * must work with every server, so the configuration never allows non-ASCII. No address literals
 * and no local-only domains: receivers check the sender's domain (Postfix reject_non_fqdn_sender,
 * reject_unknown_sender_domain), so `verify@localhost` would be refused at MAIL FROM.
 */
export function parseMailFrom(text: string, options: { allowUtf8?: boolean } = {}): Parsed<MailFrom> {
  if (typeof text !== 'string') return bad('is not text');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) return bad('contains control characters');
  if (/[<>\s]/.test(text)) return bad('must be a plain address without spaces or angle brackets');
  if (Buffer.byteLength(text, 'utf8') > MAX_ADDRESS) return bad(`is longer than ${MAX_ADDRESS} bytes`);
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return bad('is not an address like name@example.com');
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!options.allowUtf8 && /[^\x00-\x7f]/.test(text)) return bad('has non-ASCII characters (not every server accepts them)');
  if (Buffer.byteLength(local, 'utf8') > MAX_LOCAL_PART) return bad(`has a local part longer than ${MAX_LOCAL_PART} bytes`);
  if (!isSmtpLocalPart(local, options.allowUtf8 === true)) return bad('has a local part SMTP does not allow');
  const problem = fqdnProblem(domain);
  if (problem !== null) return bad(`has a domain that ${problem}`);
  return ok(text as MailFrom);
}

/** A whole number in [min, 65535]; min 0 allows "any free port". */
export function parsePort(text: string, options: { allowZero?: boolean } = {}): Parsed<Port> {
  const trimmed = String(text).trim();
  if (!/^\d{1,5}$/.test(trimmed)) return bad('is not a port number');
  const port = Number(trimmed);
  const min = options.allowZero ? 0 : 1;
  if (port < min || port > 65_535) return bad(`must be between ${min} and 65535`);
  return ok(port as Port);
}

/** A literal IPv4 or IPv6 address (no host names: a bind address must be one of ours). */
export function parseIpAddress(text: string): Parsed<IpAddress> {
  const trimmed = String(text).trim();
  return isIPv4(trimmed) || isIPv6(trimmed) ? ok(trimmed as IpAddress) : bad('is not an IPv4 or IPv6 address');
}

/**
 * One DNS server: `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`. Host names are refused: the resolver
 * cannot resolve the name of its own server (c-ares' setServers throws on them).
 */
export function parseDnsServer(text: string): Parsed<DnsServer> {
  const trimmed = String(text).trim();
  if (isIPv4(trimmed) || isIPv6(trimmed)) return ok(trimmed as DnsServer);
  const match = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/i.exec(trimmed);
  const ip = match?.[1] ?? match?.[2];
  if (!match || ip === undefined || !(match[1] !== undefined ? isIPv6(ip) : isIPv4(ip))) {
    return bad('is not an IP address with an optional port (1.1.1.1, 1.1.1.1:53, [2606:4700:4700::1111]:53)');
  }
  if (match[3] !== undefined && !parsePort(match[3]).ok) return bad('has a port that is not between 1 and 65535');
  return ok(trimmed as DnsServer);
}

/** A redis:// or rediss:// URL that the URL parser accepts. */
export function parseRedisUrl(text: string): Parsed<RedisUrl> {
  if (!/^rediss?:\/\//i.test(text)) return bad('must start with redis:// or rediss://');
  try {
    const url = new URL(text);
    if (url.hostname === '') return bad('has no host');
    if (url.port !== '' && !parsePort(url.port).ok) return bad('has a port that is not between 1 and 65535');
  } catch {
    return bad('is not a valid URL');
  }
  return ok(text as RedisUrl);
}

/** A host name (one label allowed: this is a listen address, not a name others resolve) or an IP. */
export function parseListenHost(text: string): Parsed<string> {
  const trimmed = String(text).trim();
  if (isIPv4(trimmed) || isIPv6(trimmed)) return ok(trimmed);
  const labels = trimmed.split('.');
  return trimmed.length > 0 && trimmed.length <= 253 && labels.every((l) => LDH_LABEL.test(l)) ? ok(trimmed) : bad('is not a host name or IP address');
}

/** An outbound identity's id (HYGIENE_SMTP_PROXY "#id=", HYGIENE_IDENTITIES_FILE, a provider's "identities"). */
export type IdentityId = Branded<string, 'IdentityId'>;

const IDENTITY_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Lower-case letters, digits, "-", "_" and "." (a stable name: per-identity limits and figures are keyed by it). */
export function parseIdentityId(text: string): Parsed<IdentityId> {
  return typeof text === 'string' && IDENTITY_ID.test(text) ? ok(text as IdentityId) : bad('is not an id of lower-case letters, digits, "-", "_" or "." (at most 64, starting with a letter or digit)');
}

/**
 * A SOCKS5 proxy's user name and password (RFC 1929). They never reach a log, a report or a message:
 * JSON.stringify and util.inspect (pino, console) show "[redacted]", and private fields are not
 * enumerable, so spreading or freezing a config object carries no copy of them.
 */
export class ProxyCredentials {
  readonly #username: string;
  readonly #password: string;

  constructor(username: string, password: string) {
    this.#username = username;
    this.#password = password;
  }

  get username(): string {
    return this.#username;
  }

  get password(): string {
    return this.#password;
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'ProxyCredentials [redacted]';
  }
}

/** A SOCKS5 proxy: where it listens, our credentials for it, and how to show it (never with the credentials). */
export interface SocksProxyUrl {
  /** An IP address or a host name (looked up by the system resolver when connecting to the proxy). */
  host: string;
  port: Port;
  credentials: ProxyCredentials | undefined;
  /** socks5://host:port, or socks5://***@host:port when it has credentials. */
  display: string;
}

/** RFC 1928 §3: 1080 is the port IANA assigned to SOCKS. */
export const SOCKS_DEFAULT_PORT = 1080;
/** RFC 1929 §2: ULEN and PLEN are one byte each, at least 1. */
const MAX_SOCKS_CREDENTIAL_BYTES = 255;

/** The text with the user name and password of a URL replaced by "***" (for problems that quote it). */
export function withoutCredentials(text: string): string {
  return String(text).replace(/^([a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/**
 * A SOCKS5 proxy URL: `socks5://[user:password@]host[:port]` (port 1080 when left out; IPv6 in
 * brackets). User name and password are percent-decoded (write %40 for "@", %3A for ":", %23 for "#",
 * %2C for ","). `socks5h://` is refused: it only differs by asking the proxy to resolve host names,
 * and we never give it one: MX hosts and their addresses are resolved by our own resolver and the
 * proxy is asked to connect to an address. A problem never quotes the credentials.
 */
export function parseSocksProxyUrl(text: string): Parsed<SocksProxyUrl> {
  const trimmed = String(text).trim();
  const scheme = /^([a-z0-9+.-]+):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'socks5h') {
    return bad('uses socks5h://, which asks the proxy to resolve host names; this program resolves MX hosts itself and connects through the proxy by address, so write socks5://');
  }
  if (scheme !== 'socks5') return bad('must be a SOCKS5 proxy URL like socks5://host:1080 or socks5://user:password@host:1080 (SOCKS4 and HTTP proxies are not supported)');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return bad('is not a valid URL (a user name or password with "@", ":", "/", "#" or "," must be percent-encoded: %40 %3A %2F %23 %2C)');
  }
  if (url.hash !== '' || trimmed.includes('#')) return bad('has a "#" (in a password write it as %23)');
  if (url.search !== '' || (url.pathname !== '' && url.pathname !== '/')) return bad('must be socks5://[user:password@]host[:port] with nothing after the port');
  const bracketed = /^\[(.*)\]$/.exec(url.hostname)?.[1];
  const host = bracketed ?? url.hostname;
  if (bracketed !== undefined ? !isIPv6(host) : !(isIPv4(host) || host.split('.').every((label) => LDH_LABEL.test(label)))) {
    return bad('has no valid proxy host (an IP address, [IPv6] or a host name)');
  }
  let port = SOCKS_DEFAULT_PORT as Port;
  if (url.port !== '') {
    const parsed = parsePort(url.port);
    if (!parsed.ok) return bad(`has a port that ${parsed.problem}`);
    port = parsed.value;
  }
  let credentials: ProxyCredentials | undefined;
  if (url.username !== '' || url.password !== '') {
    let username: string;
    let password: string;
    try {
      username = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      return bad('has a user name or password with a broken %-escape');
    }
    if (username === '' || password === '') return bad('needs both a user name and a password (socks5://user:password@host:port), or neither');
    if (Buffer.byteLength(username) > MAX_SOCKS_CREDENTIAL_BYTES || Buffer.byteLength(password) > MAX_SOCKS_CREDENTIAL_BYTES) {
      return bad(`has a user name or password longer than ${MAX_SOCKS_CREDENTIAL_BYTES} bytes (RFC 1929)`);
    }
    credentials = new ProxyCredentials(username, password);
  }
  const shownHost = bracketed !== undefined ? `[${host}]` : host.toLowerCase();
  return ok({ host: bracketed !== undefined ? host : host.toLowerCase(), port, credentials, display: `socks5://${credentials ? '***@' : ''}${shownHost}:${port}` });
}
