/**
 * MX resolution per RFC 5321 §5.1 and RFC 7505 (null MX), behind the MxResolver interface.
 *
 * Every lookup (MX, and the A/AAAA of each exchange) goes through one configured
 * `node:dns/promises` Resolver, never the system getaddrinfo, so a test can point the whole
 * resolution at a loopback DNS server and so production follows exactly the servers it was given.
 */
import { Resolver } from 'node:dns/promises';
import { domainToASCII } from 'node:url';

export interface MxHost {
  exchange: string;
  preference: number;
  /** IPv4 addresses first, then IPv6, of the exchange. */
  addresses: string[];
}

export type MxResolution =
  /** Ordered by preference, random order among equal preferences (RFC 5321 §5.1). implicit=true: no MX, the domain's own A/AAAA is used. */
  | { kind: 'hosts'; hosts: MxHost[]; implicit: boolean }
  | {
      kind: 'none';
      status: 'undeliverable' | 'unknown';
      reason: 'null_mx' | 'no_such_domain' | 'no_mail_server' | 'dns_error';
      /** A sentence a person understands, naming the domain. */
      detail: string;
    };

export interface MxResolver {
  resolve(domain: string): Promise<MxResolution>;
}

export interface DnsResolverOptions {
  /** "host" or "host:port"; empty = the system's resolvers (from /etc/resolv.conf). */
  servers: string[];
  /** Per-query timeout handed to c-ares (it grows on its own retries). */
  timeoutMs: number;
  /** c-ares tries per query, per server. */
  tries: number;
  /**
   * Our own attempts on top of c-ares' tries for temporary failures (SERVFAIL, timeout, refused).
   * Default 2. Worst-case time per lookup is roughly attempts × tries × timeoutMs (c-ares may
   * grow the timeout on its retries, so keep tries small).
   */
  attempts?: number;
  /** Pause between our own attempts. Default 100 ms. */
  retryDelayMs?: number;
}

const DEFAULT_ATTEMPTS = 2;
const DEFAULT_RETRY_DELAY_MS = 100;

/** Outcome of one DNS question after our retries: records, "no such name", "name but no records", or a failure. */
type Lookup<T> =
  | { kind: 'ok'; records: T[] }
  | { kind: 'nxdomain' }
  | { kind: 'nodata' }
  | { kind: 'failed'; code: string };

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return 'EUNKNOWN';
}

/** Lower-case A-label without the trailing root dot; "" when the name cannot be converted. */
export function normaliseDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, '').toLowerCase();
  if (/^[\x00-\x7f]*$/.test(trimmed)) return trimmed;
  return domainToASCII(trimmed);
}

/**
 * Sorts by preference (lower first) and shuffles hosts of equal preference (RFC 5321 §5.1:
 * "randomize them to spread the load"). Returns a new array; `random` returns [0, 1).
 */
export function orderMxHosts(hosts: readonly MxHost[], random: () => number = Math.random): MxHost[] {
  const byPreference = new Map<number, MxHost[]>();
  for (const host of hosts) {
    const group = byPreference.get(host.preference) ?? [];
    group.push(host);
    byPreference.set(host.preference, group);
  }
  const out: MxHost[] = [];
  for (const preference of [...byPreference.keys()].sort((a, b) => a - b)) {
    const group = byPreference.get(preference) ?? [];
    for (let i = group.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const a = group[i];
      const b = group[j];
      if (a !== undefined && b !== undefined) {
        group[i] = b;
        group[j] = a;
      }
    }
    out.push(...group);
  }
  return out;
}

function describeFailure(code: string): string {
  switch (code) {
    case 'ESERVFAIL':
      return 'the DNS server reported a server failure (SERVFAIL)';
    case 'ETIMEOUT':
      return 'the DNS server did not answer in time';
    case 'EREFUSED':
      return 'the DNS server refused the query';
    case 'ECONNREFUSED':
      return 'the DNS server could not be reached';
    default:
      return `the DNS lookup failed (${code})`;
  }
}

