/**
 * The JSON description of a simulated mail world (DNS zone + Postfix-like MX hosts), used by the
 * tests, `npm run demo` and the benchmarks. `parseWorldSpec` validates a parsed JSON value, lists
 * every problem at once, fills in defaults and returns a frozen, normalised spec.
 *
 * Shape (every field of `behaviour` optional, defaults = Postfix defaults, see DEFAULT_BEHAVIOUR):
 * {
 *   "tls": { "certFile": "...pem", "keyFile": "...pem" },      // optional; paths relative to the spec file,
 *          or "self-signed": a throwaway certificate made when the world starts (self-signed-certificate.ts)
 *   "mxHosts": { "mx1.example.test": { "ip": "127.0.0.11", "ipv6": [], "behaviour": { ... } },
 *                "alt1.mx.big.test": { "ip": "127.0.0.21", "extraIps": ["127.0.0.22"], "operator": "big", "behaviour": { ... } } },
 *   "domains": {
 *     "acme.test":     { "mx": [{ "host": "mx1.example.test", "preference": 10 }],
 *                        "mailboxes": ["john.doe"], "catchAll": false, "disabled": ["old"], "full": ["busy"] },
 *     "nullmx.test":   { "nullMx": true },
 *     "implicit.test": { "a": ["127.0.0.13"], "mailboxes": ["info"] },   // no MX: the MTA on 127.0.0.13 serves it
 *     "broken.test":   { "servfail": true },                             // shorthand for "dns": { "failure": "servfail" }
 *     "slow.test":     { "dns": { "failure": "no_answer" } }             // or { "delayMs": 300 } for slow answers
 *   }
 * }
 * `behaviours`: named behaviours a host takes with `"uses": "<name>"`, its own `behaviour` laid
 * over it (`replies` merge reply by reply), so one provider's many hosts are written once.
 * `extraIps`: more addresses the host answers on (more A records, one MTA, one set of counters).
 * `operator`: hosts run by one operator share per-client blocks and rate windows and are counted
 * together (MailWorld.operatorStats), like one provider behind many MX names and addresses.
 * The provider-like rules of `behaviour` (replies, acceptAll, rcptsPerTransaction, block,
 * rateLimits) are described in host-rules.ts. Names not listed answer NXDOMAIN. An MX may name a host that is not in mxHosts (and not a
 * domain with `a`): it then has no address. Domain keys are lower-case A-labels (punycode).
 */
import { HygieneError } from '../errors.ts';
import { checkReplyTemplate, defaultHostRules, parseHostRules, type HostRules } from './host-rules.ts';

/** Postfix-like session rules, plus the provider-like rules of HostRules (host-rules.ts). */
export interface MtaBehaviour extends HostRules {
  /** Advertise PIPELINING in the EHLO reply (RFC 2920). */
  pipelining: boolean;
  /** Advertise STARTTLS (only if the world has a certificate). */
  starttls: boolean;
  /** Advertise SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  /** smtpd_soft_error_limit: from this many errors on, every reply is delayed by errorSleepMs. */
  softErrorLimit: number;
  /** smtpd_hard_error_limit: at this many errors the next command gets 421 and the session closes. */
  hardErrorLimit: number;
  /** smtpd_error_sleep_time in ms. */
  errorSleepMs: number;
  /** smtpd_junk_command_limit: RSET/NOOP/VRFY/HELO/EHLO beyond this count as errors. */
  junkCommandLimit: number;
  /** smtpd_recipient_limit: accepted recipients per transaction; beyond → 452 4.5.3. */
  recipientLimit: number;
  /** Greylisting delay (postgrey); 0 = no greylisting. Triplet = (client /24, sender, recipient). */
  greylistDelayMs: number;
  /** > 0: send a "220-" teaser, wait this long, then the final 220 (postscreen pregreet test). */
  greetingTeaserMs: number;
  /** Delay before every reply (a slow server). */
  replyDelayMs: number;
  /** Do not listen at all: connections are refused. */
  refuse: boolean;
  /** Accept the TCP connection but never send a greeting. */
  silent: boolean;
  /** The final greeting (a reply template: {host}, {sid}, {date}, {client}); a non-220 greeting rejects the session (every command but QUIT gets 503). */
  greeting: string;
  /** DNSBL name: when set, every RCPT gets "554 5.7.1 Service unavailable; Client host [ip] blocked using <name>". */
  policyBlock: string | null;
  /** smtpd_client_connection_count_limit: concurrent sessions per client IP; beyond → 421 at connect. */
  maxConnectionsPerClient: number;
  /** Fault: after this many RCPT commands in a session, the next RCPT drops the connection without a reply. */
  dropAfterRcpts: number | null;
  /** Fault: after this many RCPT commands in a session, the next RCPT gets a 421 and the session closes. */
  closeAfterRcpts: number | null;
}

