/**
 * `hygiene doctor [--domain example.com]`: checks what a verify run depends on and says plainly what
 * is wrong — Redis, the DNS servers, and for each outbound identity (config/outbound-identities.ts):
 * its SOCKS5 proxy (answering, accepting our credentials), outbound port 25 to a real MX of a domain
 * the user names, through that identity (port 25 blocked on a cloud host is the most common reason a
 * verifier returns nothing but timeouts), the greeting, EHLO and the address the server saw when its
 * reply shows it, and whether the identity's HELO name resolves and the PTR of its address points
 * back to it (forward-confirmed reverse DNS; many servers refuse or tarpit a client without it).
 * Exit code 1 when any check fails.
 *
 * It uses the same resolver and SMTP session code as the engine, with the same config.
 */
import net from 'node:net';
import { Resolver } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { pingRedis } from '../app/redis-connection.ts';
import type { Config, OutboundIdentity } from '../config/config.ts';
import { blocklistAddressProblem, checkBlocklists, COMMON_BLOCKLISTS, type BlocklistLookup, type BlocklistResult } from '../dns/blocklists.ts';
import { askCanaries, isResolved } from '../dns/dns-canaries.ts';
import { createDnsMxResolver, type MxHost } from '../dns/mx-resolver.ts';
import { HygieneError, isHygieneError, isSmtpError, type SmtpError } from '../errors.ts';
import { connectorFor } from '../smtp/identity-connector.ts';
import { seenClientAddress } from '../smtp/seen-address.ts';
import type { SmtpConnector } from '../smtp/smtp-connector.ts';
import { SmtpSession } from '../smtp/smtp-session.ts';
import { replyToText } from '../domain/smtp-reply.ts';
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  name: 'redis' | 'dns' | 'proxy' | 'port25' | 'helo' | 'blocklist';
  /** The outbound identity checked (proxy, port25, helo), when there is more than one or it is not plain `direct`. */
  identity?: string;
  status: CheckStatus;
  /** What was found, in a sentence. */
  detail: string;
  /** What to do about it, when something is wrong. */
  fix?: string;
  /** port25: the address the mail server saw us at, when its EHLO reply or greeting shows it. */
  seenAddress?: string;
  /** blocklist: the address checked and each list's answer. */
  address?: string;
  blocklists?: BlocklistResult[];
  ms: number;
}

type CheckResult = Omit<DoctorCheck, 'name' | 'ms' | 'identity'>;

export interface DoctorReport {
  /** No check failed. */
  ok: boolean;
  /** Every check ran (none skipped): only then may doctor say nothing blocks a run. */
  complete: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  /** A domain whose MX hosts we try to reach on the SMTP port. */
  domain?: string;
  /** Addresses to check against the common DNS blocklists (--ip). */
  ip?: string[];
  /** Check the identities' own addresses against the blocklists (--blocklists; implied by --ip). */
  blocklists?: boolean;
  /** The blocklist lookup (tests); default: A queries through HYGIENE_DNS_SERVERS. */
  blocklistLookup?: BlocklistLookup;
}