export function createDnsMxResolver(options: DnsResolverOptions, random: () => number = Math.random): MxResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: options.tries });
  if (options.servers.length > 0) resolver.setServers(options.servers);
  const attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const retryDelayMs = Math.max(0, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);

  async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
    let lastCode = 'EUNKNOWN';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const records = await query();
        return records.length > 0 ? { kind: 'ok', records } : { kind: 'nodata' };
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOTFOUND') return { kind: 'nxdomain' };
        if (code === 'ENODATA') return { kind: 'nodata' };
        // Everything else (SERVFAIL, timeout, refused, bad response) is temporary: retry, bounded.
        lastCode = code;
        if (attempt < attempts && retryDelayMs > 0) await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    }
    return { kind: 'failed', code: lastCode };
  }

  /** A then AAAA of one name; "failed" only when a lookup failed and no address was found. */
  async function addressesOf(name: string): Promise<{ addresses: string[]; failure?: string }> {
    const [v4, v6] = await Promise.all([lookup(() => resolver.resolve4(name)), lookup(() => resolver.resolve6(name))]);
    const addresses = [...(v4.kind === 'ok' ? v4.records : []), ...(v6.kind === 'ok' ? v6.records : [])];
    const failed = [v4, v6].find((r) => r.kind === 'failed');
    if (addresses.length === 0 && failed?.kind === 'failed') return { addresses, failure: failed.code };
    return { addresses };
  }

  async function resolveImplicit(domain: string): Promise<MxResolution> {
    // RFC 5321 §5.1: no MX records → the domain itself is the implicit MX, preference 0.
    const own = await addressesOf(domain);
    if (own.addresses.length > 0) {
      return { kind: 'hosts', implicit: true, hosts: [{ exchange: domain, preference: 0, addresses: own.addresses }] };
    }
    if (own.failure !== undefined) {
      return {
        kind: 'none',
        status: 'unknown',
        reason: 'dns_error',
        detail: `The domain ${domain} has no MX record and looking up its own address failed: ${describeFailure(own.failure)}.`,
      };
    }
    return {
      kind: 'none',
      status: 'undeliverable',
      reason: 'no_mail_server',
      detail: `The domain ${domain} exists but has no mail server: it publishes neither an MX record nor an address.`,
    };
  }

  async function resolve(input: string): Promise<MxResolution> {
    const domain = normaliseDomain(input);
    if (domain === '') {
      return {
        kind: 'none',
        status: 'undeliverable',
        reason: 'no_such_domain',
        detail: `The domain ${JSON.stringify(input)} is not a valid domain name.`,
      };
    }
    const mx = await lookup(() => resolver.resolveMx(domain));
    switch (mx.kind) {
      case 'nxdomain':
        return {
          kind: 'none',
          status: 'undeliverable',
          reason: 'no_such_domain',
          detail: `The domain ${domain} does not exist (DNS answered NXDOMAIN).`,
        };
      case 'failed':
        return {
          kind: 'none',
          status: 'unknown',
          reason: 'dns_error',
          detail: `Could not look up the mail servers of ${domain}: ${describeFailure(mx.code)}; try again later.`,
        };
      case 'nodata':
        return resolveImplicit(domain);
      case 'ok':
        break;
    }
    const records = mx.records.map((r) => ({ exchange: r.exchange.replace(/\.$/, '').toLowerCase(), preference: r.priority }));
    const real = records.filter((r) => r.exchange !== '');
    if (real.length === 0) {
      // RFC 7505 §3: "MX 0 ." means the domain accepts no mail; never fall back to its A record.
      return {
        kind: 'none',
        status: 'undeliverable',
        reason: 'null_mx',
        detail: `The domain ${domain} declares that it accepts no email (null MX record, RFC 7505).`,
      };
    }
    // MX records exist: from here on the domain's own A/AAAA is never used (RFC 5321 §5.1).
    const resolved = await Promise.all(real.map(async (r) => ({ ...r, ...(await addressesOf(r.exchange)) })));
    const hosts = resolved
      .filter((r) => r.addresses.length > 0)
      .map((r): MxHost => ({ exchange: r.exchange, preference: r.preference, addresses: r.addresses }));
    if (hosts.length > 0) return { kind: 'hosts', implicit: false, hosts: orderMxHosts(hosts, random) };
    const exchanges = real.map((r) => r.exchange).join(', ');
    const failure = resolved.find((r) => r.failure !== undefined)?.failure;
    if (failure !== undefined) {
      return {
        kind: 'none',
        status: 'unknown',
        reason: 'dns_error',
        detail: `Could not look up the address of the mail servers of ${domain} (${exchanges}): ${describeFailure(failure)}; try again later.`,
      };
    }
    return {
      kind: 'none',
      status: 'undeliverable',
      reason: 'no_mail_server',
      detail: `The mail servers named by ${domain} (${exchanges}) have no address, so no mail can be delivered there.`,
    };
  }

  return { resolve };
}
