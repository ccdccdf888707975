/**
 * Early detection of a blocked outbound port 25 (most cloud hosts block it by default; the symptom
 * is that every MX "times out" and a verify run produces a file of unknowns). Fed by the pools'
 * `onConnectResult` events: when the first `threshold` distinct MX hosts tried all timed out at the TCP
 * level and no MX host was reached at all, the guard trips once, with
 * an OUTBOUND_SMTP_BLOCKED error that says what to do. One successful TCP connect anywhere disarms
 * it for good: from then on a dead MX is that server's problem, not ours.
 */
import { HygieneError } from '../errors.ts';
import type { PoolEvents } from './mx-session-pool.ts';

export interface ConnectivityGuardOptions {
  /** Distinct MX hosts that must all fail before the guard trips. Default 5. */
  threshold?: number;
  /** SMTP port in use (for the message). */
  port: number;
  /** The SOCKS5 proxy connections go through (display form), if any: then it is the proxy's port that is blocked. */
  proxy?: string;
  onTrip: (error: HygieneError) => void;
}

export class ConnectivityGuard {
  private readonly failed = new Map<string, string>();
  private timeouts = 0;
  private reached = false;
  private tripped: HygieneError | null = null;
  private readonly threshold: number;

  constructor(private readonly options: ConnectivityGuardOptions) {
    this.threshold = options.threshold ?? 5;
  }

  /** The error once tripped, else null. */
  get error(): HygieneError | null {
    return this.tripped;
  }

  /** Pool events to merge into the runtime's `poolEvents`. */
  get events(): Pick<PoolEvents, 'onConnectResult'> {
    return { onConnectResult: (mx, host, result) => this.record(mx, host, result) };
  }

  record(mx: string, host: string, result: { ok: boolean; timeout: boolean }): void {
    if (this.reached || this.tripped) return;
    if (result.ok) {
      this.reached = true;
      this.failed.clear();
      return;
    }
    // A refused connection proves packets get through (the host answered with a reset): a dead MX,
    // not a blocked port. Lists routinely hold dead domains, so only timeouts count.
    if (!result.timeout || this.failed.has(mx)) return;
    this.failed.set(mx, host);
    this.timeouts += 1;
    if (this.failed.size < this.threshold) return;
    const how = 'timed out';
    const hosts = [...this.failed.keys()].join(', ');
    const { port, proxy } = this.options;
    const why = proxy
      ? `Outbound port ${port} is probably blocked where the SMTP proxy ${proxy} (HYGIENE_SMTP_PROXY) connects from: use a proxy on a host that may connect to port ${port}. `
      : `Outbound port ${port} is probably blocked on this host or network (most cloud providers block port 25 by default). ` +
        `Ask them to lift it, run from a host that may send mail, or go out through a SOCKS5 proxy on such a host: HYGIENE_SMTP_PROXY=socks5://[user:password@]host:port (README: "Running from a cloud host"). `;
    this.tripped = new HygieneError(
      'OUTBOUND_SMTP_BLOCKED',
      `Stopped: connections to port ${port} of the first ${this.failed.size} mail servers tried (${hosts})${proxy ? ` through ${proxy}` : ''} all ${how}, and no mail server could be reached. ` +
        why +
        `Check with: hygiene doctor --domain <a domain you know>.`,
      { port, hosts: [...this.failed.entries()].map(([m, h]) => `${m} [${h}]`), timeouts: this.timeouts, ...(proxy ? { proxy } : {}) },
    );
    this.options.onTrip(this.tripped);
  }
}