/** Runs every check (each survives the others failing) and returns them in order. */
export async function runDoctor(config: Config, options: DoctorOptions): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const timed = async (name: DoctorCheck['name'], run: () => Promise<CheckResult>, identity?: string): Promise<void> => {
    const started = performance.now();
    const about = identity === undefined ? {} : { identity };
    try {
      checks.push({ name, ...about, ...(await run()), ms: Math.round(performance.now() - started) });
    } catch (err) {
      checks.push({ name, ...about, status: 'fail', detail: `The check itself failed: ${(err as Error).message}`, ms: Math.round(performance.now() - started) });
    }
  };
  const dnsServers = config.dns.servers.length > 0 ? config.dns.servers.join(', ') : 'the system resolvers (/etc/resolv.conf)';

  await timed('redis', async () => {
    if (await pingRedis(config.redisUrl, 2_000)) return { status: 'ok', detail: `Redis answers at ${redact(config.redisUrl)}.` };
    return config.redisUrlExplicit
      ? { status: 'fail', detail: `No Redis answers at ${redact(config.redisUrl)}.`, fix: 'Start Redis or correct REDIS_URL / --redis-url.' }
      : {
          status: 'warn',
          detail: `No Redis at the default address ${config.redisUrl}.`,
          fix: '"hygiene verify" starts a private redis-server for a single run when one is installed; workers, the API and the watcher need a shared Redis (set REDIS_URL).',
        };
  });

  const mxResolver = createDnsMxResolver({ servers: [...config.dns.servers], timeoutMs: config.dns.timeoutMs, tries: config.dns.tries });
  const dnsFix = 'Check HYGIENE_DNS_SERVERS (IP[:port], comma separated, e.g. HYGIENE_DNS_SERVERS=1.1.1.1,8.8.8.8) and that DNS (UDP/TCP 53) is allowed out.';
  /** When a name does not resolve: is it the name, or our resolver? The well-known names decide. */
  const canaryVerdict = async (what: string): Promise<CheckResult | null> => {
    const canaries = config.dns.canaries;
    if (canaries.length === 0) return null;
    const answers = await askCanaries(mxResolver, canaries);
    if (answers.resolved.length > 0) return null;
    return {
      status: 'fail',
      detail: `${dnsServers}: ${what}, and so did well-known names (${answers.failed.map((f) => `${f.name}: ${f.detail}`).join('; ')}). The resolver is failing or lying: a verify run would stop with DNS_FAILED.`,
      fix: `${dnsFix} A private resolver that does not know public names: set HYGIENE_DNS_CANARIES to names it does resolve.`,
    };
  };
  let hosts: MxHost[] = [];
  await timed('dns', async () => {
    if (!options.domain) {
      // Without a domain we still prove the resolver answers truthfully: names that certainly exist.
      if (config.dns.canaries.length === 0) {
        return { status: 'skip', detail: 'Not tested: no --domain and no HYGIENE_DNS_CANARIES.', fix: 'Name a domain that receives mail: hygiene doctor --domain example.com' };
      }
      const answers = await askCanaries(mxResolver, config.dns.canaries);
      if (answers.resolved.length > 0) return { status: 'ok', detail: `${dnsServers} resolved ${answers.resolved.join(', ')}.` };
      return (await canaryVerdict('no well-known name resolved')) ?? { status: 'fail', detail: `${dnsServers} did not resolve any well-known name.`, fix: dnsFix };
    }
    const resolution = await mxResolver.resolve(options.domain);
    if (resolution.kind === 'hosts') {
      hosts = resolution.hosts;
      const list = hosts.map((h) => `${h.preference} ${h.exchange} (${h.addresses.join(', ') || 'no address'})`).join('; ');
      return { status: 'ok', detail: `${dnsServers} resolved ${options.domain}${resolution.implicit ? ' (no MX: implicit MX)' : ''}: ${list}.` };
    }
    if (!isResolved(resolution)) {
      const ours = await canaryVerdict(resolution.detail.replace(/\.$/, ''));
      if (ours) return ours;
    }
    if (resolution.reason === 'dns_error') {
      return { status: 'fail', detail: `${dnsServers}: ${resolution.detail}`, fix: dnsFix };
    }
    return { status: 'warn', detail: `${dnsServers} answered, but ${resolution.detail}`, fix: 'Name a domain that receives mail: hygiene doctor --domain example.com' };
  });

  // Every outbound identity gets its own checks: its proxy, port 25 through it, its HELO name and PTR.
  const identities = config.smtp.identities;
  const named = identities.length > 1 || identities[0]?.kind !== 'direct';
  /** The address each identity sends from, as far as we know it: its local address, else what a server saw. */
  const sendsFrom: Array<{ ip: string; label: string | undefined }> = [];
  for (const identity of identities) {
    const label = named ? identity.id : undefined;
    const connector = connectorFor(identity);
    const seen: { local?: string; server?: string } = {};
    if (identity.kind === 'socks5') await timed('proxy', () => proxyCheck(config, identity, connector, hosts), label);
    await timed('port25', () => port25Check(config, identity, connector, options.domain, hosts, seen), label);
    await timed('helo', () => heloCheck(config, identity, seen), label);
    const ip = identity.localAddress ?? seen.server;
    if (ip !== undefined) sendsFrom.push({ ip, label });
  }

  // DNS blocklists (issue 14): only when asked, since every lookup tells the list's operator about us.
  if (options.ip !== undefined || options.blocklists === true) {
    const lookup = options.blocklistLookup ?? resolverLookup(config);
    const targets = options.ip !== undefined ? options.ip.map((ip) => ({ ip, label: undefined })) : sendsFrom;
    if (targets.length === 0) {
      await timed('blocklist', async () => ({
        status: 'skip',
        detail: 'No address to check: no identity has a local address (HYGIENE_LOCAL_ADDRESS) and no mail server showed the address it saw us at.',
        fix: 'Give the public address mail servers see (behind NAT or a SOCKS5 proxy that is the NAT\'s or the proxy\'s address, not this host\'s): hygiene doctor --ip 203.0.113.7',
      }));
    }
    for (const target of targets) await timed('blocklist', () => blocklistCheck(target.ip, lookup, dnsServers), target.label);
  }

  return { ok: checks.every((c) => c.status !== 'fail'), complete: checks.every((c) => c.status !== 'skip'), checks };
}

