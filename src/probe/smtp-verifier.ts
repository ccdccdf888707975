/**
 * The production BatchVerifier: suppression list first, then the verdict cache (entries older than
 * the batch's maxVerdictAgeMs are misses), then MX resolution per domain, then RCPT probes
 * through one MxSessionPool per MX host (so domains that share a host share its sessions), moving to
 * the next MX by preference when a host cannot be used. A host paused because it slowed us down is
 * not a reason to try the next MX (a backup MX often accepts everything, and a provider's other
 * hosts count the same rate): its probes come back as a retry when the pause ends.
 *
 * Providers and outbound identities (issues 14 and 15): each MX host's provider is matched on its
 * name (provider-matcher.ts) and keys its limits; a domain whose provider accepts every RCPT
 * (Yahoo/AOL: the table's acceptsAll) is not probed at all (risky/catch_all, saying why). There is
 * one pool per (MX host, outbound identity); each probe goes to an identity the provider allows (its
 * `identities` pins) that is not resting for that provider (sender-block breaker) or dead (its proxy
 * down), least loaded first. A probe handed back because its identity rests goes to another one;
 * when every allowed identity rests, it waits (a deferred retry due when the earliest rest ends) if
 * that is within `maxRestWaitMs`, else it is unknown/policy_block at once: about us, never cached,
 * never rejected (routing-policy.ts). Every verdict that went through an MX names its provider, and
 * the identity when SMTP was used.
 *
 * With a fault guard (probe/fault-guard.ts), what may be cached is the guard's decision (facts only;
 * "no such domain" only once DNS has proven healthy), and once it trips the verifier stops: no new
 * lookup or probe starts and queued probes are handed back.
 */
import type { Logger } from 'pino';
import { localPartVariants } from '../domain/local-part-variants.ts';
import { allHostsFailedMeaning, pausedReason, type HostFailureCause } from '../domain/failure-meaning.ts';
import { verdictFromProbe } from '../domain/probe-verdict.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { AddressToVerify, BatchVerifier, ProbeOutcome, VerifyBatch } from '../domain/verifier.ts';
import type { MxHost, MxResolver } from '../dns/mx-resolver.ts';
import type { CatchAllRegistry } from './catch-all-registry.ts';
import { allowedMxHosts, mxNotAllowedVerdict } from './mx-address-policy.ts';
import { MxSessionPool, type MxSessionPoolDeps, type PoolStats, type RcptResult } from './mx-session-pool.ts';
import { replyToText, type SmtpReply } from '../domain/smtp-reply.ts';
import type { VerdictCache } from './verdict-cache.ts';
import type { CacheDecision } from './fault-guard.ts';
import type { HygieneError } from '../errors.ts';
import type { MxPause } from './mx-pause-store.ts';
import type { ProviderMatch, ProviderMatcher } from '../providers/provider-matcher.ts';
import { acceptsAllOf } from '../providers/provider-replies.ts';
import type { PoolSmtpSettings } from './mx-session-pool.ts';
import type { SenderRest } from './sender-block-store.ts';

/** One outbound identity the verifier may route probes through: its id and its pools' settings (connector, HELO, MAIL FROM). */
export interface VerifierIdentity {
  id: string;
  settings: PoolSmtpSettings;
}

/** Why an identity handed a probe back for one host: it rests (sender block), is paused, or is dead (its proxy). */
interface HandedBack {
  until: number;
  rest?: SenderRest;
  pause?: MxPause;
}

/** Which identities can be used now: one whose proxy is down rests (identity-health.ts). */
export interface IdentityAvailability {
  /** Null when usable; else until when (ms since epoch) it is not. */
  unusableUntil(identity: string): number | null;
}

/** What the verifier asks of the run's fault guard. */
export interface VerifierGuard {
  readonly error: HygieneError | null;
  cacheDecision(verdict: Verdict): CacheDecision;
  onTrip(listener: (error: HygieneError) => void): void;
  /** Resolves when no decision of the guard is pending (a DNS canary check in flight). */
  settled(): Promise<void>;
}

