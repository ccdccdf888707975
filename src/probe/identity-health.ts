/**
 * Which outbound identities can carry probes now (issue 15 item 2). With several identities, a
 * SOCKS5 proxy that is down or refuses our credentials is one identity's problem: that identity
 * rests for `restMs` (logged loudly, once per rest) and the others carry on; only when every
 * identity's proxy has failed does the run's ProxyGuard see it and stop the run early
 * (OUTBOUND_PROXY_FAILED), as it does at once with a single identity. A proxy that works again
 * (a granted CONNECT) brings its identity back at once. In-process: a dead proxy is this host's view.
 */
import type { Logger } from 'pino';
import type { ProxyOutcome } from '../smtp/socks5-connector.ts';
import type { IdentityAvailability } from './smtp-verifier.ts';

export interface IdentityHealthOptions {
  identities: readonly string[];
  /** The run's proxy guard: told only when every identity's proxy failed (or always, with one identity). */
  forward: (outcome: ProxyOutcome) => void;
  logger: Logger;
  /** How long an identity whose proxy failed rests before it is tried again. Default 5 min. */
  restMs?: number;
  now?: () => number;
}

export class IdentityHealth implements IdentityAvailability {
  private readonly deadUntil = new Map<string, number>();
  private readonly restMs: number;
  private readonly now: () => number;

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
    if (outcome.kind === 'connected' || outcome.kind === 'target-refused') {
      this.deadUntil.delete(identity);
      this.options.forward(outcome);
      return;
    }
    if (outcome.kind !== 'proxy-down' && outcome.kind !== 'auth-refused') {
      // Port 25 not reached through it: the guard judges that across MX hosts, as with one proxy.
      this.options.forward(outcome);
      return;
    }
    if (this.unusableUntil(identity) === null) {
      this.deadUntil.set(identity, this.now() + this.restMs);
      this.options.logger.error(
        { identity, proxy: outcome.proxy, detail: outcome.detail, restsUntil: new Date(this.now() + this.restMs).toISOString() },
        `OUTBOUND IDENTITY DOWN: the proxy of identity ${identity} (${outcome.proxy}) cannot be used (${outcome.detail}); it rests while the other identities carry on`,
      );
    }
    // Every identity's proxy has failed: the run's early stop.
    if (this.options.identities.every((id) => this.unusableUntil(id) !== null)) this.options.forward(outcome);
  }
}