const WAY_OUT = 'or go out through a SOCKS5 proxy on such a host: HYGIENE_SMTP_PROXY=socks5://[user:password@]host:port (README: "Running from a cloud host")';

/**
 * A SOCKS5 identity's proxy: does it answer, and does it accept our credentials? Proven by getting as
 * far as a CONNECT: to the first MX address of --domain, else to the proxy's own address (nothing
 * leaves the proxy). Whatever the proxy then answers about the target is the port-25 check's business.
 */
async function proxyCheck(config: Config, identity: OutboundIdentity, connector: SmtpConnector, hosts: MxHost[]): Promise<CheckResult> {
  const proxy = identity.proxy!;
  const first = hosts.flatMap((h) => h.addresses.map((ip) => ({ host: ip, serverName: h.exchange })))[0];
  const target = first ? { ...first, port: config.smtp.port } : { host: proxy.host, port: proxy.port, serverName: 'the proxy itself' };
  const auth = proxy.credentials ? 'accepted our user name and password' : 'needs no credentials';
  try {
    (await connector.connect(target, config.smtp.timeouts.connectMs)).destroy();
  } catch (err) {
    if (isHygieneError(err, 'SMTP_PROXY_UNREACHABLE')) {
      return { status: 'fail', detail: err.message, fix: `Start the proxy, or correct ${identity.setting} (socks5://[user:password@]host:port); a verify run would stop with OUTBOUND_PROXY_FAILED.` };
    }
    if (isHygieneError(err, 'SMTP_PROXY_AUTH_FAILED')) {
      return { status: 'fail', detail: err.message, fix: `Correct the user name and password in ${identity.setting} (socks5://user:password@host:port, with %40 for "@", %3A for ":", %23 for "#", %2C for ","); a verify run would stop with OUTBOUND_PROXY_FAILED.` };
    }
    // It answered our CONNECT (refused, unreachable, timed out): reachable, and it accepted us.
  }
  return { status: 'ok', detail: `The SMTP proxy ${identity.display} answers and ${auth} (${identity.setting}).` };
}

