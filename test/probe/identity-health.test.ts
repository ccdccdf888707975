/** Which outbound identities can carry probes (src/probe/identity-health.ts): pure, with a clock. */
import { describe, expect, it } from 'vitest';
import type { HygieneError } from '../../src/errors.ts';
import { IdentityHealth } from '../../src/probe/identity-health.ts';
import type { ProxyOutcome } from '../../src/smtp/socks5-connector.ts';
import { silentLogger } from '../helpers/run-list.ts';

const outcome = (kind: ProxyOutcome['kind'], mx = 'mx.a.test'): ProxyOutcome => ({ kind, proxy: 'socks5://127.0.0.1:1', mx, host: '192.0.2.1', port: 25, detail: kind });
const ids = (...names: string[]) => names.map((id) => ({ id, display: `socks5://${id}.test:1080`, setting: 'HYGIENE_SMTP_PROXY' }));

describe('identity health', () => {
  it('one identity: every outcome goes to the run guard at once (its early stop is unchanged)', () => {
    const forwarded: string[] = [];
    const h = new IdentityHealth({ identities: ids('direct'), forward: (o) => forwarded.push(o.kind), stopRun: () => undefined, logger: silentLogger });
    h.record('direct', outcome('proxy-down'));
    expect(forwarded).toEqual(['proxy-down']);
  });

  it('several: a dead proxy rests its identity, not the run; the run stops only when every proxy failed, naming each', () => {
    let now = 1_000;
    const stops: HygieneError[] = [];
    const h = new IdentityHealth({ identities: ids('a', 'b'), forward: () => undefined, stopRun: (e) => stops.push(e), logger: silentLogger, restMs: 60_000, now: () => now });
    h.record('a', outcome('proxy-down'));
    expect(h.unusableUntil('a')).toBe(61_000);
    expect(h.unusableUntil('b')).toBeNull();
    expect(stops).toEqual([]);
    h.record('b', outcome('auth-refused'));
    expect(stops).toHaveLength(1);
    expect(stops[0]!.code).toBe('OUTBOUND_PROXY_FAILED');
    expect(stops[0]!.message).toMatch(/every outbound identity.*a: .*socks5:\/\/a\.test.*b: .*socks5:\/\/b\.test/);
    // A proxy that works again comes back at once; a rest that ended lets the identity be tried again.
    h.record('a', outcome('connected'));
    expect(h.unusableUntil('a')).toBeNull();
    now += 120_000;
    expect(h.unusableUntil('b')).toBeNull();
  });

  it('a proxy that cannot reach port 25 of the first MX hosts rests its identity only', () => {
    const stops: HygieneError[] = [];
    const h = new IdentityHealth({ identities: ids('a', 'b'), forward: () => undefined, stopRun: (e) => stops.push(e), logger: silentLogger, threshold: 3 });
    h.record('b', outcome('connected', 'mx.z.test'));
    for (const mx of ['mx.1.test', 'mx.2.test']) h.record('a', outcome('target-unreachable', mx));
    expect(h.unusableUntil('a')).toBeNull();
    h.record('a', outcome('proxy-refused', 'mx.3.test'));
    expect(h.unusableUntil('a')).not.toBeNull();
    expect(h.unusableUntil('b')).toBeNull();
    expect(stops).toEqual([]);
  });
});
