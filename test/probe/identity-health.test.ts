/** Which outbound identities can carry probes (src/probe/identity-health.ts): pure, with a clock. */
import { describe, expect, it } from 'vitest';
import { IdentityHealth } from '../../src/probe/identity-health.ts';
import type { ProxyOutcome } from '../../src/smtp/socks5-connector.ts';
import { silentLogger } from '../helpers/run-list.ts';

const outcome = (kind: ProxyOutcome['kind'], proxy = 'socks5://127.0.0.1:1'): ProxyOutcome => ({ kind, proxy, mx: 'mx.a.test', host: '192.0.2.1', port: 25, detail: kind });

describe('identity health', () => {
  it('one identity: every outcome goes to the run guard at once (its early stop is unchanged)', () => {
    const forwarded: string[] = [];
    const h = new IdentityHealth({ identities: ['direct'], forward: (o) => forwarded.push(o.kind), logger: silentLogger });
    h.record('direct', outcome('proxy-down'));
    expect(forwarded).toEqual(['proxy-down']);
  });

  it('several: a dead proxy rests its identity (not the run) until every identity is dead; a working proxy comes back at once', () => {
    let now = 1_000;
    const forwarded: string[] = [];
    const h = new IdentityHealth({ identities: ['a', 'b'], forward: (o) => forwarded.push(o.kind), logger: silentLogger, restMs: 60_000, now: () => now });
    h.record('a', outcome('proxy-down'));
    expect(h.unusableUntil('a')).toBe(61_000);
    expect(h.unusableUntil('b')).toBeNull();
    expect(forwarded).toEqual([]);
    h.record('b', outcome('connected'));
    expect(forwarded).toEqual(['connected']);
    h.record('b', outcome('auth-refused'));
    expect(forwarded).toEqual(['connected', 'auth-refused']);
    h.record('a', outcome('connected'));
    expect(h.unusableUntil('a')).toBeNull();
    now += 120_000;
    expect(h.unusableUntil('b')).toBeNull();
  });
});
