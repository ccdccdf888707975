/**
 * `hygiene doctor [--domain example.com]`: checks what a verify run depends on and says plainly what
 * is wrong — Redis, the DNS servers, outbound port 25 to a real MX of a domain the user names (port 25
 * blocked on a cloud host is the most common reason a verifier returns nothing but timeouts), and
 * whether the HELO name resolves and its address's PTR points back to it (forward-confirmed reverse
 * DNS; many servers refuse or tarpit a client without it). Exit code 1 when any check fails.
 *
 * It uses the same resolver and SMTP session code as the engine, with the same config.
 */
import net from 'node:net';
import { Resolver } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { pingRedis } from '../app/redis-connection.ts';
import type { Config } from '../config/config.ts';
import { askCanaries, isResolved } from '../dns/dns-canaries.ts';
import { createDnsMxResolver, type MxHost } from '../dns/mx-resolver.ts';
import { HygieneError, isHygieneError, isSmtpError } from '../errors.ts';
import { SmtpSession } from '../smtp/smtp-session.ts';
import { replyToText } from '../domain/smtp-reply.ts';
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  name: 'redis' | 'dns' | 'port25' | 'helo';
  status: CheckStatus;
  /** What was found, in a sentence. */
  detail: string;
  /** What to do about it, when something is wrong. */
  fix?: string;
  ms: number;
}

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
}

/** Runs every check (each survives the others failing) and returns them in order. */
export async function runDoctor(config: Config, options: DoctorOptions): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const timed = async (name: DoctorCheck['name'], run: () => Promise<Omit<DoctorCheck, 'name' | 'ms'>>): Promise<void> => {
    const started = performance.now();
    try {
      checks.push({ name, ...(await run()), ms: Math.round(performance.now() - started) });
    } catch (err) {
      checks.push({ name, status: 'fail', detail: `The check itself failed: ${(err as Error).message}`, ms: Math.round(performance.now() - started) });
    }
  };
  const dnsServers = config.dns.servers.length > 0 ? config.dns.servers.join(', ') : 'the system resolvers (/etc/resolv.conf)';
  let outboundIp: string | undefined;

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
  const canaryVerdict = async (what: string): Promise<Omit<DoctorCheck, 'name' | 'ms'> | null> => {
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

  await timed('port25', async () => {
    const port = config.smtp.port;
    if (!options.domain) return { status: 'skip', detail: `Outbound port ${port} not tested: name a domain that receives mail with --domain example.com.` };
    const targets = hosts.flatMap((h) => h.addresses.map((ip) => ({ mx: h.exchange, ip }))).slice(0, 4);
    if (targets.length === 0) return { status: 'skip', detail: `No MX address of ${options.domain} to try.` };
    const failures: string[] = [];
    let timeouts = 0;
    for (const target of targets) {
      const tcp = await tcpConnect(target.ip, port, config.smtp.timeouts.connectMs, config.smtp.localAddress);
      if (!tcp.ok) {
        if (tcp.timeout) timeouts += 1;
        failures.push(`${target.mx} [${target.ip}]: ${tcp.detail}`);
        continue;
      }
      outboundIp = tcp.localAddress;
      if (config.smtp.heloName === undefined) {
        return { status: 'warn', detail: `Port ${port} is open (connected to ${target.mx} [${target.ip}] from ${outboundIp}); EHLO not tried: there is no HELO name (see below).`, fix: 'Set HYGIENE_HELO_NAME.' };
      }
      const smtp = await smtpHandshake(config, config.smtp.heloName, target.mx, target.ip);
      if (smtp.ok) {
        const before = failures.length > 0 ? ` (before that: ${failures.join('; ')})` : '';
        return { status: 'ok', detail: `Connected to ${target.mx} [${target.ip}]:${port} from ${outboundIp}; greeting "${smtp.greeting}", EHLO ${config.smtp.heloName} accepted${smtp.tls ? ', STARTTLS done' : ''}${before}.` };
      }
      return {
        status: 'warn',
        detail: `Port ${port} is open (connected to ${target.mx} [${target.ip}] from ${outboundIp}), but the server did not accept us: ${smtp.detail}`,
        fix: 'A refused greeting or EHLO is usually about reputation: a listed IP (DNSBL), a HELO name without matching PTR, or a residential range.',
      };
    }
    if (timeouts === failures.length) {
      return {
        status: 'fail',
        detail: `Every connection to port ${port} timed out: ${failures.join('; ')}.`,
        fix: `Outbound port ${port} is blocked here. Most cloud providers block it by default (AWS, Google Cloud, Azure, DigitalOcean...): ask them to lift the block, or run the verifier from a host that may send mail. This is why a verifier returns nothing but timeouts.`,
      };
    }
    return {
      status: 'fail',
      detail: `No connection to port ${port} succeeded: ${failures.join('; ')}.`,
      fix: `Check the firewall for outbound TCP ${port}; try another domain (--domain) to rule out that domain's servers.`,
    };
  });

  await timed('helo', async () => {
    if (config.smtp.heloName === undefined) {
      return { status: 'fail', detail: config.smtp.identityProblem ?? 'There is no HELO name.', fix: 'Set HYGIENE_HELO_NAME to this host\'s public FQDN, e.g. HYGIENE_HELO_NAME=verify.example.com, with a PTR for your outbound IP pointing back to it.' };
    }
    const helo = config.smtp.heloName.toLowerCase();
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
    const ptrMatches: string[] = [];
    for (const ip of a.addresses) {
      const names = await lookupPtr(config, ip);
      if (names.some((n) => n.toLowerCase().replace(/\.$/, '') === helo)) ptrMatches.push(ip);
      else problems.push(names.length > 0 ? `PTR of ${ip} is ${names.join(', ')}, not ${helo}` : `${ip} has no PTR record`);
    }
    const outbound = outboundIp && !isPrivate(outboundIp) ? outboundIp : undefined;
    if (outbound && !a.addresses.includes(outbound)) problems.push(`the outbound address ${outbound} is not an address of ${helo} (${a.addresses.join(', ')})`);
    const natNote = outboundIp && isPrivate(outboundIp) ? ` (outbound address ${outboundIp} is private: behind NAT, the public IP cannot be seen from here)` : '';
    if (problems.length === 0) return { status: 'ok', detail: `${helo} resolves to ${a.addresses.join(', ')} and the PTR points back to it${natNote}.` };
    return {
      status: 'warn',
      detail: `${helo} resolves to ${a.addresses.join(', ')}, but ${problems.join('; ')}${natNote}.`,
      fix: 'Ask whoever owns the IP (your cloud or hosting provider) to set its PTR to the HELO name, and make the HELO name\'s A record that IP. Servers answer 450 4.7.25 / 550 5.7.25 or tarpit clients without it.',
    };
  });

  return { ok: checks.every((c) => c.status !== 'fail'), complete: checks.every((c) => c.status !== 'skip'), checks };
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

type TcpResult = { ok: true; localAddress: string } | { ok: false; timeout: boolean; detail: string };

/** A bare TCP connect: tells a blocked port (timeout) from a refusing host, and shows our source IP. */
function tcpConnect(host: string, port: number, timeoutMs: number, localAddress?: string): Promise<TcpResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, localAddress });
    const done = (result: TcpResult) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, timeout: true, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true, localAddress: socket.localAddress ?? '?' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, timeout: err.code === 'ETIMEDOUT', detail: err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message) }));
  });
}

