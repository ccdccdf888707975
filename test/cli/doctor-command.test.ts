/**
 * `hygiene doctor` against a simulated world on loopback: Redis, DNS, outbound SMTP to the MX hosts
 * of a named domain, HELO name and PTR — and what it says when something is wrong.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { formatDoctor, runDoctor } from '../../src/cli/doctor-command.ts';
import { main } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { deletePrefix, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

let world: MailWorld;
let prefix: string;

beforeAll(async () => {
  world = await startMailWorld(
    parseWorldSpec({
      mxHosts: {
        'mx.good.test': { ip: '127.0.0.41' },
        'mx1.dead.test': { ip: '127.0.0.42', behaviour: { refuse: true } },
        'mx2.dead.test': { ip: '127.0.0.43', behaviour: { refuse: true } },
        'mx.blocked.test': { ip: '127.0.0.44', behaviour: { greeting: '554 5.7.1 mx.blocked.test: your IP is on a blocklist' } },
      },
      domains: {
        'good.test': { mx: [{ host: 'mx.good.test', preference: 10 }], mailboxes: ['a'] },
        'dead.test': { mx: [{ host: 'mx1.dead.test', preference: 10 }, { host: 'mx2.dead.test', preference: 20 }], mailboxes: ['a'] },
        'blocked.test': { mx: [{ host: 'mx.blocked.test', preference: 10 }], mailboxes: ['a'] },
        // The HELO name of demoEnvironment resolves here (the simulated DNS serves no PTR records).
        'verifier.demo.test': { a: ['127.0.0.45'] },
      },
    }),
  );
  prefix = uniquePrefix('doctor');
});
afterAll(async () => {
  await world?.stop();
  await deletePrefix(prefix);
});

describe('hygiene doctor', () => {
  it('passes Redis, DNS and outbound SMTP for a reachable domain, and warns about the missing PTR', async () => {
    const report = await runDoctor(worldConfig(world, prefix), { domain: 'good.test' });
    const by = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(by.redis?.status).toBe('ok');
    expect(by.dns?.status).toBe('ok');
    expect(by.dns?.detail).toContain('mx.good.test (127.0.0.41)');
    expect(by.port25?.status).toBe('ok');
    expect(by.port25?.detail).toContain('greeting "220 mx.good.test');
    expect(by.helo?.status).toBe('warn');
    expect(by.helo?.detail).toContain('127.0.0.45 has no PTR record');
    expect(report.ok).toBe(true);
  });

  it('fails outbound SMTP when no MX host can be reached, and says what to check', async () => {
    const report = await runDoctor(worldConfig(world, prefix), { domain: 'dead.test' });
    const port25 = report.checks.find((c) => c.name === 'port25')!;
    expect(port25.status).toBe('fail');
    expect(port25.detail).toContain('mx1.dead.test [127.0.0.42]: connection refused');
    expect(port25.detail).toContain('mx2.dead.test [127.0.0.43]: connection refused');
    expect(port25.fix).toMatch(/firewall/);
    expect(report.ok).toBe(false);
    expect(formatDoctor(report)).toContain('[FAIL] Outbound SMTP');
  });

  it('tells an open port from a server that refuses us (a rejected greeting)', async () => {
    const report = await runDoctor(worldConfig(world, prefix), { domain: 'blocked.test' });
    const port25 = report.checks.find((c) => c.name === 'port25')!;
    expect(port25.status).toBe('warn');
    expect(port25.detail).toContain('Port');
    expect(port25.detail).toContain('554 5.7.1');
  });

  it('says the HELO name does not resolve, and skips port 25 without --domain', async () => {
    const report = await runDoctor(worldConfig(world, prefix, { HYGIENE_HELO_NAME: 'nowhere.invalid-helo.test' }), {});
    const by = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(by.port25?.status).toBe('skip');
    expect(by.helo?.status).toBe('warn');
    expect(by.helo?.detail).toContain('does not resolve');
  });

  it('fails Redis when the configured Redis does not answer; exit code 1 through the CLI', async () => {
    const env = { ...demoEnvironment(world.dnsServers, world.smtpPort), REDIS_URL: 'redis://127.0.0.1:1', HYGIENE_PREFIX: prefix, LOG_LEVEL: 'silent' };
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['doctor', '--domain', 'good.test', '--json'], env)).toBe(1);
    } finally {
      write.mockRestore();
    }
    const report = JSON.parse(out.join('')) as Awaited<ReturnType<typeof runDoctor>>;
    expect(report.checks.find((c) => c.name === 'redis')).toMatchObject({ status: 'fail' });
    expect(report.checks.find((c) => c.name === 'port25')).toMatchObject({ status: 'ok' });
  });
});

describe('hygiene doctor on our own faults (issue 11)', () => {
  const machine = { hostname: () => 'vm', hostsFile: () => '127.0.0.1 localhost\n127.0.0.1 vm\n' };
  const env = (): Record<string, string> => ({ ...demoEnvironment(world.dnsServers, world.smtpPort), REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', HYGIENE_PREFIX: prefix });

  it('fails on a single-label host name with no HYGIENE_HELO_NAME, naming the variable', async () => {
    const { HYGIENE_HELO_NAME: _h, HYGIENE_MAIL_FROM: _m, ...rest } = env();
    const report = await runDoctor(loadConfig(rest, {}, machine), { domain: 'good.test' });
    const helo = report.checks.find((c) => c.name === 'helo')!;
    expect(helo.status).toBe('fail');
    expect(helo.detail).toContain('HYGIENE_HELO_NAME');
    expect(helo.detail).toContain('"vm"');
    expect(report.checks.find((c) => c.name === 'port25')?.detail).toContain('EHLO not tried');
    expect(report.ok).toBe(false);
    expect(formatDoctor(report)).not.toContain('Nothing blocks a verify run');
  });

  it('never says "Nothing blocks" while a check was skipped', async () => {
    const report = await runDoctor(loadConfig({ ...env(), HYGIENE_DNS_CANARIES: 'good.test' }), {});
    expect(report.checks.find((c) => c.name === 'port25')?.status).toBe('skip');
    expect(report.complete).toBe(false);
    const text = formatDoctor(report);
    expect(text).not.toContain('Nothing blocks a verify run.');
    expect(text).toContain('Not everything could be checked (skipped: Outbound SMTP)');
  });

  it('a domain that does not resolve while well-known names do not either: the resolver is failing or lying (FAIL, not "the domain does not exist")', async () => {
    const lying = await runDoctor(loadConfig({ ...env(), HYGIENE_DNS_CANARIES: 'gmail.com,outlook.com' }), { domain: 'no-such-domain.test' });
    const dns = lying.checks.find((c) => c.name === 'dns')!;
    expect(dns.status).toBe('fail');
    expect(dns.detail).toMatch(/failing or lying/);
    expect(dns.fix).toContain('HYGIENE_DNS_SERVERS');
    expect(formatDoctor(lying)).not.toContain('Nothing blocks');
    // With canaries the resolver knows, the same answer is about the domain.
    const honest = await runDoctor(loadConfig({ ...env(), HYGIENE_DNS_CANARIES: 'good.test' }), { domain: 'no-such-domain.test' });
    expect(honest.checks.find((c) => c.name === 'dns')?.status).toBe('warn');
  });
});
