/**
 * DNS blocklist (DNSBL) lookups of OUR sending address, for `hygiene doctor --ip` (issue 14): is the
 * address a mail server sees us at listed on the lists big receivers check?
 *
 * How a DNSBL is asked (RFC 5782 §2): the address, reversed, under the list's zone, type A.
 *   IPv4 192.0.2.7           → 7.2.0.192.zen.spamhaus.org
 *   IPv6 2001:db8::1         → the 32 nibbles of the full address, reversed, dot-separated, then the zone
 * An A answer in 127.0.0.0/8 means listed (the last octet says why, per list); NXDOMAIN means not
 * listed (RFC 5782 §2.1). Spamhaus answers 127.255.255.x when it refuses the *query* (a public or open
 * resolver, too many queries, a typo in the zone): that is our resolver's problem and never a listing.
 * A timeout or SERVFAIL says nothing: unknown.
 *
 * The pure parts (query names, reading answers) are separate from the lookup, which is injected (the
 * doctor passes a resolver on HYGIENE_DNS_SERVERS; tests a loopback DNS server).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Blocklist {
  /** The DNS zone queried. */
  zone: string;
  name: string;
  /** Whether the list publishes IPv6 listings (other lists are not asked about an IPv6 address). */
  ipv6: boolean;
  /** Meaning of a 127.0.0.x answer by its last octet; absent octets read as "listed". */
  codes: Readonly<Record<number, string>>;
  /** Where the zone and its return codes are documented; and where to ask for removal. */
  source: string;
  delist: string;
  note?: string;
}

/**
 * The common lists, the ones receivers' refusals name (Postfix `reject_rbl_client` setups, the
 * provider table's anyHost block signatures; PROVIDERS.md "Blocklists and sender reputation").
 */
export const COMMON_BLOCKLISTS: readonly Blocklist[] = Object.freeze<Blocklist[]>([
  {
    zone: 'zen.spamhaus.org',
    name: 'Spamhaus ZEN (SBL, CSS, XBL, PBL)',
    ipv6: true,
    codes: {
      2: 'SBL: the Spamhaus Block List (spam sources and spam operations)',
      3: 'SBL CSS: low-reputation IPs sending spam or snowshoe mail (a bad HELO or a missing PTR can land an IP here)',
      4: 'XBL: exploited or infected host (CBL data)',
      5: 'XBL: exploited or infected host',
      6: 'XBL: exploited or infected host',
      7: 'XBL: exploited or infected host',
      9: 'SBL DROP/EDROP: hijacked or criminal network',
      10: 'PBL (ISP maintained): an end-user range that should not send mail directly',
      11: 'PBL (Spamhaus maintained): an end-user range that should not send mail directly',
    },
    source: 'https://www.spamhaus.org/faqs/dnsbl-usage/ (return codes; 127.255.255.252/254/255 = query refused)',
    delist: 'https://check.spamhaus.org/',
  },
  {
    zone: 'b.barracudacentral.org',
    name: 'Barracuda Reputation Block List',
    ipv6: false,
    codes: { 2: 'listed on the Barracuda Reputation Block List' },
    source: 'https://www.barracudacentral.org/rbl/how-to-use',
    delist: 'https://www.barracudacentral.org/rbl/removal-request',
    note: 'Barracuda answers only resolvers registered with it; an unregistered resolver may get no answer (unknown).',
  },
  {
    zone: 'bl.spamcop.net',
    name: 'SpamCop Blocking List',
    ipv6: false,
    codes: { 2: 'listed on the SpamCop Blocking List (spam reports)' },
    source: 'https://www.spamcop.net/fom-serve/cache/291.html',
    delist: 'https://www.spamcop.net/bl.shtml (listings expire on their own once reports stop)',
  },
  {
    zone: 'psbl.surriel.com',
    name: 'Passive Spam Block List',
    ipv6: false,
    codes: { 2: 'listed on the PSBL (mail to spam traps)' },
    source: 'https://psbl.org/',
    delist: 'https://psbl.org/ (remove yourself with the lookup form)',
  },
  {
    zone: 'dnsbl.sorbs.net',
    name: 'SORBS aggregate',
    ipv6: false,
    codes: {
      2: 'SORBS HTTP: open HTTP proxy',
      3: 'SORBS SOCKS: open SOCKS proxy',
      4: 'SORBS MISC: open proxy',
      5: 'SORBS SMTP: open relay',
      6: 'SORBS SPAM: spam source',
      7: 'SORBS WEB: vulnerable web server',
      8: 'SORBS BLOCK: asked not to be tested',
      9: 'SORBS ZOMBIE: hijacked network',
      10: 'SORBS DUL: dynamic (end-user) range',
      11: 'SORBS BADCONF: bad mail configuration',
      12: 'SORBS NOMAIL: domain or range that sends no mail',
      14: 'SORBS NOSERVER: an IP that should not run a server',
    },
    source: 'http://www.sorbs.net/general/using.shtml',
    delist: 'http://www.sorbs.net/',
    note: 'SORBS was closed down by its owner (Proofpoint) in 2024; the zone may no longer answer, which reads as not listed or unknown.',
  },
]);

/** Why a list was not asked, or what its answer means. */
export type BlocklistStatus = 'listed' | 'not_listed' | 'refused' | 'unknown' | 'not_asked';

export interface BlocklistResult {
  zone: string;
  name: string;
  query: string;
  status: BlocklistStatus;
  /** The A records answered (listed / refused / an odd answer). */
  answers: string[];
  /** What it means, in a sentence (a listing's reasons; why refused or unknown). */
  detail: string;
  /** Where to look the address up and ask for removal (listed only). */
  delist?: string;
  ms: number;
}

