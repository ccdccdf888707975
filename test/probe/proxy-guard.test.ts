/**
 * The proxy's early stop (probe/proxy-guard.ts) as a unit and inside the run's FaultGuard: a proxy that
 * is down or refuses our credentials stops the run at once; a proxy that cannot or will not reach port
 * 25 stops it when the first 5 distinct MX hosts all failed through it and none was reached; one MX
 * reached through the proxy (even one refusing the connection) disarms that part, never the first.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { HygieneError } from '../../src/errors.ts';
import { ConnectivityGuard } from '../../src/probe/connectivity-guard.ts';
import { FaultGuard } from '../../src/probe/fault-guard.ts';
import { ProxyGuard } from '../../src/probe/proxy-guard.ts';
import type { ProxyOutcome, ProxyOutcomeKind } from '../../src/smtp/socks5-connector.ts';

const PROXY = 'socks5://***@203.0.113.5:1080';

function outcome(kind: ProxyOutcomeKind, mx = 'mx.a.test', reply?: number): ProxyOutcome {
  return { kind, proxy: PROXY, mx, host: '192.0.2.1', port: 25, reply, detail: `${kind} at ${mx}` };
}

function guard(threshold?: number): { guard: ProxyGuard; trips: HygieneError[] } {
  const trips: HygieneError[] = [];
  return { guard: new ProxyGuard({ proxy: PROXY, setting: 'HYGIENE_SMTP_PROXY', threshold, onTrip: (e) => trips.push(e) }), trips };
}

describe('ProxyGuard', () => {
  it.each([
    ['proxy-down', 'cannot be used', 'Start the proxy or correct HYGIENE_SMTP_PROXY'],
    ['auth-refused', 'did not accept us', 'Correct the user name and password in HYGIENE_SMTP_PROXY'],
  ] as const)('%s: trips at once, even after MX hosts were reached, naming the proxy and the variable', (kind, what, fix) => {
    const { guard: g, trips } = guard();
    g.record(outcome('connected'));
    g.record(outcome(kind));
    g.record(outcome(kind, 'mx.b.test'));
    expect(trips).toHaveLength(1);
    expect(trips[0]!.code).toBe('OUTBOUND_PROXY_FAILED');
    expect(trips[0]!.message).toContain(`the SMTP proxy ${PROXY} (HYGIENE_SMTP_PROXY) ${what}`);
    expect(trips[0]!.message).toContain(fix);
    expect(trips[0]!.message).toContain('nothing of this run was cached');
    expect(g.error).toBe(trips[0]);
  });

  it('port 25 not reached through the proxy: trips when the first 5 distinct MX hosts all failed', () => {
    const { guard: g, trips } = guard();
    g.record(outcome('proxy-refused', 'mx1.test', 2));
    g.record(outcome('proxy-refused', 'mx1.test', 2)); // the same MX counts once
    g.record(outcome('target-unreachable', 'mx2.test', 4));
    g.record(outcome('target-unreachable', 'mx3.test'));
    g.record(outcome('proxy-refused', 'mx4.test', 2));
    expect(trips).toHaveLength(0);
    g.record(outcome('proxy-refused', 'mx5.test', 2));
    expect(trips).toHaveLength(1);
    expect(trips[0]!.message).toMatch(/could not or would not connect to port 25 of the first 5 mail servers tried, and none was reached through it \(mx1\.test \[192\.0\.2\.1\]: proxy-refused at mx1\.test; .*mx5\.test/);
    expect(trips[0]!.context).toMatchObject({ why: 'port', hosts: ['mx1.test', 'mx2.test', 'mx3.test', 'mx4.test', 'mx5.test'] });
  });

  it('one MX reached through the proxy (granted, or refusing the connection) disarms the port-25 part for good', () => {
    for (const reached of ['connected', 'target-refused'] as const) {
      const { guard: g, trips } = guard(2);
      g.record(outcome('proxy-refused', 'mx1.test', 2));
      g.record(outcome(reached, 'mx2.test'));
      for (const mx of ['mx3.test', 'mx4.test', 'mx5.test']) g.record(outcome('target-unreachable', mx));
      expect(trips).toHaveLength(0);
    }
  });
});

describe('FaultGuard with a proxy', () => {
  const logger = pino({ level: 'silent' });
  const base = { smtpPort: 25, heloName: 'verify.example.com', mailFrom: 'verify@example.com', dns: { servers: [], canaries: [], resolver: { resolve: async () => ({ kind: 'hosts' as const, hosts: [], implicit: false }) } }, logger };

  it('a proxy outcome trips the run: error, trip listeners, nothing cached from then on', () => {
    const fault = new FaultGuard({ ...base, proxy: { display: PROXY, setting: 'HYGIENE_SMTP_PROXY' } } as ConstructorParameters<typeof FaultGuard>[0]);
    const seen: HygieneError[] = [];
    fault.onTrip((e) => seen.push(e));
    const verdict = { status: 'deliverable', reason: 'accepted' } as Parameters<FaultGuard['cacheDecision']>[0];
    expect(fault.cacheDecision(verdict)).toBe('write');
    fault.recordProxyOutcome(outcome('proxy-down'));
    expect(fault.error?.code).toBe('OUTBOUND_PROXY_FAILED');
    expect(seen.map((e) => e.code)).toEqual(['OUTBOUND_PROXY_FAILED']);
    expect(fault.cacheDecision(verdict)).toBe('drop');
  });

  it('without a proxy, proxy outcomes are ignored', () => {
    const fault = new FaultGuard(base as ConstructorParameters<typeof FaultGuard>[0]);
    fault.recordProxyOutcome(outcome('proxy-down'));
    expect(fault.error).toBeNull();
  });
});

describe('the port-25 stop names the way out', () => {
  const timeout = { ok: false, timeout: true };
  it('direct: HYGIENE_SMTP_PROXY is the way out; through a proxy: the proxy\'s own port 25 is blocked', () => {
    const direct: HygieneError[] = [];
    const proxied: HygieneError[] = [];
    const a = new ConnectivityGuard({ port: 25, threshold: 2, onTrip: (e) => direct.push(e) });
    const b = new ConnectivityGuard({ port: 25, threshold: 2, proxy: PROXY, onTrip: (e) => proxied.push(e) });
    for (const mx of ['mx1.test', 'mx2.test']) {
      a.record(mx, '192.0.2.1', timeout);
      b.record(mx, '192.0.2.1', timeout);
    }
    expect(direct[0]?.message).toContain('go out through a SOCKS5 proxy on such a host: HYGIENE_SMTP_PROXY=socks5://[user:password@]host:port');
    expect(proxied[0]?.message).toContain(`through ${PROXY} all timed out`);
    expect(proxied[0]?.message).toContain(`blocked where the SMTP proxy ${PROXY} (HYGIENE_SMTP_PROXY) connects from`);
  });
});