export interface SmtpVerifierDeps {
  resolver: MxResolver;
  cache: VerdictCache;
  catchAll: CatchAllRegistry;
  pool: Omit<MxSessionPoolDeps, 'catchAll'>;
  logger: Logger;
  greylistRetryMs: number;
  /** Delay before asking again a domain whose servers all answered "busy" (4xx greeting). */
  busyRetryMs?: number;
  /** Addresses on the suppression list are answered without probing (bounce-log suppression). */
  isSuppressed?: (keys: string[]) => Promise<Map<string, string>>;
  now?: () => Date;
  /** Domains resolved at once per batch. */
  dnsConcurrency?: number;
  /** mailbox_not_found: probe up to this many close spellings, suggest the one that exists (0 = off). */
  suggestVariants?: number;
  /** The run's fault guard: cache decisions and the early stop. */
  guard?: VerifierGuard;
  /** Provider matcher (compiled provider table): limits, reply meanings, acceptsAll. */
  matcher?: ProviderMatcher;
  /** Outbound identities, in configured order; default one: the pool settings' own. */
  identities?: readonly VerifierIdentity[];
  /** Identities that cannot be used for a while (a dead proxy). */
  availability?: IdentityAvailability;
  /** Every allowed identity rests for a provider: wait for the earliest rest when it ends within this, else unknown/policy_block now. Default 5 min. */
  maxRestWaitMs?: number;
}

export interface SmtpVerifier extends BatchVerifier {
  /** Per pool: "mx" with one identity, "mx via identity" with several. */
  poolStats(): Map<string, PoolStats>;
  /** Per outbound identity: its pools' counters summed. */
  identityStats(): Map<string, PoolStats>;
}

