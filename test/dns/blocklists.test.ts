/**
 * DNS blocklist checks of our own sending address (`hygiene doctor --ip`, issue 14): the query names
 * (reversed octets, reversed IPv6 nibbles), what each answer means (Spamhaus return codes, the
 * 127.255.255.x "query refused" answers that are our resolver's problem, timeouts = unknown), and
 * the doctor check end to end through the configured resolver against a real DNS server on loopback
 * (the simulated world's) serving listed and not-listed answers. Nothing here touches the internet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDoctor, runDoctor } from '../../src/cli/doctor-command.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import {
  blocklistAddressProblem,
  blocklistQueryName,
  checkBlocklists,
  COMMON_BLOCKLISTS,
  ipv6Nibbles,
  readBlocklistAnswer,
} from '../../src/dns/blocklists.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

const zen = COMMON_BLOCKLISTS.find((l) => l.zone === 'zen.spamhaus.org')!;
const spamcop = COMMON_BLOCKLISTS.find((l) => l.zone === 'bl.spamcop.net')!;

describe('blocklist query names (RFC 5782 §2.1, §2.4)', () => {
  it('reverses IPv4 octets under the zone', () => {
    expect(blocklistQueryName('192.0.2.7', 'zen.spamhaus.org')).toBe('7.2.0.192.zen.spamhaus.org');
    expect(blocklistQueryName('203.0.113.45', 'bl.spamcop.net')).toBe('45.113.0.203.bl.spamcop.net');
  });

  it('reverses the 32 nibbles of an IPv6 address, :: expanded', () => {
    // RFC 5782 §2.4's own example.
    expect(blocklistQueryName('2001:db8:1:2:3:4:567:89ab', 'ugly.example.com')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com');
    expect(blocklistQueryName('2001:db8::7', 'zen.spamhaus.org')).toBe(`7.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.zen.spamhaus.org`);
    expect(ipv6Nibbles('::ffff:192.0.2.7').join('')).toBe('00000000000000000000ffffc0000207');
    expect(ipv6Nibbles('2001:DB8::').join('')).toBe('20010db8000000000000000000000000');
    expect(ipv6Nibbles('::1')).toHaveLength(32);
    expect(() => blocklistQueryName('not-an-ip', 'zen.spamhaus.org')).toThrow();
  });
});

describe('reading blocklist answers', () => {
  it('Spamhaus codes say SBL, CSS, XBL or PBL', () => {
    const css = readBlocklistAnswer(zen, 'q', { addresses: ['127.0.0.3'] });
    expect(css).toMatchObject({ status: 'listed', delist: 'https://check.spamhaus.org/' });
    expect(css.detail).toContain('SBL CSS');
    const several = readBlocklistAnswer(zen, 'q', { addresses: ['127.0.0.11', '127.0.0.4', '127.0.0.2'] });
    expect(several.status).toBe('listed');
    expect(several.detail).toMatch(/SBL: .*XBL: .*PBL \(Spamhaus maintained\)/);
    expect(readBlocklistAnswer(spamcop, 'q', { addresses: ['127.0.0.2'] }).detail).toContain('SpamCop');
    expect(readBlocklistAnswer(spamcop, 'q', { addresses: ['127.0.0.99'] }).detail).toContain('listed (code 127.0.0.99)');
  });

  it('127.255.255.x is the list refusing OUR resolver, never a listing', () => {
    for (const code of ['127.255.255.252', '127.255.255.254', '127.255.255.255']) {
      const result = readBlocklistAnswer(zen, 'q', { addresses: [code] });
      expect(result.status, code).toBe('refused');
      expect(result.detail).toContain("refused OUR resolver's query");
      expect(result.detail).not.toMatch(/LISTED/);
    }
    expect(readBlocklistAnswer(zen, 'q', { addresses: ['127.255.255.254'] }).detail).toContain('public or open resolver');
  });

  it('NXDOMAIN / NODATA = not listed; timeouts, SERVFAIL and rewritten answers = unknown', () => {
    expect(readBlocklistAnswer(zen, 'q', { error: 'ENOTFOUND' }).status).toBe('not_listed');
    expect(readBlocklistAnswer(zen, 'q', { error: 'ENODATA' }).status).toBe('not_listed');
    expect(readBlocklistAnswer(zen, 'q', { error: 'ETIMEOUT' })).toMatchObject({ status: 'unknown', detail: expect.stringContaining('no answer in time') });
    expect(readBlocklistAnswer(zen, 'q', { error: 'ESERVFAIL' }).status).toBe('unknown');
    expect(readBlocklistAnswer(zen, 'q', { addresses: ['198.51.100.1'] })).toMatchObject({ status: 'unknown', detail: expect.stringContaining('rewrite NXDOMAIN') });
  });

  it('asks only the lists that publish IPv6 listings about an IPv6 address; a throwing lookup is unknown', async () => {
    const asked: string[] = [];
    const results = await checkBlocklists('2001:db8::7', async (name) => {
      asked.push(name);
      return { error: 'ENOTFOUND' };
    });
    expect(asked).toEqual([blocklistQueryName('2001:db8::7', 'zen.spamhaus.org')]);
    expect(results.filter((r) => r.status === 'not_asked')).toHaveLength(COMMON_BLOCKLISTS.length - 1);
    const thrown = await checkBlocklists('192.0.2.7', () => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })));
    expect(thrown.every((r) => r.status === 'unknown')).toBe(true);
  });

  it('says a private address is not what servers see', () => {
    expect(blocklistAddressProblem('10.1.2.3')).toContain('private');
    expect(blocklistAddressProblem('127.0.0.1')).toContain('private');
    expect(blocklistAddressProblem('fd00::1')).toContain('private');
    expect(blocklistAddressProblem('192.0.2.7')).toBeNull();
    expect(blocklistAddressProblem('nope')).toContain('not an IPv4');
  });

  it('every list cites where its codes are documented and how to get off it', () => {
    for (const list of COMMON_BLOCKLISTS) {
      expect(list.source, list.zone).toMatch(/^https?:\/\//);
      expect(list.delist, list.zone).toMatch(/^https?:\/\//);
    }
  });
});

describe('hygiene doctor --ip against a DNS server on loopback', () => {
  let dns: SimDnsServer;
  let config: Config;
  const v6 = '2001:db8::7';
  const name = (ip: string, zone: string) => blocklistQueryName(ip, zone);

  beforeAll(async () => {
    dns = await startSimDnsServer(
      parseWorldSpec({
        mxHosts: {},
        domains: {
          // 192.0.2.7: on Spamhaus (CSS + PBL) and Barracuda; not on SpamCop; PSBL silent; SORBS SERVFAIL.
          [name('192.0.2.7', 'zen.spamhaus.org')]: { a: ['127.0.0.3', '127.0.0.10'] },
          [name('192.0.2.7', 'b.barracudacentral.org')]: { a: ['127.0.0.2'] },
          [name('192.0.2.7', 'psbl.surriel.com')]: { dns: { failure: 'no_answer' } },
          [name('192.0.2.7', 'dnsbl.sorbs.net')]: { servfail: true },
          // 192.0.2.8: Spamhaus refuses our resolver (open resolver); nothing else.
          [name('192.0.2.8', 'zen.spamhaus.org')]: { a: ['127.255.255.254'] },
          // 192.0.2.9: on nothing. 2001:db8::7: on Spamhaus XBL.
          [name(v6, 'zen.spamhaus.org')]: { a: ['127.0.0.4'] },
        },
      }),
    );
    config = loadConfig(
      { HYGIENE_DNS_SERVERS: dns.address, HYGIENE_DNS_TIMEOUT_MS: '400', HYGIENE_DNS_TRIES: '1', HYGIENE_DNS_CANARIES: '', REDIS_URL: 'redis://127.0.0.1:6379', HYGIENE_HELO_NAME: 'verifier.demo.test', HYGIENE_MAIL_FROM: 'verify@demo.test' },
      {},
    );
  });
  afterAll(async () => {
    await dns?.stop();
  });

  const blocklistChecks = async (ip: string[]) => (await runDoctor(config, { ip })).checks.filter((c) => c.name === 'blocklist');

  it('a listed address fails, naming the lists, the codes and where to ask for removal; silence is unknown, not "not listed"', async () => {
    const started = Date.now();
    const [check] = await blocklistChecks(['192.0.2.7']);
    const took = Date.now() - started;
    expect(check).toMatchObject({ status: 'fail', address: '192.0.2.7' });
    const byZone = Object.fromEntries(check!.blocklists!.map((r) => [r.zone, r]));
    expect(byZone['zen.spamhaus.org']).toMatchObject({ status: 'listed', answers: ['127.0.0.3', '127.0.0.10'] });
    expect(byZone['b.barracudacentral.org']!.status).toBe('listed');
    expect(byZone['bl.spamcop.net']!.status).toBe('not_listed');
    expect(byZone['psbl.surriel.com']!.status).toBe('unknown');
    expect(byZone['dnsbl.sorbs.net']!.status).toBe('unknown');
    expect(check!.detail).toContain('LISTED on zen.spamhaus.org (127.0.0.3, 127.0.0.10)');
    expect(check!.detail).toContain('SBL CSS');
    expect(check!.detail).toContain(`via ${dns.address}`);
    expect(check!.fix).toContain('https://check.spamhaus.org/');
    // The lists are asked at once: one timeout (400 ms) bounds the whole check.
    expect(took).toBeLessThan(3_000);
    const text = formatDoctor({ ok: false, complete: true, checks: [check!] });
    expect(text).toContain('[FAIL] DNS blocklists: 192.0.2.7');
  });

  it('a list refusing our resolver is a warning about the resolver, not a listing', async () => {
    const [check] = await blocklistChecks(['192.0.2.8']);
    expect(check!.status).toBe('warn');
    expect(check!.detail).not.toContain('LISTED');
    expect(check!.detail).toContain('zen.spamhaus.org: Not an answer about the address');
    expect(check!.fix).toContain('resolver');
  });

  it('a clean address is ok; an IPv6 address is asked in nibble form of the lists that cover IPv6', async () => {
    const [clean, six] = await blocklistChecks(['192.0.2.9', v6]);
    expect(clean!.status).toBe('ok');
    expect(clean!.blocklists!.every((r) => r.status === 'not_listed')).toBe(true);
    expect(six!.status).toBe('fail');
    expect(six!.detail).toContain('XBL');
    expect(six!.detail).toContain('not asked (IPv4-only lists)');
    expect(dns.stats.byName[name(v6, 'zen.spamhaus.org')]).toBeGreaterThan(0);
  });

  it('without --ip and without any known address it says the public address must be given', async () => {
    const report = await runDoctor(config, { blocklists: true });
    const check = report.checks.find((c) => c.name === 'blocklist');
    expect(check).toMatchObject({ status: 'skip' });
    expect(check!.fix).toContain('hygiene doctor --ip');
    // Nothing asked about blocklists unless requested.
    const plain = await runDoctor(config, {});
    expect(plain.checks.some((c) => c.name === 'blocklist')).toBe(false);
  });

  it('checks the configured local address of each identity by default', async () => {
    const withLocal = loadConfig(
      { HYGIENE_DNS_SERVERS: dns.address, HYGIENE_DNS_TIMEOUT_MS: '400', HYGIENE_DNS_TRIES: '1', HYGIENE_DNS_CANARIES: '', REDIS_URL: 'redis://127.0.0.1:6379', HYGIENE_HELO_NAME: 'verifier.demo.test', HYGIENE_MAIL_FROM: 'verify@demo.test', HYGIENE_LOCAL_ADDRESS: '192.0.2.9' },
      {},
    );
    const report = await runDoctor(withLocal, { blocklists: true });
    const check = report.checks.find((c) => c.name === 'blocklist');
    expect(check).toMatchObject({ status: 'ok', address: '192.0.2.9' });
  });
});