/** Port 25 of the MX hosts of --domain through the identity's way out, then a real SMTP handshake. */
async function port25Check(
  config: Config,
  identity: OutboundIdentity,
  connector: SmtpConnector,
  domain: string | undefined,
  hosts: MxHost[],
  seen: { local?: string; server?: string },
): Promise<CheckResult> {
  const port = config.smtp.port;
  const proxied = identity.kind === 'socks5';
  const via = proxied ? ` through ${identity.display}` : '';
  if (!domain) return { status: 'skip', detail: `Outbound port ${port}${via} not tested: name a domain that receives mail with --domain example.com.` };
  const targets = hosts.flatMap((h) => h.addresses.map((ip) => ({ mx: h.exchange, ip }))).slice(0, 4);
  if (targets.length === 0) return { status: 'skip', detail: `No MX address of ${domain} to try.` };
  const failures: string[] = [];
  let timeouts = 0;
  for (const target of targets) {
    let socket: net.Socket;
    try {
      socket = await connector.connect({ host: target.ip, port, serverName: target.mx }, config.smtp.timeouts.connectMs);
    } catch (err) {
      const coded = isSmtpError(err) ? err : new HygieneError('SMTP_CONNECT_FAILED', isHygieneError(err) ? err.message : String(err));
      if (coded.code === 'SMTP_PROXY_UNREACHABLE' || coded.code === 'SMTP_PROXY_AUTH_FAILED') {
        return { status: 'fail', detail: `Not tested: ${coded.message}`, fix: `See the proxy check above (${identity.setting}).` };
      }
      if (coded.code === 'SMTP_TIMEOUT') timeouts += 1;
      failures.push(`${target.mx} [${target.ip}]: ${connectFailure(coded, config.smtp.timeouts.connectMs)}`);
      continue;
    }
    if (!proxied) seen.local = socket.localAddress;
    socket.destroy();
    const from = proxied ? via : ` from ${seen.local ?? '?'}`;
    if (identity.heloName === undefined) {
      return { status: 'warn', detail: `Port ${port} is open (connected to ${target.mx} [${target.ip}]${from}); EHLO not tried: there is no HELO name (see below).`, fix: 'Set HYGIENE_HELO_NAME.' };
    }
    const smtp = await smtpHandshake(config, identity, connector, target.mx, target.ip);
    if (smtp.ok) {
      seen.server = smtp.seenAddress;
      const before = failures.length > 0 ? ` (before that: ${failures.join('; ')})` : '';
      const saw = smtp.seenAddress ? `; the server saw us at ${smtp.seenAddress}` : proxied ? "; its replies do not show the address it saw (through a proxy it is the proxy's)" : '';
      return {
        status: 'ok',
        detail: `Connected to ${target.mx} [${target.ip}]:${port}${from}; greeting "${smtp.greeting}", EHLO ${identity.heloName} accepted${smtp.tls ? ', STARTTLS done' : ''}${saw}${before}.`,
        ...(smtp.seenAddress ? { seenAddress: smtp.seenAddress } : {}),
      };
    }
    return {
      status: 'warn',
      detail: `Port ${port} is open (connected to ${target.mx} [${target.ip}]${from}), but the server did not accept us: ${smtp.detail}`,
      fix: 'A refused greeting or EHLO is usually about reputation: a listed IP (DNSBL), a HELO name without matching PTR, or a residential range.',
    };
  }
  const proxyRefused = failures.length > 0 && failures.every((f) => f.includes('refused to connect'));
  if (proxied && (timeouts === failures.length || proxyRefused)) {
    return {
      status: 'fail',
      detail: `No connection to port ${port}${via} succeeded: ${failures.join('; ')}.`,
      fix: `The proxy's own outbound port ${port} is probably blocked, or its rules do not allow port ${port}: use a proxy on a host that may connect to port ${port}, or allow it in the proxy's rules.`,
    };
  }
  if (timeouts === failures.length) {
    return {
      status: 'fail',
      detail: `Every connection to port ${port} timed out: ${failures.join('; ')}.`,
      fix: `Outbound port ${port} is blocked here. Most cloud providers block it by default (AWS, Google Cloud, Azure, DigitalOcean...): ask them to lift the block, run the verifier from a host that may send mail, ${WAY_OUT}. This is why a verifier returns nothing but timeouts.`,
    };
  }
  return {
    status: 'fail',
    detail: `No connection to port ${port}${via} succeeded: ${failures.join('; ')}.`,
    fix: `Check the firewall for outbound TCP ${port}; try another domain (--domain) to rule out that domain's servers.`,
  };
}

