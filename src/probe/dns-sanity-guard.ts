/**
 * Early detection of a resolver that fails or lies (issue 11): a resolver answering NXDOMAIN or
 * REFUSED for every name makes every address "undeliverable/no_such_domain" or "unknown/dns_error",
 * which is our fault, not the list's. Fed with every lookup the run makes (recordResolution): when
 * the first `threshold` distinct domains all failed to resolve (NXDOMAIN, SERVFAIL, REFUSED, timeouts)
 * and none resolved, a few well-known names (HYGIENE_DNS_CANARIES) are asked. If they fail too, the
 * guard trips once with DNS_FAILED naming HYGIENE_DNS_SERVERS. One real answer anywhere (a list's
 * domain or a canary) proves the resolver healthy for good: from then on a missing domain is a fact.
 *
 * A canary that fails is evidence, never enough on its own: a private resolver may not know public
 * names, so a run whose own domains resolve is never stopped because of the canaries.
 */
import type { Logger } from 'pino';
import { askCanaries, isResolved } from '../dns/dns-canaries.ts';
import type { MxResolution, MxResolver } from '../dns/mx-resolver.ts';
import { HygieneError } from '../errors.ts';

export interface DnsSanityGuardOptions {
  /** Distinct domains that must all fail before the canaries are asked. Default 5. */
  threshold?: number;
  /** Well-known names; empty = never trip (the resolver can then never be proven healthy either). */
  canaries: readonly string[];
  /** Asks the canaries: the uncached resolver of the run. */
  resolver: MxResolver;
  /** The configured servers, for the message (empty = the system's). */
  servers: readonly string[];
  logger: Logger;
  onTrip: (error: HygieneError) => void;
}

export class DnsSanityGuard {
  private readonly failed = new Map<string, string>();
  private healthy_ = false;
  private checking: Promise<void> | null = null;
  private tripped: HygieneError | null = null;
  private readonly threshold: number;

  constructor(private readonly options: DnsSanityGuardOptions) {
    this.threshold = options.threshold ?? 5;
  }

  /** True once one real answer proved the resolver tells the truth. */
  get healthy(): boolean {
    return this.healthy_;
  }

  get error(): HygieneError | null {
    return this.tripped;
  }

  record(domain: string, resolution: MxResolution): void {
    if (this.healthy_ || this.tripped) return;
    if (isResolved(resolution)) {
      this.healthy_ = true;
      this.failed.clear();
      return;
    }
    if (this.failed.has(domain)) return;
    this.failed.set(domain, resolution.kind === 'none' ? resolution.detail : 'failed');
    if (this.failed.size < this.threshold || this.checking || this.options.canaries.length === 0) return;
    // Owned here (and awaited through settled()): a failure of the check itself only means "no trip".
    this.checking = this.askCanaries().catch((err: unknown) => this.options.logger.warn({ err: (err as Error).message }, 'DNS canary check failed'));
  }

  /** Resolves when no canary check is in flight: a batch waits for it before its answers are recorded. */
  async settled(): Promise<void> {
    await this.checking;
  }

  private async askCanaries(): Promise<void> {
    const answers = await askCanaries(this.options.resolver, this.options.canaries);
    if (answers.resolved.length > 0) {
      this.options.logger.info({ canaries: answers.resolved }, 'well-known names resolve: the domains that failed are the list\'s, not our resolver\'s');
      this.healthy_ = true;
      this.failed.clear();
      return;
    }
    if (this.healthy_ || this.tripped) return;
    const servers = this.options.servers.length > 0 ? `HYGIENE_DNS_SERVERS=${this.options.servers.join(',')}` : 'the system resolvers of /etc/resolv.conf (HYGIENE_DNS_SERVERS is not set)';
    const domains = [...this.failed.keys()].slice(0, this.threshold);
    this.tripped = new HygieneError(
      'DNS_FAILED',
      `Stopped: the first ${domains.length} domains looked up (${domains.join(', ')}) all failed to resolve, and so did well-known names (${answers.failed.map((f) => f.name).join(', ')}). ` +
        `The DNS resolver in use (${servers}) is failing or lying, so this is not a fact about the list; nothing of this run was cached. ` +
        `Set HYGIENE_DNS_SERVERS to resolvers that work (e.g. HYGIENE_DNS_SERVERS=1.1.1.1,8.8.8.8) and run again; check with: hygiene doctor --domain <a domain you know>.`,
      { domains: [...this.failed.entries()].map(([d, why]) => `${d}: ${why}`), canaries: answers.failed },
    );
    this.options.onTrip(this.tripped);
  }
}