export function createSmtpVerifier(deps: SmtpVerifierDeps): SmtpVerifier {
  const pools = new Map<string, MxSessionPool>();
  const now = deps.now ?? (() => new Date());

  const guard = deps.guard;
  const cacheWriter = createCacheWriter(deps.cache, guard);
  guard?.onTrip((error) => {
    for (const pool of pools.values()) pool.abandonQueued(`Stopped before this address was asked: ${error.message}`);
  });
  /** The answer for addresses not asked because the run stopped (never recorded: the list fails). */
  const halted = (error: HygieneError): ProbeOutcome => ({
    kind: 'verdict',
    verdict: { status: 'unknown', reason: 'not_verified', detail: `Stopped before this address was checked: ${error.message}`, checkedAt: now().toISOString() },
  });

  const identities: readonly VerifierIdentity[] = deps.identities?.length ? deps.identities : [{ id: deps.pool.settings.identity ?? 'direct', settings: deps.pool.settings }];
  const several = identities.length > 1;
  const maxRestWaitMs = deps.maxRestWaitMs ?? 5 * 60_000;
  /** Probes submitted and not yet resolved, per limit key: "least loaded" routing. */
  const inFlight = new Map<string, number>();
  const providerOfHost = new Map<string, ProviderMatch | null>();

  function hostProvider(host: MxHost): ProviderMatch | null {
    const name = host.exchange.toLowerCase();
    if (!providerOfHost.has(name)) providerOfHost.set(name, deps.matcher?.providerOf([name]) ?? null);
    return providerOfHost.get(name) ?? null;
  }

  function poolFor(host: MxHost, identity: VerifierIdentity): MxSessionPool {
    const mx = host.exchange.toLowerCase();
    const key = several ? `${mx} via ${identity.id}` : mx;
    let pool = pools.get(key);
    if (!pool) {
      pool = new MxSessionPool(mx, host.addresses, { ...deps.pool, settings: { ...identity.settings, identity: identity.id }, catchAll: deps.catchAll }, hostProvider(host));
      pools.set(key, pool);
    }
    return pool;
  }

  /** The identities the provider allows (its pins), in configured order. */
  function allowedIdentities(match: ProviderMatch | null): VerifierIdentity[] {
    const pins = match?.provider.identities ?? null;
    return pins === null ? [...identities] : identities.filter((i) => pins.includes(i.id));
  }

  /** Why an identity cannot take a probe for this host now (resting for its provider, or dead), or null. */
  function unusable(host: MxHost, identity: VerifierIdentity, tried: ReadonlyMap<string, HandedBack>): { until: number } | null {
    const back = tried.get(identity.id);
    if (back) return { until: back.until };
    const dead = deps.availability?.unusableUntil(identity.id) ?? null;
    if (dead !== null) return { until: dead };
    const rest = poolFor(host, identity).resting;
    return rest ? { until: rest.until } : null;
  }

  /** Probes one address, falling back along the MX list; resolves with its outcome. */
  function probe(listId: string, address: AddressToVerify, hosts: MxHost[]): Promise<ProbeOutcome> {
    const attempts: string[] = [];
    const causes = new Set<HostFailureCause>();
    let rejection: SmtpReply | undefined;
    return new Promise((resolve) => {
      /** Identities that handed the probe back for the host being tried: resting, paused or dead. */
      let tried = new Map<string, HandedBack>();
      /**
       * Identities that could not reach the host being tried (connection refused or timed out). With
       * several identities that may be our way out (a proxy whose rules refuse port 25, a local
       * address without a route), not the host: another identity asks before the host counts as
       * failed, so our network never becomes a row's verdict. Every identity failing is the host's.
       */
      let unreached = new Map<string, Extract<RcptResult, { kind: 'host-failed' }>>();
      const hostFailed = (index: number, failures: ReadonlyArray<Extract<RcptResult, { kind: 'host-failed' }>>) => {
        for (const failure of failures) {
          attempts.push(failure.detail);
          causes.add(failure.cause);
          rejection ??= failure.reply;
        }
        tried = new Map();
        unreached = new Map();
        tryHost(index + 1, 0);
      };
      const withProvider = (outcome: ProbeOutcome, provider: string | null, identity?: string): ProbeOutcome => {
        if (provider !== null) outcome.verdict.provider = provider;
        if (identity !== undefined) outcome.verdict.identity = identity;
        return outcome;
      };
      const tryHost = (index: number, losses: number) => {
        const stopped = guard?.error;
        if (stopped) {
          resolve(halted(stopped));
          return;
        }
        const host = hosts[index];
        if (!host) {
          const meaning = allHostsFailedMeaning(causes);
          const verdict = allHostsFailed(address.domain, hosts, attempts, meaning.reason, rejection, now());
          const first = hosts[0];
          resolve(withProvider(meaning.retry ? { kind: 'retry', retryAfterMs: deps.busyRetryMs ?? deps.greylistRetryMs, verdict } : { kind: 'verdict', verdict }, first ? (hostProvider(first)?.provider.slug ?? null) : null));
          return;
        }
        const match = hostProvider(host);
        const slug = match?.provider.slug ?? null;
        const allowed = allowedIdentities(match);
        const candidates = allowed.filter((identity) => !unreached.has(identity.id) && unusable(host, identity, tried) === null);
        if (candidates.length === 0 && unreached.size > 0) {
          // Every identity that could ask failed to reach it: the host's failure, as with one identity.
          hostFailed(index, [...unreached.values()]);
          return;
        }
        if (candidates.length === 0) {
          // The identity that was refused, when one was (the verdict names who asked).
          const asked = tried.size === 1 ? [...tried.keys()][0] : undefined;
          // Every allowed identity paused (none blocked or dead): wait for the earliest pause, as always.
          const pauses = [...tried.values()].map((b) => b.pause);
          if (pauses.length === allowed.length && pauses.every((p): p is MxPause => p !== undefined)) {
            const earliest = pauses.reduce((a, b) => (b.until < a.until ? b : a));
            resolve(withProvider(pausedOutcome(address.address, host.exchange.toLowerCase(), earliest, now()), slug, asked));
            return;
          }
          resolve(withProvider(everyIdentityResting(address.address, host.exchange.toLowerCase(), slug, allowed.map((i) => unusable(host, i, tried)?.until ?? 0), tried, now(), maxRestWaitMs), slug, asked));
          return;
        }
        // Least loaded first (probes in flight under its limit key); ties go to the configured order.
        let identity = candidates[0]!;
        let pool = poolFor(host, identity);
        for (const other of candidates.slice(1)) {
          const otherPool = poolFor(host, other);
          if ((inFlight.get(otherPool.limitKey) ?? 0) < (inFlight.get(pool.limitKey) ?? 0)) {
            identity = other;
            pool = otherPool;
          }
        }
        const key = pool.limitKey;
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        pool.submit([
          {
            listId,
            address,
            losses,
            resolve: (result: RcptResult) => {
              inFlight.set(key, Math.max(0, (inFlight.get(key) ?? 1) - 1));
              if (result.kind === 'resting') {
                // This identity rests for this provider: another identity asks, or the probe waits.
                deps.pool.events?.onMxNotUsed?.(result.mx, listId, result.detail);
                tried.set(identity.id, { until: result.rest.until, rest: result.rest });
                tryHost(index, losses);
                return;
              }
              if (result.kind === 'paused') {
                // This (provider or server, identity) slowed us down: another identity asks meanwhile,
                // or, when every one is paused, the probe waits for the earliest pause.
                deps.pool.events?.onMxNotUsed?.(result.mx, listId, `${result.pause.detail}; paused until ${new Date(result.pause.until).toISOString()}`);
                tried.set(identity.id, { until: result.pause.until, pause: result.pause });
                tryHost(index, losses);
                return;
              }
              if (result.kind === 'host-failed') {
                deps.pool.events?.onMxNotUsed?.(result.mx, listId, result.detail);
                if (deps.availability?.unusableUntil(identity.id) != null && several) {
                  // Its proxy died: not a fact about the host; another identity asks it.
                  tried.set(identity.id, { until: deps.availability.unusableUntil(identity.id) ?? Number.POSITIVE_INFINITY });
                  tryHost(index, losses);
                  return;
                }
                if (several && (result.cause === 'refused' || result.cause === 'timeout')) {
                  unreached.set(identity.id, result);
                  tryHost(index, losses);
                  return;
                }
                hostFailed(index, [result]);
                return;
              }
              resolve(withProvider(verdictFromProbe(result, { address: address.address, checkedAt: now(), greylistRetryMs: deps.greylistRetryMs }), pool.providerSlug, identity.id));
            },
          },
        ]);
      };
      tryHost(0, 0);
    });
  }

  /**
   * A mailbox the server says does not exist may be a typo of one that does: behind the
   * suggestVariants option, probe a few close spellings through the same pool (same sessions, same
   * error budget) and suggest the first the server accepts. Not on catch-all domains (every
   * spelling would "exist") and never for non-ASCII local parts.
   */
  async function probeWithSuggestion(listId: string, address: AddressToVerify, hosts: MxHost[]): Promise<ProbeOutcome> {
    const outcome = await probe(listId, address, hosts);
    const limit = deps.suggestVariants ?? 0;
    if (limit <= 0 || outcome.kind !== 'verdict' || outcome.verdict.reason !== 'mailbox_not_found' || !address.asciiLocal) return outcome;
    if (deps.catchAll.known(address.domain) !== 'no') return outcome;
    const variants = localPartVariants(address.local, limit);
    const answers = await Promise.all(variants.map((local) => probe(listId, { ...address, local, address: `${local}@${address.domain}` }, hosts)));
    const hit = answers.findIndex((a) => a.kind === 'verdict' && a.verdict.status === 'deliverable');
    if (hit >= 0) outcome.verdict.suggestion = `${variants[hit]}@${address.domain}`;
    return outcome;
  }

  return {
    poolStats() {
      return new Map([...pools].map(([mx, pool]) => [mx, { ...pool.stats }]));
    },

    identityStats() {
      const byIdentity = new Map<string, PoolStats>();
      for (const pool of pools.values()) {
        const sum = byIdentity.get(pool.identity) ?? { sessions: 0, maxConcurrentSessions: 0, rcpts: 0, roundTrips: 0, reconnects: 0, errors: 0 };
        sum.sessions += pool.stats.sessions;
        sum.maxConcurrentSessions = Math.max(sum.maxConcurrentSessions, pool.stats.maxConcurrentSessions);
        sum.rcpts += pool.stats.rcpts;
        sum.roundTrips += pool.stats.roundTrips;
        sum.reconnects += pool.stats.reconnects;
        sum.errors += pool.stats.errors;
        byIdentity.set(pool.identity, sum);
      }
      return byIdentity;
    },

    async verify(batch: VerifyBatch): Promise<Map<string, ProbeOutcome>> {
      const outcomes = new Map<string, ProbeOutcome>();
      const keyOf = (a: AddressToVerify) => a.address.toLowerCase();

      // Suppression first: an address that hard-bounced since it was cached must not come back
      // from the cache as deliverable.
      let pending = batch.addresses;
      if (deps.isSuppressed && pending.length > 0) {
        const suppressed = await deps.isSuppressed(pending.map(keyOf));
        pending = pending.filter((a) => {
          const why = suppressed.get(keyOf(a));
          if (why === undefined) return true;
          outcomes.set(a.address, {
            kind: 'verdict',
            verdict: { status: 'undeliverable', reason: 'suppressed', detail: `On the suppression list: ${why}`, checkedAt: now().toISOString() },
          });
          return false;
        });
      }

      // A re-verification run (maxVerdictAgeMs) treats cache entries checked longer ago as misses.
      // A probe (`hygiene probe`, skipCache) asks the server now, whatever the cache says.
      const cached = batch.skipCache ? new Map<string, Verdict>() : await deps.cache.getMany(pending.map(keyOf));
      const oldest = batch.maxVerdictAgeMs === undefined ? null : now().getTime() - batch.maxVerdictAgeMs;
      pending = pending.filter((a) => {
        const hit = cached.get(keyOf(a));
        const fresh = hit !== undefined && (oldest === null || Date.parse(hit.checkedAt) >= oldest);
        if (hit && fresh) outcomes.set(a.address, { kind: 'verdict', verdict: hit });
        return !fresh;
      });

      const byDomain = new Map<string, AddressToVerify[]>();
      for (const a of pending) {
        const list = byDomain.get(a.domain) ?? [];
        list.push(a);
        byDomain.set(a.domain, list);
      }
      if (!batch.skipCache) await deps.catchAll.preload([...byDomain.keys()]);

      const probes: Array<Promise<void>> = [];
      const domains = [...byDomain.entries()];
      const dnsConcurrency = deps.dnsConcurrency ?? 16;
      let next = 0;
      const resolveWorker = async () => {
        while (next < domains.length) {
          const [domain, addresses] = domains[next++]!;
          const stopped = guard?.error;
          if (stopped) {
            for (const a of addresses) outcomes.set(a.address, halted(stopped));
            continue;
          }
          const resolution = await deps.resolver.resolve(domain);
          if (resolution.kind === 'none') {
            for (const a of addresses) {
              const verdict: Verdict = { status: resolution.status, reason: resolution.reason, detail: resolution.detail, checkedAt: now().toISOString() };
              outcomes.set(a.address, { kind: 'verdict', verdict });
              cacheWriter.write(keyOf(a), verdict);
            }
            continue;
          }
          // API work: MX hosts on private addresses are refused; what that policy shaped is never cached.
          const hosts = batch.refusePrivateMx ? allowedMxHosts(resolution.hosts) : resolution.hosts;
          if (hosts.length === 0) {
            const verdict = mxNotAllowedVerdict(domain, resolution.hosts, now());
            for (const a of addresses) outcomes.set(a.address, { kind: 'verdict', verdict });
            continue;
          }
          // A provider that accepts every RCPT (Yahoo/AOL) is not asked at all: asking proves nothing
          // and costs its patience. Decided by the domain's most preferred MX hosts.
          const domainProvider = deps.matcher?.providerForDomain(resolution) ?? null;
          const acceptsAll = acceptsAllOf(domainProvider);
          if (domainProvider && acceptsAll) {
            for (const a of addresses) {
              const verdict: Verdict = {
                status: 'risky',
                reason: 'catch_all',
                detail: `${domainProvider.provider.name}: not probed, this mailbox cannot be confirmed. ${acceptsAll.reason}`,
                mx: hosts[0]?.exchange,
                provider: domainProvider.provider.slug,
                checkedAt: now().toISOString(),
              };
              outcomes.set(a.address, { kind: 'verdict', verdict });
              if (hosts.length === resolution.hosts.length) cacheWriter.write(keyOf(a), verdict);
            }
            continue;
          }
          for (const a of addresses) {
            probes.push(
              probeWithSuggestion(batch.listId, a, hosts).then((outcome) => {
                outcomes.set(a.address, outcome);
                // Into the cache as soon as it is known, not at the end of the batch: a worker killed
                // mid-job leaves these answers behind, and the job's re-run asks the server nothing twice.
                if (outcome.kind === 'verdict' && hosts.length === resolution.hosts.length) cacheWriter.write(keyOf(a), outcome.verdict);
              }),
            );
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(dnsConcurrency, domains.length) }, resolveWorker));
      await Promise.all(probes);
      // A decision about our own faults may be pending (a canary check): the batch's answers wait for it.
      await guard?.settled();

      await cacheWriter.flush();
      return outcomes;
    },

    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

/** Every MX of the domain failed (the reason is allHostsFailedMeaning's); the detail names each attempt. */
function allHostsFailed(domain: string, hosts: MxHost[], attempts: string[], reason: Verdict['reason'], rejection: SmtpReply | undefined, at: Date): Verdict {
  // The server's own words, when one answered: a rejection, or its "busy, try later".
  return {
    status: 'unknown',
    reason,
    detail: `No mail server for ${domain} could be used: ${attempts.join('; ')}.`,
    smtpReply: rejection ? replyToText(rejection) : undefined,
    mx: hosts[0]?.exchange,
    checkedAt: at.toISOString(),
  };
}

/**
 * Every identity the provider allows rests (sender blocks) or is dead (its proxy down). When the
 * earliest comes back within `maxWaitMs`, the probe waits for it (a deferred retry, like a pause);
 * otherwise it is unknown/policy_block now: about us, never cached, never rejected.
 */
function everyIdentityResting(address: string, mx: string, provider: string | null, untils: number[], tried: ReadonlyMap<string, HandedBack>, at: Date, maxWaitMs: number): ProbeOutcome {
  const earliest = Math.min(...untils.filter((u) => Number.isFinite(u)), Number.POSITIVE_INFINITY);
  const rest = [...tried.values()].map((b) => b.rest).find((r): r is SenderRest => r !== undefined);
  const who = provider ?? mx;
  const until = Number.isFinite(earliest) ? new Date(earliest).toISOString() : 'further notice';
  const verdict: Verdict = {
    status: 'unknown',
    reason: 'policy_block',
    detail: `Not verified: ${who} refuses every outbound identity allowed to ask it (a sender block${rest ? `: ${rest.reply || rest.signature}` : ''}); they rest until ${until}. This is about us, not ${address}.`,
    smtpReply: rest?.reply || undefined,
    mx,
    checkedAt: at.toISOString(),
  };
  const waitMs = earliest - at.getTime();
  if (Number.isFinite(earliest) && waitMs <= maxWaitMs) return { kind: 'retry', notAsked: true, retryAfterMs: Math.max(1_000, waitMs + 250), verdict };
  return { kind: 'verdict', verdict };
}

/** A probe the paused server was not asked: retry when the pause ends (a little after, so the pause is over). */
function pausedOutcome(address: string, mx: string, pause: MxPause, at: Date): ProbeOutcome {
  return {
    kind: 'retry',
    notAsked: true,
    retryAfterMs: Math.max(1_000, pause.until - at.getTime() + 250),
    verdict: {
      status: 'unknown',
      reason: pausedReason(pause.kind),
      detail: `${pause.detail}; it was paused until ${new Date(pause.until).toISOString()} and the retries ran out before it could be asked about ${address}.`,
      smtpReply: pause.reason || undefined,
      mx,
      checkedAt: at.toISOString(),
    },
  };
}

/**
 * Verdicts go to the cache in small batches as they arrive (one Redis round trip per 100 ms or 200
 * verdicts), so answers survive a crash of the job that asked for them. Only what the guard allows:
 * a verdict it holds (a DNS-derived "does not exist" before DNS has proven healthy) waits for the end
 * of the batch and is written only if DNS has proven healthy by then; once the guard trips, nothing
 * more is written, not even what is buffered.
 */
function createCacheWriter(cache: VerdictCache, guard: VerifierGuard | undefined) {
  let buffer: Array<[string, Verdict]> = [];
  let held: Array<[string, Verdict]> = [];
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  const decide = (verdict: Verdict): CacheDecision => (guard ? guard.cacheDecision(verdict) : 'write');
  const flushNow = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const entries = buffer.filter(([, verdict]) => decide(verdict) === 'write');
    buffer = [];
    if (entries.length === 0) return inFlight;
    // A cache write that fails only costs a probe next time: losing it is safe.
    inFlight = inFlight.then(() => cache.setMany(entries)).catch(() => undefined);
    return inFlight;
  };
  return {
    write(key: string, verdict: Verdict): void {
      if (verdict.cached) return;
      const decision = decide(verdict);
      if (decision === 'drop') return;
      if (decision === 'hold') {
        held.push([key, verdict]);
        return;
      }
      buffer.push([key, verdict]);
      if (buffer.length >= 200) void flushNow();
      else timer ??= setTimeout(() => void flushNow(), 100);
    },
    /** End of a batch: held verdicts are written if DNS has proven healthy meanwhile, else forgotten. */
    flush(): Promise<void> {
      buffer.push(...held);
      held = [];
      return flushNow();
    },
  };
}