/** The engine's own session: greeting, EHLO, STARTTLS when offered, then QUIT. */
async function smtpHandshake(config: Config, heloName: string, mx: string, ip: string): Promise<{ ok: true; greeting: string; tls: boolean } | { ok: false; detail: string }> {
  try {
    const session = await SmtpSession.open({
      host: ip,
      port: config.smtp.port,
      serverName: mx,
      heloName,
      localAddress: config.smtp.localAddress,
      tls: config.smtp.tls,
      tlsCa: config.smtp.tlsCa,
      timeouts: config.smtp.timeouts,
    });
    const greeting = session.greeting.lines.at(-1) ?? '';
    const tls = session.tlsActive;
    await session.quit();
    return { ok: true, greeting: `${session.greeting.code} ${greeting}`.trim(), tls };
  } catch (err) {
    if (!isSmtpError(err)) return { ok: false, detail: isHygieneError(err) ? err.message : String(err) };
    const reply = err.context.reply;
    return { ok: false, detail: reply ? `${err.message} (${replyToText(reply)})` : err.message };
  }
}

const MARK: Record<CheckStatus, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const TITLE: Record<DoctorCheck['name'], string> = { redis: 'Redis', dns: 'DNS', port25: 'Outbound SMTP', helo: 'HELO name / PTR' };

export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`[${MARK[check.status]}] ${TITLE[check.name]}: ${check.detail}`);
    if (check.fix && check.status !== 'ok') lines.push(`       → ${check.fix}`);
  }
  const skipped = report.checks.filter((c) => c.status === 'skip').map((c) => TITLE[c.name]);
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
  usage: `Usage: hygiene doctor [--domain example.com] [--json] [options]

Checks Redis, the DNS servers (and whether they answer truthfully for well-known names), outbound
port 25 to the MX hosts of --domain (use a domain you know receives mail), and whether the HELO name
is set, resolves and its PTR points back to it. Says what is wrong and what to do. Exit code 1 when
a check fails. It says "Nothing blocks a verify run" only when no check failed or was skipped.

  --domain NAME   a domain whose mail servers to connect to (port 25 is only tested with one)
  --json          print the checks as JSON
  plus the common options (see README): --redis-url, --dns-servers, --smtp-port, --helo-name, ...`,
  options: { ...COMMON_OPTIONS, domain: { type: 'string' }, json: { type: 'boolean' } },
  async run({ config, flags, positionals }) {
    if (positionals.length > 0) throw new HygieneError('USAGE', 'doctor takes no arguments; name a domain with --domain example.com');
    const report = await runDoctor(config, { domain: typeof flags.domain === 'string' ? flags.domain : undefined });
    process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
    return report.ok ? 0 : 1;
  },
};