/** How one connect failed, in a few words. */
function connectFailure(err: SmtpError, timeoutMs: number): string {
  if (err.code === 'SMTP_PROXY_REFUSED') return err.message;
  const socks = err.context.socksReply !== undefined ? ` (through the proxy: SOCKS5 reply ${String(err.context.socksReply)})` : '';
  if (err.code === 'SMTP_TIMEOUT') return `no answer within ${timeoutMs} ms${socks}`;
  if (err.context.refused === true) return `connection refused${socks}`;
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  return cause?.code ?? err.message;
}

/** The identity's HELO name: does it resolve, does its PTR point back, is the address servers see one of its addresses? */
async function heloCheck(config: Config, identity: OutboundIdentity, seen: { local?: string; server?: string }): Promise<CheckResult> {
  if (identity.heloName === undefined) {
    return {
      status: 'fail',
      detail: config.smtp.identityProblem ?? 'There is no HELO name.',
      fix: `Set HYGIENE_HELO_NAME to this host's public FQDN, e.g. HYGIENE_HELO_NAME=verify.example.com, with a PTR for your outbound IP pointing back to it${identity.kind === 'direct' ? '' : `, or give this identity its own with #helo=NAME in ${identity.setting}`}.`,
    };
  }
  const helo = identity.heloName.toLowerCase();
  const a = await lookupA(config, helo);
  if (!a.ok) {
    // Not a hard stop (many servers still talk to us), but the first thing a strict one checks.
    return {
      status: 'warn',
      detail: `The HELO name ${helo} does not resolve (${a.code}).`,
      fix: 'Set HYGIENE_HELO_NAME to a real FQDN of this host, with an A record pointing at your outbound IP and a PTR record for that IP pointing back to the name.',
    };
  }
  const problems: string[] = [];
  const ptrOf = async (ip: string): Promise<void> => {
    const names = await lookupPtr(config, ip);
    if (!names.some((n) => n.toLowerCase().replace(/\.$/, '') === helo)) problems.push(names.length > 0 ? `PTR of ${ip} is ${names.join(', ')}, not ${helo}` : `${ip} has no PTR record`);
  };
  for (const ip of a.addresses) await ptrOf(ip);
  // The address servers judge us by: the one a server showed, else (direct) our own source address.
  const observed = seen.server ?? seen.local;
  const outbound = observed && !isPrivate(observed) ? observed : undefined;
  const who = seen.server ? 'the address the server saw' : 'the outbound address';
  if (outbound && !a.addresses.includes(outbound)) {
    problems.push(`${who} ${outbound} is not an address of ${helo} (${a.addresses.join(', ')})`);
    await ptrOf(outbound);
  }
  const natNote =
    observed && isPrivate(observed)
      ? ` (${who} ${observed} is private: behind NAT, the public IP cannot be seen from here)`
      : identity.kind === 'socks5' && !seen.server
        ? ` (mail servers see the proxy's address, which no reply showed: name a domain whose MX shows it, e.g. --domain gmail.com)`
        : '';
  if (problems.length === 0) return { status: 'ok', detail: `${helo} resolves to ${a.addresses.join(', ')} and the PTR points back to it${natNote}.` };
  return {
    status: 'warn',
    detail: `${helo} resolves to ${a.addresses.join(', ')}, but ${problems.join('; ')}${natNote}.`,
    fix: `Ask whoever owns the IP (your cloud or hosting provider${identity.kind === 'socks5' ? ", here the proxy's" : ''}) to set its PTR to the HELO name, and make the HELO name's A record that IP. Servers answer 450 4.7.25 / 550 5.7.25 or tarpit clients without it.`,
  };
}

