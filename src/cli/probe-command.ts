/**
 * `hygiene probe ADDRESS`: the manual diagnosis of one address in one command — the MX lookup, the
 * live SMTP transcript with timings (greeting, EHLO and its extensions, STARTTLS, MAIL FROM, RCPT TO,
 * the catch-all probe, QUIT) and the verdict with its reason. It runs the same engine and config as
 * `verify` (a HygieneRuntime without workers, its verifier called directly), never a second code
 * path; only the caches are bypassed (skipCache) and idle sessions are closed at once so the QUIT is
 * part of the transcript.
 */
import { performance } from 'node:perf_hooks';
import { createLogger } from '../app/logger.ts';
import { createRedisClient, resolveRedisEndpoint } from '../app/redis-connection.ts';
import { HygieneRuntime } from '../app/runtime.ts';
import type { Config } from '../config/config.ts';
import { createDnsMxResolver, type MxResolution, type MxResolver } from '../dns/mx-resolver.ts';
import { parseEmailAddress } from '../domain/email-address.ts';
import type { Verdict } from '../domain/verdict.ts';
import { HygieneError } from '../errors.ts';
import { improbableLocalPart } from '../probe/catch-all-registry.ts';
import { listKeys, verdictCacheKey } from '../store/redis-keys.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

export interface ProbeTranscriptLine {
  mx: string;
  direction: 'client' | 'server' | 'info';
  text: string;
  /** Milliseconds since the probe started. */
  atMs: number;
  /** 'catch-all probe': the RCPT of an address that cannot exist (or the server's words about it). */
  role?: 'catch-all probe';
}

/** One host of the MX list, and what became of it in this probe. */
export interface ProbeMxAttempt {
  mx: string;
  preference: number;
  /** used: it answered about the address; not-used: tried and could not be used (why says why); not-tried: not needed. */
  outcome: 'used' | 'not-used' | 'not-tried';
  why?: string;
}

export interface ProbeResult {
  address: string;
  domain: string;
  mx: { resolution: MxResolution; ms: number };
  /** Each MX host in the order of the lookup: used, tried and not used (refused, timed out, paused...) and why, or not needed. */
  mxAttempts: ProbeMxAttempt[];
  /** The improbable address asked to tell a catch-all domain (null when none was asked). */
  catchAllProbe: string | null;
  transcript: ProbeTranscriptLine[];
  verdict: Verdict;
  /** True when the server answered "try again later" (greylisting): the verdict is provisional. */
  retryLater: boolean;
  /**
   * The verdict cache: never used by a probe (it asks the server every time), but shown: what it held
   * for this address before the probe, and what it holds after (facts only: an unknown is never cached).
   */
  cache: { used: false; before: Verdict | null; after: Verdict | null };
  timings: { dnsMs: number; smtpMs: number; totalMs: number };
}