/** The reversed-octet (IPv4) or reversed-nibble (IPv6) name of `ip` under `zone` (RFC 5782 §2.1, §2.4). */
export function blocklistQueryName(ip: string, zone: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.${zone}`;
  if (isIPv6(ip)) return `${ipv6Nibbles(ip).reverse().join('.')}.${zone}`;
  throw new Error(`${ip} is not an IPv4 or IPv6 address`);
}

/** The 32 hex nibbles of an IPv6 address, most significant first (`::` expanded, embedded IPv4 converted). */
export function ipv6Nibbles(ip: string): string[] {
  let text = ip.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const octets = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, -v4[1]!.length)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...fill, ...tailGroups];
  return groups.flatMap((g) => g.padStart(4, '0').split(''));
}

/** A lookup's outcome as the checker needs it: A records, or a DNS error code (ENOTFOUND, ENODATA, ETIMEOUT, ESERVFAIL, ...). */
export type BlocklistLookup = (name: string) => Promise<{ addresses: string[] } | { error: string }>;

/** Pure: what one list's answer means. */
export function readBlocklistAnswer(list: Blocklist, query: string, outcome: { addresses: string[] } | { error: string }, ms = 0): BlocklistResult {
  const base = { zone: list.zone, name: list.name, query, ms };
  if ('error' in outcome) {
    // NXDOMAIN (and NODATA: the name exists without an A record) is the DNSBL's "not listed".
    if (outcome.error === 'ENOTFOUND' || outcome.error === 'ENODATA') return { ...base, status: 'not_listed', answers: [], detail: 'Not listed.' };
    const why = outcome.error === 'ETIMEOUT' || outcome.error === 'ETIMEDOUT' ? 'no answer in time' : outcome.error === 'EREFUSED' ? 'our resolver refused the query' : `DNS error ${outcome.error}`;
    return { ...base, status: 'unknown', answers: [], detail: `Unknown: ${why}; says nothing about a listing.${list.note ? ` ${list.note}` : ''}` };
  }
  // In numeric order (127.0.0.2 before 127.0.0.10), so the reasons read from the list's lowest code up.
  const answers = [...outcome.addresses].sort((a, b) => ipOrder(a) - ipOrder(b));
  if (answers.length === 0) return { ...base, status: 'not_listed', answers, detail: 'Not listed.' };
  // 127.255.255.x: the list refused the query itself (Spamhaus: 252 typo in the zone, 254 public/open
  // resolver, 255 too many queries). That is our resolver's problem, never a listing.
  if (answers.some((a) => a.startsWith('127.255.255.'))) {
    const codes = answers.filter((a) => a.startsWith('127.255.255.'));
    const words: Record<string, string> = {
      '127.255.255.252': 'the zone name was mistyped',
      '127.255.255.254': 'the query came through a public or open resolver, which the list does not answer',
      '127.255.255.255': 'too many queries from our resolver',
    };
    return {
      ...base,
      status: 'refused',
      answers,
      detail: `Not an answer about the address: ${list.zone} refused OUR resolver's query (${codes.map((c) => `${c}: ${words[c] ?? 'query refused'}`).join('; ')}). Ask through a resolver of your own (a local unbound) in HYGIENE_DNS_SERVERS, not a public one.`,
    };
  }
  const odd = answers.filter((a) => !a.startsWith('127.'));
  if (odd.length > 0) {
    return { ...base, status: 'unknown', answers, detail: `Unknown: the answer ${odd.join(', ')} is not a DNSBL code (127.x); our resolver may rewrite NXDOMAIN answers.` };
  }
  const reasons = [...new Set(answers.map((a) => list.codes[Number(a.split('.')[3])] ?? `listed (code ${a})`))];
  return { ...base, status: 'listed', answers, detail: `LISTED: ${reasons.join('; ')}.`, delist: list.delist };
}

function ipOrder(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + (Number(octet) || 0), 0);
}

/** Asks every list about `ip` at once; a list that does not publish IPv6 listings is not asked about an IPv6 address. */
export async function checkBlocklists(ip: string, lookup: BlocklistLookup, lists: readonly Blocklist[] = COMMON_BLOCKLISTS): Promise<BlocklistResult[]> {
  const v6 = isIPv6(ip);
  return Promise.all(
    lists.map(async (list): Promise<BlocklistResult> => {
      const query = blocklistQueryName(ip, list.zone);
      if (v6 && !list.ipv6) return { zone: list.zone, name: list.name, query, status: 'not_asked', answers: [], detail: 'Not asked: this list publishes IPv4 listings only.', ms: 0 };
      const started = Date.now();
      let outcome: { addresses: string[] } | { error: string };
      try {
        outcome = await lookup(query);
      } catch (err) {
        outcome = { error: String((err as { code?: string }).code ?? (err as Error).message) };
      }
      return readBlocklistAnswer(list, query, outcome, Date.now() - started);
    }),
  );
}

/** Whether `ip` can be usefully checked: a public unicast address (a private one is not what servers see). */
export function blocklistAddressProblem(ip: string): string | null {
  if (!isIPv4(ip) && !isIPv6(ip)) return `${ip} is not an IPv4 or IPv6 address`;
  if (/^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|0\.)/.test(ip) || /^(::1?$|f[cd][0-9a-f]{2}:|fe80:)/i.test(ip)) {
    return `${ip} is a private or local address: mail servers see the public address it is translated to (NAT) or the proxy's; give that one with --ip`;
  }
  return null;
}