/** The engine's own session through the identity's way out: greeting, EHLO, STARTTLS when offered, then QUIT. */
async function smtpHandshake(
  config: Config,
  identity: OutboundIdentity,
  connector: SmtpConnector,
  mx: string,
  ip: string,
): Promise<{ ok: true; greeting: string; tls: boolean; seenAddress: string | undefined } | { ok: false; detail: string }> {
  try {
    const session = await SmtpSession.open({
      host: ip,
      port: config.smtp.port,
      serverName: mx,
      heloName: identity.heloName ?? '',
      connector,
      tls: config.smtp.tls,
      tlsCa: config.smtp.tlsCa,
      timeouts: config.smtp.timeouts,
    });
    const greeting = session.greeting.lines.at(-1) ?? '';
    const tls = session.tlsActive;
    const seenAddress = seenClientAddress(session.greeting, session.helloReply, ip);
    await session.quit();
    return { ok: true, greeting: `${session.greeting.code} ${greeting}`.trim(), tls, seenAddress };
  } catch (err) {
    if (!isSmtpError(err)) return { ok: false, detail: isHygieneError(err) ? err.message : String(err) };
    const reply = err.context.reply;
    return { ok: false, detail: reply ? `${err.message} (${replyToText(reply)})` : err.message };
  }
}

/** One address against the common DNS blocklists: fail when listed, warn when a list refused our resolver or did not answer. */
async function blocklistCheck(ip: string, lookup: BlocklistLookup, dnsServers: string): Promise<CheckResult> {
  const problem = blocklistAddressProblem(ip);
  if (problem) return { status: 'warn', address: ip, detail: `Not checked: ${problem}.`, fix: 'hygiene doctor --ip <the public address>' };
  const results = await checkBlocklists(ip, lookup);
  const by = (status: BlocklistResult['status']) => results.filter((r) => r.status === status);
  const listed = by('listed');
  const refused = by('refused');
  const unknown = by('unknown');
  const parts: string[] = [];
  for (const r of listed) parts.push(`LISTED on ${r.zone} (${r.answers.join(', ')}): ${r.detail.replace(/^LISTED: /, '')}`);
  for (const r of refused) parts.push(`${r.zone}: ${r.detail}`);
  for (const r of unknown) parts.push(`${r.zone}: ${r.detail}`);
  const clean = by('not_listed').map((r) => r.zone);
  if (clean.length > 0) parts.push(`not listed on ${clean.join(', ')}`);
  const skipped = by('not_asked').map((r) => r.zone);
  if (skipped.length > 0) parts.push(`not asked (IPv4-only lists): ${skipped.join(', ')}`);
  const detail = `${ip} via ${dnsServers}: ${parts.join('; ')}.`;
  if (listed.length > 0) {
    return {
      status: 'fail',
      address: ip,
      blocklists: results,
      detail,
      fix: `Servers that check these lists refuse mail and probes from ${ip}: ask for removal (${listed.map((r) => r.delist).join('; ')}), make the HELO name the host's real FQDN with a matching PTR, and probe from another identity meanwhile.`,
    };
  }
  if (refused.length > 0) {
    return { status: 'warn', address: ip, blocklists: results, detail, fix: 'Our resolver is the problem, not the address: use a resolver of your own (e.g. unbound on this host) in HYGIENE_DNS_SERVERS; public resolvers are refused by Spamhaus.' };
  }
  if (unknown.length > 0) return { status: 'warn', address: ip, blocklists: results, detail, fix: 'Some lists gave no answer: run the check again, or check the address on the lists\' web pages.' };
  return { status: 'ok', address: ip, blocklists: results, detail };
}