/** The probe itself (also used by tests): returns what `hygiene probe --json` prints. */
export async function runProbe(config: Config, address: string, options: { resolver?: MxResolver } = {}): Promise<ProbeResult> {
  const parsed = parseEmailAddress(address);
  if (!parsed.ok) throw new HygieneError('USAGE', `"${address}" is not an email address: ${parsed.detail}`);
  // The same settings as verify, except: close a session as soon as it is idle, so QUIT is shown.
  const probeConfig: Config = { ...config, smtp: { ...config.smtp, idleSessionMs: 0 } };
  const resolver =
    options.resolver ?? createDnsMxResolver({ servers: [...config.dns.servers], timeoutMs: config.dns.timeoutMs, tries: config.dns.tries });
  const started = performance.now();
  const since = () => Math.round((performance.now() - started) * 10) / 10;

  const resolution = await resolver.resolve(parsed.domain);
  const dnsMs = since();

  const endpoint = await resolveRedisEndpoint(config.redisUrl, config.redisUrlExplicit);
  const transcript: ProbeTranscriptLine[] = [];
  const listId = `probe-${process.pid}-${Date.now().toString(36)}`;
  /** Hosts that could not be used, with why (the first answer for each). */
  const notUsed = new Map<string, string>();
  let verdict: Verdict;
  let retryLater = false;
  let smtpMs = 0;
  let cache: ProbeResult['cache'] = { used: false, before: null, after: null };
  try {
    const runtime = await HygieneRuntime.start({
      config: probeConfig,
      logger: createLogger(config.logLevel),
      redisUrl: endpoint.url,
      verifyWorkers: false,
      finalizeWorker: false,
      verifier: 'smtp',
      // The resolver that answered above answers the engine too: what is shown is what was used.
      resolver,
      poolEvents: {
        onTranscript: (mx, entry) => transcript.push({ mx, direction: entry.direction, text: entry.text, atMs: since() }),
        onMxNotUsed: (mx, forList, why) => {
          if (forList !== listId || notUsed.has(mx)) return;
          notUsed.set(mx, why);
          transcript.push({ mx, direction: 'info', text: `not used: ${why}`, atMs: since() });
        },
      },
    });
    const cached = async (): Promise<Verdict | null> => {
      // For display only: an unreadable cache shows as empty.
      const raw = await runtime.redis.get(verdictCacheKey(config.keyPrefix, parsed.key)).catch(() => null);
      try {
        return raw === null ? null : (JSON.parse(raw) as Verdict);
      } catch {
        return null;
      }
    };
    try {
      const before = await cached();
      const smtpStarted = performance.now();
      const outcomes = await runtime.verifier.verify({
        listId,
        addresses: [{ address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal }],
        attempt: 1,
        maxAttempts: 1,
        skipCache: true,
      });
      smtpMs = Math.round(performance.now() - smtpStarted);
      const outcome = outcomes.get(parsed.address);
      if (!outcome) throw new HygieneError('SMTP_PROTOCOL', `The verifier gave no answer for ${parsed.address}.`);
      verdict = outcome.verdict;
      retryLater = outcome.kind === 'retry';
      cache = { used: false, before, after: await cached() };
    } finally {
      // Closing the pools sends the QUITs (they land in the transcript) and flushes the counters.
      await runtime.close();
    }
    const cleanup = createRedisClient(endpoint.url, 'hygiene-probe-cleanup');
    // Tidying a probe's counters: left behind, they expire with the list.
    await cleanup.del(listKeys(config.keyPrefix, listId).mxStats).catch(() => 0);
    cleanup.disconnect();
  } finally {
    await endpoint.stop?.();
  }
  const catchAllProbe = labelCatchAllProbe(transcript, parsed.domain);
  return {
    address: parsed.address,
    domain: parsed.domain,
    mx: { resolution, ms: dnsMs },
    mxAttempts: mxAttempts(resolution, transcript, notUsed, verdict),
    catchAllProbe,
    transcript,
    verdict,
    retryLater,
    cache,
    timings: { dnsMs, smtpMs, totalMs: Math.round(since()) },
  };
}

/**
 * Marks the catch-all probe in the transcript: our RCPT of the domain's improbable address
 * (catch-all-registry.ts) and the server lines that name it. Returns that address when it was asked.
 */
function labelCatchAllProbe(transcript: ProbeTranscriptLine[], domain: string): string | null {
  const probe = `${improbableLocalPart(domain)}@${domain}`;
  let asked = false;
  for (const line of transcript) {
    if (line.direction === 'info' || !line.text.toLowerCase().includes(`<${probe}>`)) continue;
    line.role = 'catch-all probe';
    if (line.direction === 'client') asked = true;
  }
  return asked ? probe : null;
}

function mxAttempts(resolution: MxResolution, transcript: readonly ProbeTranscriptLine[], notUsed: ReadonlyMap<string, string>, verdict: Verdict): ProbeMxAttempt[] {
  if (resolution.kind === 'none') return [];
  const spoke = new Set(transcript.filter((l) => l.direction !== 'info').map((l) => l.mx));
  return resolution.hosts.map((host) => {
    const mx = host.exchange.toLowerCase();
    const why = notUsed.get(mx);
    if (why !== undefined) return { mx: host.exchange, preference: host.preference, outcome: 'not-used', why };
    const used = spoke.has(mx) || verdict.mx?.toLowerCase() === mx;
    return { mx: host.exchange, preference: host.preference, outcome: used ? 'used' : 'not-tried' };
  });
}

function describeCached(v: Verdict | null): string {
  return v === null ? 'nothing' : `${v.status} / ${v.reason}, checked ${v.checkedAt}`;
}