export interface MxHostSpec {
  ip: string;
  /** More IPv4 addresses of the same host (more A records); one MTA listens on all of them. */
  extraIps: string[];
  ipv6: string[];
  /** Hosts with the same operator share per-client blocks and rate windows, and are counted together. */
  operator: string | null;
  behaviour: MtaBehaviour;
}

export interface MxRecordSpec {
  host: string;
  preference: number;
}

export type DnsFailure = 'servfail' | 'refused' | 'no_answer';

export interface DomainSpec {
  /** MX records. Absent/empty and not nullMx → implicit MX through `a`/`aaaa`. */
  mx: MxRecordSpec[];
  /** Publish "MX 0 ." (RFC 7505). */
  nullMx: boolean;
  a: string[];
  aaaa: string[];
  /** Local parts that exist (compared case-insensitively). */
  mailboxes: string[];
  /** Accept every local part (except those listed in disabled/full). */
  catchAll: boolean;
  /** Local parts answered 550 5.2.1 (mailbox disabled). */
  disabled: string[];
  /** Local parts answered 552 5.2.2 (mailbox full). */
  full: string[];
  /** Local parts answered with the host's recipientThrottled reply (a per-recipient "try later", Gmail 450-4.2.1). */
  throttled: string[];
  /** How the DNS server misbehaves for every question about this name. */
  dns: { failure: DnsFailure | null; delayMs: number };
}

export interface WorldSpec {
  tls: { certFile: string; keyFile: string } | 'self-signed' | null;
  mxHosts: Readonly<Record<string, MxHostSpec>>;
  domains: Readonly<Record<string, DomainSpec>>;
}

/** Postfix defaults (postconf(5)), see SMTP-FACTS.md. */
export function defaultBehaviour(hostname: string): MtaBehaviour {
  return {
    pipelining: true,
    starttls: false,
    smtputf8: true,
    softErrorLimit: 10,
    hardErrorLimit: 20,
    errorSleepMs: 1000,
    junkCommandLimit: 100,
    recipientLimit: 1000,
    greylistDelayMs: 0,
    greetingTeaserMs: 0,
    replyDelayMs: 0,
    refuse: false,
    silent: false,
    greeting: `220 ${hostname} ESMTP Postfix`,
    policyBlock: null,
    maxConnectionsPerClient: 50,
    dropAfterRcpts: null,
    closeAfterRcpts: null,
    ...defaultHostRules(),
  };
}

