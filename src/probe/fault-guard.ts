/**
 * The run's guard against our own faults (issue 11), one per runtime (so it covers every way in:
 * verify, worker, watch, api, schedule). It combines three early stops:
 *  - ConnectivityGuard: the first MX hosts all time out at TCP → outbound port 25 blocked
 *    (OUTBOUND_SMTP_BLOCKED);
 *  - DnsSanityGuard: the first domains and well-known names all fail to resolve → our resolver
 *    (DNS_FAILED);
 *  - RefusalGuard: the first MX hosts that answer all refuse us → our IP, HELO or sender
 *    (OUTBOUND_SMTP_REFUSED);
 *  - ProxyGuard, when connections go through a SOCKS5 proxy: the proxy down or refusing our
 *    credentials, or not reaching port 25 of the first MX hosts (OUTBOUND_PROXY_FAILED);
 * and decides what the verdict cache may keep: nothing unknown ever, a DNS-derived "does not exist"
 * only once DNS has proven healthy ("held" until then, dropped if it never does), and nothing at all
 * once tripped. When it trips, the worker fails the list with the error (queue/verify-processor.ts)
 * and the verifier stops probing (trip listeners).
 *
 * In a long-running worker a tripped guard stays tripped for `rearmMs` (lists fail fast with the
 * message), then starts afresh, so a fixed network is noticed without a restart.
 */
import type { Logger } from 'pino';
import { cachePolicy } from '../domain/fault-owner.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { MxResolution, MxResolver } from '../dns/mx-resolver.ts';
import type { HygieneError } from '../errors.ts';
import { ConnectivityGuard } from './connectivity-guard.ts';
import { DnsSanityGuard } from './dns-sanity-guard.ts';
import type { PoolEvents } from './mx-session-pool.ts';
import { ProxyGuard } from './proxy-guard.ts';
import type { ProxyOutcome } from '../smtp/socks5-connector.ts';
import { RefusalGuard, type ClientAnswer } from './refusal-guard.ts';

export interface FaultGuardOptions {
  smtpPort: number;
  heloName: string | undefined;
  mailFrom: string | undefined;
  dns: { servers: readonly string[]; canaries: readonly string[]; resolver: MxResolver };
  logger: Logger;
  thresholds?: { port25?: number; dns?: number; refusals?: number; proxy?: number };
  /** The SOCKS5 proxy connections go through (its display form and the variable it came from), if any. */
  proxy?: { display: string; setting: string };
  /** How long a tripped guard stays tripped in a long-running process. Default 10 min. */
  rearmMs?: number;
  now?: () => number;
}

/** What the verdict cache does with one verdict now. */
export type CacheDecision = 'write' | 'hold' | 'drop';

interface Guards {
  port25: ConnectivityGuard;
  dns: DnsSanityGuard;
  refusals: RefusalGuard;
  proxy: ProxyGuard | null;
  /** An early stop decided by identity-health.ts (every outbound identity's proxy failed). */
  outbound: HygieneError | null;
  trippedAt: number | null;
}

export class FaultGuard {
  private guards: Guards;
  private readonly listeners = new Set<(error: HygieneError) => void>();
  private readonly now: () => number;
  private readonly rearmMs: number;

  constructor(private readonly options: FaultGuardOptions) {
    this.now = options.now ?? Date.now;
    this.rearmMs = options.rearmMs ?? 10 * 60_000;
    this.guards = this.fresh();
  }

  private fresh(): Guards {
    const onTrip = (error: HygieneError): void => this.tripped(error);
    const t = this.options.thresholds ?? {};
    return {
      port25: new ConnectivityGuard({ port: this.options.smtpPort, threshold: t.port25, proxy: this.options.proxy?.display, onTrip }),
      dns: new DnsSanityGuard({ ...this.options.dns, threshold: t.dns, logger: this.options.logger, onTrip }),
      refusals: new RefusalGuard({ heloName: this.options.heloName, mailFrom: this.options.mailFrom, threshold: t.refusals, onTrip }),
      proxy: this.options.proxy ? new ProxyGuard({ proxy: this.options.proxy.display, setting: this.options.proxy.setting, threshold: t.proxy, onTrip }) : null,
      outbound: null,
      trippedAt: null,
    };
  }

  /** Stops the run with an error decided elsewhere: every outbound identity's proxy failed (identity-health.ts). */
  stopOutbound(error: HygieneError): void {
    if (this.guards.trippedAt !== null) return;
    this.guards.outbound = error;
    this.tripped(error);
  }

  private tripped(error: HygieneError): void {
    if (this.guards.trippedAt !== null) return;
    this.guards.trippedAt = this.now();
    this.options.logger.error({ code: error.code }, error.message);
    for (const listener of this.listeners) {
      try {
        listener(error);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'a fault-guard listener failed');
      }
    }
  }

  /** Called once per trip (the verifier stops probing). */
  onTrip(listener: (error: HygieneError) => void): void {
    this.listeners.add(listener);
  }

  /** The error once tripped, else null. */
  get error(): HygieneError | null {
    const g = this.guards;
    if (g.trippedAt !== null && this.now() - g.trippedAt >= this.rearmMs) {
      this.options.logger.info('fault guard re-armed: the next run collects fresh evidence');
      this.guards = this.fresh();
      return null;
    }
    return g.outbound ?? g.proxy?.error ?? g.port25.error ?? g.dns.error ?? g.refusals.error;
  }

  /** True once a real DNS answer proved our resolver truthful in this process. */
  get dnsHealthy(): boolean {
    return this.guards.dns.healthy;
  }

  /** Pool events to merge into the runtime's: TCP connects and first answers of each MX. */
  readonly poolEvents: Pick<PoolEvents, 'onConnectResult' | 'onClientAnswer'> = {
    onConnectResult: (mx, host, result) => this.guards.port25.record(mx, host, result),
    onClientAnswer: (mx, answer: ClientAnswer) => this.guards.refusals.record(mx, answer),
  };

  /** Every outcome of a connect through the SOCKS5 proxy (the connector's onOutcome). */
  recordProxyOutcome(outcome: ProxyOutcome): void {
    this.guards.proxy?.record(outcome);
  }

  /** Resolves once no decision is pending (a canary check in flight): a batch waits for it before it returns. */
  settled(): Promise<void> {
    return this.guards.dns.settled();
  }

  /** Every MX lookup the run makes (the uncached resolver's answers). */
  recordResolution(domain: string, resolution: MxResolution): void {
    this.guards.dns.record(domain, resolution);
  }

  /** What the verdict cache may do with this verdict now. */
  cacheDecision(verdict: Verdict): CacheDecision {
    if (this.error) return 'drop';
    switch (cachePolicy(verdict)) {
      case 'never':
        return 'drop';
      case 'if-dns-healthy':
        return this.dnsHealthy ? 'write' : 'hold';
      case 'fact':
        return 'write';
    }
  }
}

/** Wraps a resolver so the guard sees every answer (put it under the cache: only real lookups count). */
export function observedResolver(inner: MxResolver, guard: Pick<FaultGuard, 'recordResolution'>): MxResolver {
  return {
    async resolve(domain) {
      const resolution = await inner.resolve(domain);
      guard.recordResolution(domain, resolution);
      return resolution;
    },
  };
}