/** The human-readable form of a probe. */
export function formatProbe(result: ProbeResult): string {
  const out: string[] = [];
  const { resolution } = result.mx;
  out.push(`MX lookup for ${result.domain} (${Math.round(result.mx.ms)} ms):`);
  if (resolution.kind === 'none') {
    out.push(`  ${resolution.detail}`);
  } else {
    if (resolution.implicit) out.push('  no MX records: the domain\'s own address is its mail server (RFC 5321 §5.1)');
    for (const host of resolution.hosts) {
      out.push(`  ${String(host.preference).padStart(5)}  ${host.exchange}  ${host.addresses.length > 0 ? host.addresses.join(', ') : '(no address)'}`);
    }
  }
  out.push('');
  if (result.transcript.length === 0) {
    out.push('SMTP: no conversation (the verdict did not need one).');
  } else {
    out.push('SMTP transcript (C: we sent, S: the server replied, *: note):');
    let lastMx = '';
    for (const line of result.transcript) {
      if (line.mx !== lastMx) {
        out.push(`  [${line.mx}]`);
        lastMx = line.mx;
      }
      const tag = line.direction === 'client' ? 'C:' : line.direction === 'server' ? 'S:' : '* ';
      const time = `+${line.atMs.toFixed(0)} ms`.padStart(10);
      const [first, ...rest] = line.text.split(/\r?\n/).filter((l) => l !== '');
      out.push(`  ${time}  ${tag} ${first ?? ''}${line.role ? `   [${line.role}]` : ''}`);
      for (const more of rest) out.push(`  ${' '.repeat(10)}     ${more}`);
    }
    if (result.catchAllProbe) {
      out.push(`  [catch-all probe]: ${result.catchAllProbe} is made up not to exist; a server that accepts it accepts every address (catch-all), so its "accepted" proves nothing.`);
    }
  }
  if (result.mxAttempts.some((a) => a.outcome === 'not-used')) {
    out.push('');
    out.push('MX hosts (in the order tried):');
    for (const attempt of result.mxAttempts) {
      const what = attempt.outcome === 'used' ? 'used' : attempt.outcome === 'not-tried' ? 'not tried (not needed)' : `not used: ${attempt.why ?? ''}`;
      out.push(`  ${String(attempt.preference).padStart(5)}  ${attempt.mx}  ${what}`);
    }
  }
  out.push('');
  const v = result.verdict;
  out.push(`Verdict: ${v.status} / ${v.reason}${result.retryLater ? ' (provisional: the server asked us to try again later)' : ''}`);
  out.push(`  ${v.detail}`);
  if (v.smtpReply) out.push(`  reply: ${v.smtpReply}`);
  if (v.mx) out.push(`  MX: ${v.mx}`);
  if (v.suggestion) out.push(`  did you mean: ${v.suggestion}`);
  out.push(
    v.reason === 'suppressed'
      ? 'Answer: from the suppression list (no server was asked).'
      : `Answer: from the mail server, not the cache (probe always asks). The cache held ${describeCached(result.cache.before)}; it now holds ${describeCached(result.cache.after)}${v.status === 'unknown' ? ' (an unknown answer is never cached)' : ''}.`,
  );
  out.push(`Took ${result.timings.totalMs} ms (DNS ${Math.round(result.timings.dnsMs)} ms, SMTP ${result.timings.smtpMs} ms).`);
  return `${out.join('\n')}\n`;
}

export const probeCommand: Command = {
  defaultLogLevel: 'warn',
  probes: () => true,
  usage: `Usage: hygiene probe ADDRESS [--json] [options]

Diagnoses one address with the same engine and settings as "verify": the MX lookup (records,
preferences, addresses), the live SMTP conversation with timings (greeting, EHLO, STARTTLS,
MAIL FROM, RCPT TO, the catch-all probe marked [catch-all probe], QUIT), each MX host that could
not be used and why (refused, timed out, paused), and the verdict with its reason. Cached verdicts
are ignored: the server is asked now; the output says what the cache held before and holds after.

  --json    print the result as JSON (mx, mxAttempts, catchAllProbe, transcript, verdict, timings)
  plus the common options (see README): --redis-url, --dns-servers, --smtp-port, --helo-name, --mail-from, ...`,
  options: { ...COMMON_OPTIONS, json: { type: 'boolean' } },
  async run({ config, flags, positionals }) {
    const address = positionals[0];
    if (!address || positionals.length > 1) throw new HygieneError('USAGE', 'probe takes exactly one address: hygiene probe someone@example.com');
    const result = await runProbe(config, address);
    process.stdout.write(flags.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatProbe(result));
    return 0;
  },
};
