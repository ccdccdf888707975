import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsMxResolver, orderMxHosts, type MxResolution } from '../../src/dns/mx-resolver.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

const spec = parseWorldSpec({
  mxHosts: {
    'mx1.equal.test': { ip: '127.0.8.1' },
    'mx2.equal.test': { ip: '127.0.8.2', ipv6: ['fd00::2'] },
    'mx3.equal.test': { ip: '127.0.8.3' },
    'backup.equal.test': { ip: '127.0.8.4' },
  },
  domains: {
    'equal.test': {
      mx: [
        { host: 'backup.equal.test', preference: 50 },
        { host: 'mx1.equal.test', preference: 10 },
        { host: 'mx2.equal.test', preference: 10 },
        { host: 'mx3.equal.test', preference: 10 },
      ],
      // Must never be used: the domain has MX records.
      a: ['127.0.8.99'],
    },
    'partial.test': { mx: [{ host: 'gone.partial.test', preference: 5 }, { host: 'mx1.equal.test', preference: 10 }] },
    'implicit.test': { a: ['127.0.8.10'], aaaa: ['fd00::10'] },
    'nullmx.test': { nullMx: true, a: ['127.0.8.11'] },
    'nomail.test': {},
    'dangling.test': { mx: [{ host: 'mx.nowhere.test', preference: 10 }] },
    'broken.test': { servfail: true },
    'refused.test': { dns: { failure: 'refused' } },
    'blackhole.test': { dns: { failure: 'no_answer' } },
    'slow.test': { mx: [{ host: 'mx1.equal.test', preference: 1 }], dns: { delayMs: 150 } },
  },
});

let dns: SimDnsServer;
beforeAll(async () => {
  dns = await startSimDnsServer(spec);
});
afterAll(async () => {
  await dns.stop();
});

const resolver = (random?: () => number) =>
  createDnsMxResolver({ servers: [dns.address], timeoutMs: 200, tries: 1, attempts: 2, retryDelayMs: 20 }, random);

function hostsOf(r: MxResolution) {
  if (r.kind !== 'hosts') throw new Error(`expected hosts, got ${JSON.stringify(r)}`);
  return r.hosts;
}

describe('createDnsMxResolver', () => {
  it('orders by preference, never uses the A of a domain with MX, and resolves exchange addresses (v4 then v6)', async () => {
    const r = await resolver().resolve('equal.test');
    expect(r.kind === 'hosts' && r.implicit).toBe(false);
    const hosts = hostsOf(r);
    expect(hosts.map((h) => h.preference)).toEqual([10, 10, 10, 50]);
    expect(hosts[3]).toEqual({ exchange: 'backup.equal.test', preference: 50, addresses: ['127.0.8.4'] });
    expect(hosts.find((h) => h.exchange === 'mx2.equal.test')?.addresses).toEqual(['127.0.8.2', 'fd00::2']);
    expect(hosts.flatMap((h) => h.addresses)).not.toContain('127.0.8.99');
  });

  it('randomises the order among equal preferences only', async () => {
    const seen = new Set<string>();
    const r = resolver();
    for (let i = 0; i < 30; i++) {
      const hosts = hostsOf(await r.resolve('equal.test'));
      seen.add(hosts.slice(0, 3).map((h) => h.exchange).join(','));
      expect(hosts[3]?.exchange).toBe('backup.equal.test');
    }
    expect(seen.size).toBeGreaterThan(1);
    // An injected random source makes it deterministic.
    const a = hostsOf(await resolver(() => 0).resolve('equal.test')).map((h) => h.exchange);
    const b = hostsOf(await resolver(() => 0).resolve('equal.test')).map((h) => h.exchange);
    expect(a).toEqual(b);
  });

  it('orderMxHosts keeps groups apart', () => {
    const h = (exchange: string, preference: number) => ({ exchange, preference, addresses: [] });
    const out = orderMxHosts([h('c', 20), h('a', 10), h('b', 10)], () => 0.999);
    expect(out.map((x) => x.preference)).toEqual([10, 10, 20]);
  });

  it('skips exchanges without an address', async () => {
    const hosts = hostsOf(await resolver().resolve('partial.test'));
    expect(hosts.map((h) => h.exchange)).toEqual(['mx1.equal.test']);
  });

  it('falls back to the implicit MX (the domain A/AAAA) when there is no MX', async () => {
    expect(await resolver().resolve('Implicit.Test.')).toEqual({
      kind: 'hosts',
      implicit: true,
      hosts: [{ exchange: 'implicit.test', preference: 0, addresses: ['127.0.8.10', 'fd00::10'] }],
    });
  });

  it('treats a null MX as undeliverable without A fallback', async () => {
    const r = await resolver().resolve('nullmx.test');
    expect(r).toMatchObject({ kind: 'none', status: 'undeliverable', reason: 'null_mx' });
    expect(r.kind === 'none' && r.detail).toContain('nullmx.test');
  });

  it('reports NXDOMAIN as no_such_domain', async () => {
    const r = await resolver().resolve('does-not-exist.test');
    expect(r).toMatchObject({ kind: 'none', status: 'undeliverable', reason: 'no_such_domain' });
    expect(r.kind === 'none' && r.detail).toContain('does-not-exist.test');
  });

  it('reports no_mail_server for a domain with neither MX nor address, and for MX hosts without address', async () => {
    expect(await resolver().resolve('nomail.test')).toMatchObject({ kind: 'none', status: 'undeliverable', reason: 'no_mail_server' });
    const r = await resolver().resolve('dangling.test');
    expect(r).toMatchObject({ kind: 'none', status: 'undeliverable', reason: 'no_mail_server' });
    expect(r.kind === 'none' && r.detail).toContain('mx.nowhere.test');
  });

  it('retries SERVFAIL and REFUSED a bounded number of times, then answers unknown/dns_error', async () => {
    const before = dns.stats.byName['broken.test'] ?? 0;
    const r = await resolver().resolve('broken.test');
    expect(r).toMatchObject({ kind: 'none', status: 'unknown', reason: 'dns_error' });
    expect(r.kind === 'none' && r.detail).toMatch(/broken\.test.*SERVFAIL/);
    // 2 attempts × 1 try (c-ares may add one retry of its own per attempt).
    const asked = (dns.stats.byName['broken.test'] ?? 0) - before;
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(asked).toBeLessThanOrEqual(4);
    expect(await resolver().resolve('refused.test')).toMatchObject({ status: 'unknown', reason: 'dns_error' });
  });

  it('gives up on a server that never answers within a bounded time', async () => {
    const t = Date.now();
    const r = await resolver().resolve('blackhole.test');
    const took = Date.now() - t;
    expect(r).toMatchObject({ kind: 'none', status: 'unknown', reason: 'dns_error' });
    expect(r.kind === 'none' && r.detail).toContain('did not answer in time');
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(3000);
  });

  it('waits for a slow but answering server', async () => {
    const r = createDnsMxResolver({ servers: [dns.address], timeoutMs: 1000, tries: 1 });
    expect(hostsOf(await r.resolve('slow.test')).map((h) => h.exchange)).toEqual(['mx1.equal.test']);
  });

  it('accepts a U-label domain and looks up its A-label', async () => {
    const r = await resolver().resolve('bücher.test');
    expect(r).toMatchObject({ kind: 'none', reason: 'no_such_domain' });
    expect(dns.stats.byName['xn--bcher-kva.test']).toBeGreaterThanOrEqual(1);
  });
});