const LOOPBACK_V4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const OPERATOR = /^[a-z][a-z0-9-]{0,31}$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function isLoopbackV4(ip: string): boolean {
  const m = LOOPBACK_V4.exec(ip);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates and normalises a parsed world description; throws WORLD_SPEC_INVALID listing every problem. */
export function parseWorldSpec(input: unknown): WorldSpec {
  const problems: string[] = [];
  const problem = (path: string, msg: string): void => {
    problems.push(`${path}: ${msg}`);
  };

  function stringList(v: unknown, path: string, check?: (s: string) => string | null): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      problem(path, 'must be an array of strings');
      return [];
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item !== 'string' || item === '') return problem(`${path}[${i}]`, 'must be a non-empty string');
      const err = check?.(item);
      if (err) return problem(`${path}[${i}]`, err);
      out.push(item);
    });
    return out;
  }
  function bool(v: unknown, path: string, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') problem(path, 'must be true or false');
    return v === true;
  }
  function int(v: unknown, path: string, fallback: number, min = 0): number {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      problem(path, `must be an integer >= ${min}`);
      return fallback;
    }
    return v;
  }
  function intOrNull(v: unknown, path: string): number | null {
    if (v === undefined || v === null) return null;
    return int(v, path, 0, 0);
  }
  const checkLocal = (s: string): string | null => (/[\s<>@]/.test(s) ? 'local parts may not contain spaces, <, > or @' : null);
  const checkV4 = (s: string): string | null => (isLoopbackV4(s) ? null : 'must be an IPv4 address in 127.0.0.0/8');
  const checkV6 = (s: string): string | null => (s.includes(':') ? null : 'must be an IPv6 address');

  if (!isRecord(input)) throw new HygieneError('WORLD_SPEC_INVALID', 'The world description must be a JSON object.');
  for (const key of Object.keys(input)) {
    if (!['tls', 'behaviours', 'mxHosts', 'domains', '$comment'].includes(key)) problem(key, 'unknown field');
  }
  const named = input.behaviours ?? {};
  if (!isRecord(named)) problem('behaviours', 'must be an object of named behaviours');

  let tls: WorldSpec['tls'] = null;
  if (input.tls !== undefined && input.tls !== null) {
    const t = input.tls;
    if (t === 'self-signed') {
      tls = 'self-signed';
    } else if (!isRecord(t) || typeof t.certFile !== 'string' || typeof t.keyFile !== 'string') {
      problem('tls', 'must be { "certFile": string, "keyFile": string } or "self-signed"');
    } else {
      tls = { certFile: t.certFile, keyFile: t.keyFile };
    }
  }

  const mxHosts: Record<string, MxHostSpec> = {};
  const rawHosts = input.mxHosts ?? {};
  if (!isRecord(rawHosts)) problem('mxHosts', 'must be an object keyed by host name');
  else {
    const usedIps = new Map<string, string>();
    for (const [name, raw] of Object.entries(rawHosts)) {
      const path = `mxHosts.${name}`;
      if (!HOSTNAME.test(name)) problem(path, 'the key must be a lower-case host name');
      if (!isRecord(raw)) {
        problem(path, 'must be an object');
        continue;
      }
      for (const key of Object.keys(raw)) if (!['ip', 'extraIps', 'ipv6', 'operator', 'uses', 'behaviour', '$comment'].includes(key)) problem(`${path}.${key}`, 'unknown field');
      const ip = typeof raw.ip === 'string' ? raw.ip : '';
      if (!isLoopbackV4(ip)) problem(`${path}.ip`, 'must be an IPv4 address in 127.0.0.0/8');
      const extraIps = stringList(raw.extraIps, `${path}.extraIps`, checkV4);
      for (const address of [ip, ...extraIps]) {
        const other = usedIps.get(address);
        if (other !== undefined) problem(`${path}.ip`, `${address} is already used by ${other}; every MX host needs its own IP`);
        usedIps.set(address, name);
      }
      const ipv6 = stringList(raw.ipv6, `${path}.ipv6`, checkV6);
      let operator: string | null = null;
      if (raw.operator !== undefined && raw.operator !== null) {
        if (typeof raw.operator !== 'string' || !OPERATOR.test(raw.operator)) problem(`${path}.operator`, 'must be a lower-case name such as "google"');
        else operator = raw.operator;
      }
      let b = raw.behaviour ?? {};
      if (raw.uses !== undefined) {
        const base = isRecord(named) && typeof raw.uses === 'string' ? named[raw.uses] : undefined;
        if (!isRecord(base)) problem(`${path}.uses`, `must name one of the world's behaviours (${isRecord(named) ? Object.keys(named).join(', ') : 'none'})`);
        else if (isRecord(b)) {
          const replies = isRecord(base.replies) || isRecord(b.replies) ? { replies: { ...(isRecord(base.replies) ? base.replies : {}), ...(isRecord(b.replies) ? b.replies : {}) } } : {};
          b = { ...base, ...b, ...replies };
        }
      }
      const d = defaultBehaviour(name);
      const bp = `${path}.behaviour`;
      if (!isRecord(b)) {
        problem(bp, 'must be an object');
        mxHosts[name] = { ip, extraIps, ipv6, operator, behaviour: d };
        continue;
      }
      for (const key of Object.keys(b)) if (!(key in d) && key !== '$comment') problem(`${bp}.${key}`, 'unknown field');
      const greeting = b.greeting === undefined ? d.greeting : b.greeting;
      if (typeof greeting !== 'string' || !/^[2-5]\d\d( |$)/.test(greeting) || /[\r\n]/.test(greeting)) {
        problem(`${bp}.greeting`, 'must be one reply line starting with a 3-digit code');
      } else {
        const err = checkReplyTemplate(greeting);
        if (err) problem(`${bp}.greeting`, err);
      }
      const policyBlock = b.policyBlock ?? null;
      if (policyBlock !== null && (typeof policyBlock !== 'string' || /[\r\n]/.test(policyBlock))) {
        problem(`${bp}.policyBlock`, 'must be null or a DNSBL name such as "zen.spamhaus.org"');
      }
      const behaviour: MtaBehaviour = {
        pipelining: bool(b.pipelining, `${bp}.pipelining`, d.pipelining),
        starttls: bool(b.starttls, `${bp}.starttls`, d.starttls),
        smtputf8: bool(b.smtputf8, `${bp}.smtputf8`, d.smtputf8),
        softErrorLimit: int(b.softErrorLimit, `${bp}.softErrorLimit`, d.softErrorLimit, 1),
        hardErrorLimit: int(b.hardErrorLimit, `${bp}.hardErrorLimit`, d.hardErrorLimit, 1),
        errorSleepMs: int(b.errorSleepMs, `${bp}.errorSleepMs`, d.errorSleepMs),
        junkCommandLimit: int(b.junkCommandLimit, `${bp}.junkCommandLimit`, d.junkCommandLimit, 1),
        recipientLimit: int(b.recipientLimit, `${bp}.recipientLimit`, d.recipientLimit, 1),
        greylistDelayMs: int(b.greylistDelayMs, `${bp}.greylistDelayMs`, d.greylistDelayMs),
        greetingTeaserMs: int(b.greetingTeaserMs, `${bp}.greetingTeaserMs`, d.greetingTeaserMs),
        replyDelayMs: int(b.replyDelayMs, `${bp}.replyDelayMs`, d.replyDelayMs),
        refuse: bool(b.refuse, `${bp}.refuse`, d.refuse),
        silent: bool(b.silent, `${bp}.silent`, d.silent),
        greeting: typeof greeting === 'string' ? greeting : d.greeting,
        policyBlock: typeof policyBlock === 'string' ? policyBlock : null,
        maxConnectionsPerClient: int(b.maxConnectionsPerClient, `${bp}.maxConnectionsPerClient`, d.maxConnectionsPerClient, 1),
        dropAfterRcpts: intOrNull(b.dropAfterRcpts, `${bp}.dropAfterRcpts`),
        closeAfterRcpts: intOrNull(b.closeAfterRcpts, `${bp}.closeAfterRcpts`),
        ...parseHostRules(b, bp, problem),
      };
      if (behaviour.hardErrorLimit < behaviour.softErrorLimit) problem(`${bp}.hardErrorLimit`, 'must be >= softErrorLimit');
      if (behaviour.refuse && behaviour.silent) problem(bp, 'refuse and silent are mutually exclusive');
      mxHosts[name] = { ip, extraIps, ipv6, operator, behaviour };
    }
  }

  const domains: Record<string, DomainSpec> = {};
  const rawDomains = input.domains ?? {};
  if (!isRecord(rawDomains)) problem('domains', 'must be an object keyed by domain name');
  else {
    for (const [name, raw] of Object.entries(rawDomains)) {
      const path = `domains.${name}`;
      if (!HOSTNAME.test(name)) problem(path, 'the key must be a lower-case domain name (IDNs as punycode A-labels)');
      if (!isRecord(raw)) {
        problem(path, 'must be an object');
        continue;
      }
      const known = ['mx', 'nullMx', 'a', 'aaaa', 'mailboxes', 'catchAll', 'disabled', 'full', 'throttled', 'servfail', 'dns', '$comment'];
      for (const key of Object.keys(raw)) if (!known.includes(key)) problem(`${path}.${key}`, 'unknown field');
      const mx: MxRecordSpec[] = [];
      if (raw.mx !== undefined) {
        if (!Array.isArray(raw.mx)) problem(`${path}.mx`, 'must be an array of { host, preference }');
        else {
          raw.mx.forEach((r: unknown, i) => {
            const rp = `${path}.mx[${i}]`;
            if (!isRecord(r) || typeof r.host !== 'string' || !HOSTNAME.test(r.host)) return problem(rp, 'needs "host": a lower-case host name');
            mx.push({ host: r.host, preference: int(r.preference, `${rp}.preference`, 10) });
          });
        }
      }
      const nullMx = bool(raw.nullMx, `${path}.nullMx`, false);
      if (nullMx && mx.length > 0) problem(path, 'a null-MX domain may not list other MX records (RFC 7505 §3)');
      let failure: DnsFailure | null = bool(raw.servfail, `${path}.servfail`, false) ? 'servfail' : null;
      let delayMs = 0;
      if (raw.dns !== undefined) {
        if (!isRecord(raw.dns)) problem(`${path}.dns`, 'must be { "failure"?: "servfail"|"refused"|"no_answer", "delayMs"?: number }');
        else {
          const f = raw.dns.failure;
          if (f !== undefined && f !== null) {
            if (f === 'servfail' || f === 'refused' || f === 'no_answer') failure = f;
            else problem(`${path}.dns.failure`, 'must be "servfail", "refused" or "no_answer"');
          }
          delayMs = int(raw.dns.delayMs, `${path}.dns.delayMs`, 0);
        }
      }
      domains[name] = {
        mx,
        nullMx,
        a: stringList(raw.a, `${path}.a`, checkV4),
        aaaa: stringList(raw.aaaa, `${path}.aaaa`, checkV6),
        mailboxes: stringList(raw.mailboxes, `${path}.mailboxes`, checkLocal),
        catchAll: bool(raw.catchAll, `${path}.catchAll`, false),
        disabled: stringList(raw.disabled, `${path}.disabled`, checkLocal),
        full: stringList(raw.full, `${path}.full`, checkLocal),
        throttled: stringList(raw.throttled, `${path}.throttled`, checkLocal),
        dns: { failure, delayMs },
      };
    }
  }

  if (problems.length > 0) {
    throw new HygieneError('WORLD_SPEC_INVALID', `The world description has ${problems.length} problem(s):\n- ${problems.join('\n- ')}`, {
      problems,
    });
  }
  return deepFreeze({ tls, mxHosts, domains });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The domains an MX host accepts mail for: those whose MX names it, and implicit-MX domains whose A points at it. */
export function domainsServedBy(spec: WorldSpec, hostName: string): Set<string> {
  const host = spec.mxHosts[hostName];
  const served = new Set<string>();
  for (const [name, d] of Object.entries(spec.domains)) {
    if (d.mx.some((r) => r.host === hostName)) served.add(name);
    else if (host !== undefined && !d.nullMx && d.mx.length === 0 && d.a.some((a) => a === host.ip || host.extraIps.includes(a))) served.add(name);
  }
  return served;
}