/** A lookups through the configured resolver (HYGIENE_DNS_SERVERS), with its timeout and tries. */
function resolverLookup(config: Config): BlocklistLookup {
  const resolver = resolverFor(config);
  return async (name) => {
    try {
      return { addresses: await resolver.resolve4(name) };
    } catch (err) {
      return { error: String((err as { code?: string }).code ?? (err as Error).message) };
    }
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

function resolverFor(config: Config): Resolver {
  const resolver = new Resolver({ timeout: config.dns.timeoutMs, tries: config.dns.tries });
  if (config.dns.servers.length > 0) resolver.setServers([...config.dns.servers]);
  return resolver;
}

async function lookupA(config: Config, name: string): Promise<{ ok: true; addresses: string[] } | { ok: false; code: string }> {
  try {
    return { ok: true, addresses: await resolverFor(config).resolve4(name) };
  } catch (err) {
    return { ok: false, code: String((err as { code?: string }).code ?? (err as Error).message) };
  }
}

async function lookupPtr(config: Config, ip: string): Promise<string[]> {
  try {
    return await resolverFor(config).reverse(ip);
  } catch {
    return [];
  }
}

function isPrivate(ip: string): boolean {
  return /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|::1$|f[cd][0-9a-f]{2}:|fe80:)/i.test(ip);
}

const MARK: Record<CheckStatus, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const TITLE: Record<DoctorCheck['name'], string> = { redis: 'Redis', dns: 'DNS', proxy: 'SMTP proxy', port25: 'Outbound SMTP', helo: 'HELO name / PTR', blocklist: 'DNS blocklists' };

function titleOf(check: DoctorCheck): string {
  return check.identity === undefined ? TITLE[check.name] : `${TITLE[check.name]} [${check.identity}]`;
}

export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`[${MARK[check.status]}] ${titleOf(check)}: ${check.detail}`);
    if (check.fix && check.status !== 'ok') lines.push(`       → ${check.fix}`);
  }
  const skipped = report.checks.filter((c) => c.status === 'skip').map(titleOf);
  // Never "nothing blocks" on a partial check: a skipped port-25 test is exactly how a blocked port goes unnoticed.
  const conclusion = !report.ok
    ? 'Something above blocks a verify run: fix the FAIL lines first.'
    : !report.complete
      ? `Not everything could be checked (skipped: ${skipped.join(', ')}): nothing found so far blocks a verify run, but this is not a full check. Run hygiene doctor --domain <a domain you know receives mail>.`
      : 'Nothing blocks a verify run.';
  lines.push('', conclusion);
  return `${lines.join('\n')}\n`;
}

export const doctorCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage: hygiene doctor [--domain example.com] [--ip ADDRESS[,ADDRESS]] [--blocklists] [--json] [options]

Checks Redis, the DNS servers (and whether they answer truthfully for well-known names), and for each
outbound identity (HYGIENE_SMTP_PROXY, HYGIENE_LOCAL_ADDRESS or HYGIENE_IDENTITIES_FILE; else direct):
its SOCKS5 proxy (answers, accepts our credentials), port 25 to the MX hosts of --domain through it
(use a domain you know receives mail), the greeting, EHLO and the address the server saw when its
reply shows it, and whether its HELO name resolves and its PTR points back to it. Says what is wrong
and what to do. Exit code 1 when a check fails. It says "Nothing blocks a verify run" only when no
check failed or was skipped.

  --domain NAME   a domain whose mail servers to connect to (port 25 is only tested with one)
  --ip ADDRESS    check these public addresses (comma separated, IPv4 or IPv6) against the common DNS
                  blocklists (${COMMON_BLOCKLISTS.map((l) => l.zone).join(', ')}) through HYGIENE_DNS_SERVERS
  --blocklists    the same for each identity's own address (its HYGIENE_LOCAL_ADDRESS, else the address a
                  server showed with --domain); says when the public address must be given with --ip
  --json          print the checks as JSON
  plus the common options (see README): --redis-url, --dns-servers, --smtp-port, --helo-name, --smtp-proxy, ...`,
  options: { ...COMMON_OPTIONS, domain: { type: 'string' }, ip: { type: 'string' }, blocklists: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ config, flags, positionals }) {
    if (positionals.length > 0) throw new HygieneError('USAGE', 'doctor takes no arguments; name a domain with --domain example.com');
    const ip =
      typeof flags.ip === 'string'
        ? flags.ip
            .split(',')
            .map((a) => a.trim())
            .filter((a) => a !== '')
        : undefined;
    if (ip !== undefined && ip.length === 0) throw new HygieneError('USAGE', '--ip needs an address: hygiene doctor --ip 203.0.113.7');
    const report = await runDoctor(config, { domain: typeof flags.domain === 'string' ? flags.domain : undefined, ip, blocklists: flags.blocklists === true });
    process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
    return report.ok ? 0 : 1;
  },
};
