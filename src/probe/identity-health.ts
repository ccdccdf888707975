/**
 * Which outbound identities can carry probes now (issue 15 item 2). With several identities, a
 * SOCKS5 proxy that fails is one identity's problem: each identity has its own ProxyGuard
 * (proxy-guard.ts: down or refusing our credentials at once; unable to reach port 25 of the first
 * MX hosts tried), and when it trips, that identity rests for `restMs` (logged loudly, once per rest)
 * while the others carry on. Only when every identity's proxy has failed does the run stop early
 * (`stopRun` with OUTBOUND_PROXY_FAILED naming each). A proxy that works again (a granted CONNECT)
 * brings its identity back at once, with fresh evidence; one whose rest ended is tried again with
 * fresh evidence too. With a single identity every outcome goes to the run's own ProxyGuard, which
 * stops the run as before. In-process: a dead proxy is this host's view.
 */
import type { Logger } from 'pino';
import { HygieneError } from '../errors.ts';
import type { ProxyOutcome } from '../smtp/socks5-connector.ts';
import { ProxyGuard } from './proxy-guard.ts';
import type { IdentityAvailability } from './smtp-verifier.ts';

export interface HealthIdentity {
  id: string;
  /** How its proxy is shown (never with credentials), and the setting it came from. */
  display: string;
  setting: string;
}

export interface IdentityHealthOptions {
  identities: readonly HealthIdentity[];
  /** The run's proxy guard, with a single identity: every outcome goes there. */
  forward: (outcome: ProxyOutcome) => void;
  /** Every identity's proxy failed: the run's early stop (FaultGuard.stopOutbound). */
  stopRun: (error: HygieneError) => void;
  logger: Logger;
  /** How long an identity whose proxy failed rests before it is tried again. Default 5 min. */
  restMs?: number;
  /** Distinct MX hosts unreachable through one proxy before its identity rests (ProxyGuard's). */
  threshold?: number;
  now?: () => number;
}

export class IdentityHealth implements IdentityAvailability {
  private readonly deadUntil = new Map<string, number>();
  private readonly guards = new Map<string, ProxyGuard>();
  private readonly why = new Map<string, string>();
  private readonly restMs: number;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: IdentityHealthOptions) {
    this.restMs = options.restMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  unusableUntil(identity: string): number | null {
    const until = this.deadUntil.get(identity);
    return until !== undefined && until > this.now() ? until : null;
  }

  /** Every outcome of a connect through identity `identity`'s proxy. */
  record(identity: string, outcome: ProxyOutcome): void {
    if (this.options.identities.length <= 1) {
      this.options.forward(outcome);
      return;
    }
    const reached = outcome.kind === 'connected' || outcome.kind === 'target-refused';
    if (reached) this.deadUntil.delete(identity);
    let guard = this.guards.get(identity);
    // Fresh evidence after a recovery or a rest that ended: a tripped guard stays tripped.
    if (!guard || (guard.error !== null && this.unusableUntil(identity) === null)) guard = this.freshGuard(identity);
    guard.record(outcome);
  }

  private freshGuard(identity: string): ProxyGuard {
    const about = this.options.identities.find((i) => i.id === identity);
    const guard = new ProxyGuard({ proxy: about?.display ?? identity, setting: about?.setting ?? 'HYGIENE_SMTP_PROXY', threshold: this.options.threshold, onTrip: (error) => this.rest(identity, error) });
    this.guards.set(identity, guard);
    return guard;
  }

  private rest(identity: string, error: HygieneError): void {
    const until = this.now() + this.restMs;
    this.deadUntil.set(identity, until);
    this.why.set(identity, error.message);
    this.options.logger.error(
      { identity, restsUntil: new Date(until).toISOString(), detail: error.message },
      `OUTBOUND IDENTITY DOWN: the proxy of identity ${identity} cannot be used; it rests while the other identities carry on`,
    );
    if (this.stopped || !this.options.identities.every((i) => this.unusableUntil(i.id) !== null)) return;
    this.stopped = true;
    const each = this.options.identities.map((i) => `${i.id}: ${this.why.get(i.id) ?? 'failed'}`);
    this.options.stopRun(
      new HygieneError(
        'OUTBOUND_PROXY_FAILED',
        `Stopped: the SMTP proxy of every outbound identity failed, so nothing could be verified; nothing of this run was cached. ${each.join(' | ')}`,
        { identities: this.options.identities.map((i) => i.id) },
      ),
    );
  }
}
