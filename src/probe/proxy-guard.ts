/**
 * The early stop for an SMTP proxy that cannot carry the run (issue 15). Fed by the SOCKS5
 * connector's outcomes (smtp/socks5-connector.ts). A proxy failure is our configuration or our
 * infrastructure, never a fact about an address, so:
 *  - the proxy down (refused, unreachable, silent, not SOCKS5) or refusing our credentials: the guard
 *    trips at once with OUTBOUND_PROXY_FAILED naming the proxy and the variable it came from;
 *  - the proxy unable or unwilling to connect to port 25 (its rules refuse it, or the MX hosts cannot
 *    be reached through it): one MX is that MX's problem, but when the first `threshold` distinct MX
 *    hosts tried all failed that way and none was reached through the proxy, the proxy's own port 25
 *    is blocked or its rules refuse it: the guard trips. One MX reached through the proxy (a granted
 *    CONNECT, or an MX refusing the connection, which proves packets get there) disarms that part
 *    for good.
 */
import { HygieneError } from '../errors.ts';
import type { ProxyOutcome } from '../smtp/socks5-connector.ts';

export interface ProxyGuardOptions {
  /** The proxy as shown to users (no credentials). */
  proxy: string;
  /** The variable it was configured with (HYGIENE_SMTP_PROXY or HYGIENE_IDENTITIES_FILE). */
  setting: string;
  /** Distinct MX hosts that must all fail through the proxy before the guard trips. Default 5. */
  threshold?: number;
  onTrip: (error: HygieneError) => void;
}

export class ProxyGuard {
  private readonly failed = new Map<string, string>();
  private reached = false;
  private tripped: HygieneError | null = null;
  private readonly threshold: number;

  constructor(private readonly options: ProxyGuardOptions) {
    this.threshold = options.threshold ?? 5;
  }

  get error(): HygieneError | null {
    return this.tripped;
  }

  record(outcome: ProxyOutcome): void {
    if (this.tripped) return;
    const { proxy, setting } = this.options;
    const check = 'Check with: hygiene doctor --domain <a domain you know>.';
    switch (outcome.kind) {
      case 'connected':
      case 'target-refused':
        this.reached = true;
        this.failed.clear();
        return;
      case 'proxy-down':
        this.trip(
          `Stopped: the SMTP proxy ${proxy} (${setting}) cannot be used: ${outcome.detail} Every connection to a mail server goes through it, so nothing could be verified; nothing of this run was cached. ` +
            `Start the proxy or correct ${setting} (socks5://[user:password@]host:port), then run again. ${check}`,
          outcome,
          'down',
        );
        return;
      case 'auth-refused':
        this.trip(
          `Stopped: the SMTP proxy ${proxy} (${setting}) did not accept us: ${outcome.detail} Nothing could be verified; nothing of this run was cached. ` +
            `Correct the user name and password in ${setting} (socks5://user:password@host:port, percent-encoded), then run again. ${check}`,
          outcome,
          'credentials',
        );
        return;
      case 'proxy-refused':
      case 'target-unreachable': {
        if (this.reached || this.failed.has(outcome.mx)) return;
        this.failed.set(outcome.mx, `${outcome.mx} [${outcome.host}]: ${outcome.detail}`);
        if (this.failed.size < this.threshold) return;
        this.trip(
          `Stopped: the SMTP proxy ${proxy} (${setting}) could not or would not connect to port ${outcome.port} of the first ${this.failed.size} mail servers tried, and none was reached through it (${[...this.failed.values()].join('; ')}). ` +
            `The proxy's own outbound port ${outcome.port} is probably blocked, or its rules do not allow port ${outcome.port}; nothing of this run was cached. ` +
            `Use a proxy on a host that may connect to port ${outcome.port}, or allow it in the proxy's rules, then run again. ${check}`,
          outcome,
          'port',
        );
        return;
      }
    }
  }

  private trip(message: string, outcome: ProxyOutcome, why: 'down' | 'credentials' | 'port'): void {
    this.tripped = new HygieneError('OUTBOUND_PROXY_FAILED', message, {
      proxy: this.options.proxy,
      setting: this.options.setting,
      why,
      ...(why === 'port' ? { hosts: [...this.failed.keys()] } : { mx: outcome.mx, host: outcome.host }),
    });
    this.options.onTrip(this.tripped);
  }
}
