/**
 * One rule per setting (issue 11): the value parsers, the default HELO name of a machine (host name
 * and /etc/hosts injected, so any machine can be played), and how problems are reported: one line
 * each, naming the variable and a valid example. The real machine case (`unshare --uts`, host name
 * "vm") is in test/cli/helo-identity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, probeIdentity } from '../../src/config/config.ts';
import { defaultHeloName, type HostNameSource } from '../../src/config/host-identity.ts';
import { parseDnsServer, parseHeloName, parseIpAddress, parseMailFrom, parsePort, parseRedisUrl } from '../../src/config/setting-values.ts';
import { isHygieneError } from '../../src/errors.ts';
import { ehlo, mailFrom } from '../../src/smtp/smtp-commands.ts';

function machine(hostname: string, hosts: string | null = null): HostNameSource {
  return { hostname: () => hostname, hostsFile: () => hosts };
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (isHygieneError(err, 'CONFIG_INVALID')) return [...err.context.problems];
    throw err;
  }
  return [];
}

describe('parseHeloName: the one rule for an EHLO name', () => {
  it.each(['verify.example.com', 'mx-1.sub.example.co.uk', '[192.0.2.1]', '[IPv6:2001:db8::1]', 'verifier.test'])('accepts %s', (name) => {
    expect(parseHeloName(name).ok).toBe(true);
  });
  it.each(['vm', 'localhost', 'localhost.localdomain', 'vm.localdomain', '', 'probe example.org', '-x.example.org', 'x_y.example.org', '1.2.3.4', '[1.2.3]', `${'a'.repeat(64)}.org`])(
    'refuses %j',
    (name) => {
      expect(parseHeloName(name).ok).toBe(false);
    },
  );
  it('is the rule the SMTP layer applies too: what config accepts, EHLO accepts, and the reverse', () => {
    for (const name of ['verify.example.com', '[192.0.2.1]', 'vm', 'localhost', 'vm.localdomain', 'a..b.com']) {
      let sent = true;
      try {
        ehlo(name);
      } catch {
        sent = false;
      }
      expect(sent, name).toBe(parseHeloName(name).ok);
    }
  });
});

describe('parseMailFrom: the one rule for our sender', () => {
  it.each(['verify@example.com', 'bounces+probe@mail.example.co.uk', "o'brien@example.ie"])('accepts %s', (address) => {
    expect(parseMailFrom(address).ok).toBe(true);
    expect(mailFrom(address)).toBe(`MAIL FROM:<${address}>`);
  });
  it.each(['verify@localhost', 'verify@vm', 'verify@vm.localdomain', 'verify@[192.0.2.1]', 'jörg@example.com', 'a b@example.com', '<x@example.com>', 'x@example.com\r\n', 'nobody'])(
    'refuses %j, and so does MAIL FROM',
    (address) => {
      expect(parseMailFrom(address).ok).toBe(false);
      expect(() => mailFrom(address)).toThrow();
    },
  );
});

describe('other value parsers', () => {
  it('ports, IP addresses, DNS servers, Redis URLs', () => {
    expect(parsePort('25')).toEqual({ ok: true, value: 25 });
    expect(parsePort('0').ok).toBe(false);
    expect(parsePort('0', { allowZero: true }).ok).toBe(true);
    expect(parsePort('65536').ok).toBe(false);
    expect(parseIpAddress('192.0.2.7').ok).toBe(true);
    expect(parseIpAddress('::1').ok).toBe(true);
    expect(parseIpAddress('mail.example.com').ok).toBe(false);
    for (const ok of ['1.1.1.1', '127.0.0.1:5353', '[2606:4700:4700::1111]:53', '::1']) expect(parseDnsServer(ok).ok, ok).toBe(true);
    for (const bad of ['dns.google', '1.1.1.1:0', '1.1.1.1:99999', '[1.1.1.1]:53', '1.2.3']) expect(parseDnsServer(bad).ok, bad).toBe(false);
    expect(parseRedisUrl('redis://127.0.0.1:6379').ok).toBe(true);
    expect(parseRedisUrl('rediss://user:pw@redis.example.com:6380/2').ok).toBe(true);
    expect(parseRedisUrl('http://127.0.0.1').ok).toBe(false);
    expect(parseRedisUrl('redis://127.0.0.1:99999').ok).toBe(false);
  });
});

describe('default HELO name of a machine', () => {
  it('uses the host name when it is a public FQDN', () => {
    expect(defaultHeloName(machine('mail-probe.example.net'))).toEqual({ name: 'mail-probe.example.net', hostname: 'mail-probe.example.net', source: 'hostname' });
  });
  it('derives the FQDN /etc/hosts gives a single-label host name (like hostname -f)', () => {
    const hosts = '127.0.0.1 localhost\n# comment\n127.0.1.1\tbox.example.net box   # the installer wrote this\n::1 ip6-localhost\n';
    expect(defaultHeloName(machine('box', hosts))).toEqual({ name: 'box.example.net', hostname: 'box', source: 'hosts-file' });
  });
  it('has none for a container or VM with a single-label name and nothing better in /etc/hosts', () => {
    expect(defaultHeloName(machine('vm', '127.0.0.1 localhost\n127.0.0.1 vm\n')).name).toBeNull();
    expect(defaultHeloName(machine('3f2a9c1b7d4e', '172.17.0.2\t3f2a9c1b7d4e\n')).name).toBeNull();
    expect(defaultHeloName(machine('vm', null)).name).toBeNull();
  });
  it('never picks a private-zone name nobody outside can resolve', () => {
    expect(defaultHeloName(machine('ip-10-0-0-1.ec2.internal', '10.0.0.1 ip-10-0-0-1.ec2.internal ip-10-0-0-1\n')).name).toBeNull();
    expect(defaultHeloName(machine('vm', '127.0.1.1 vm.localdomain vm\n')).name).toBeNull();
    expect(defaultHeloName(machine('nas', '192.168.1.2 nas.local nas\n')).name).toBeNull();
    expect(defaultHeloName(machine('vm', '10.0.0.5 vm.c.project.internal vm\n')).name).toBeNull();
  });
});

describe('loadConfig', () => {
  it('a single-label host and no HYGIENE_HELO_NAME: every command may load the config, probing needs one line naming HYGIENE_HELO_NAME', () => {
    const config = loadConfig({}, {}, machine('vm', '127.0.0.1 vm\n'));
    expect(config.smtp.heloName).toBeUndefined();
    expect(config.smtp.mailFrom).toBeUndefined();
    let err: unknown;
    try {
      probeIdentity(config);
    } catch (e) {
      err = e;
    }
    expect(isHygieneError(err, 'CONFIG_INVALID')).toBe(true);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain('HYGIENE_HELO_NAME');
    expect(message).toContain('"vm"');
    expect(message).toContain('e.g. HYGIENE_HELO_NAME=verify.example.com');
  });

  it('derives HELO and sender from /etc/hosts', () => {
    const config = loadConfig({}, {}, machine('box', '127.0.1.1 box.example.net box\n'));
    expect(probeIdentity(config)).toEqual({ heloName: 'box.example.net', mailFrom: 'verify@box.example.net' });
  });

  it('an address-literal HELO cannot give a default sender: probing asks for HYGIENE_MAIL_FROM', () => {
    const config = loadConfig({ HYGIENE_HELO_NAME: '[192.0.2.1]' }, {}, machine('vm'));
    expect(() => probeIdentity(config)).toThrow(/HYGIENE_MAIL_FROM/);
    expect(probeIdentity(loadConfig({ HYGIENE_HELO_NAME: '[192.0.2.1]', HYGIENE_MAIL_FROM: 'v@example.com' }, {}, machine('vm'))).heloName).toBe('[192.0.2.1]');
  });

  it('every explicitly set invalid value is one line naming the variable and a valid example, all at once', () => {
    const problems = problemsOf(() =>
      loadConfig(
        {
          HYGIENE_HELO_NAME: 'vm',
          HYGIENE_MAIL_FROM: 'verify@localhost',
          HYGIENE_SMTP_PORT: '0',
          HYGIENE_LOCAL_ADDRESS: 'eth0',
          HYGIENE_DNS_SERVERS: '1.1.1.1,dns.google',
          REDIS_URL: 'http://localhost',
          HYGIENE_CONCURRENCY: 'many',
          HYGIENE_CATCH_ALL_PROBE: 'nope',
          HYGIENE_DNS_CANARIES: 'gmail',
          HYGIENE_MX_PAUSE_MS: '120000',
          HYGIENE_MX_PAUSE_MAX_MS: '60000',
        },
        {},
        machine('box.example.net'),
      ),
    );
    const expected = [
      'HYGIENE_HELO_NAME',
      'HYGIENE_MAIL_FROM',
      'HYGIENE_SMTP_PORT',
      'HYGIENE_LOCAL_ADDRESS',
      'HYGIENE_DNS_SERVERS',
      'REDIS_URL',
      'HYGIENE_CONCURRENCY',
      'HYGIENE_CATCH_ALL_PROBE',
      'HYGIENE_DNS_CANARIES',
      'HYGIENE_MX_PAUSE_MAX_MS',
    ];
    for (const name of expected) {
      const line = problems.find((p) => p.startsWith(name));
      expect(line, `${name} in ${JSON.stringify(problems)}`).toBeDefined();
      expect(line).toMatch(new RegExp(`e\\.g\\. ${name}=`));
      expect(line).not.toContain('\n');
    }
    expect(problems).toHaveLength(expected.length);
    expect(problems.find((p) => p.startsWith('HYGIENE_DNS_SERVERS'))).toContain('"dns.google"');
  });

  it('the message of CONFIG_INVALID is one line per problem', () => {
    let err: unknown;
    try {
      loadConfig({ HYGIENE_HELO_NAME: 'vm', HYGIENE_SMTP_PORT: 'x' }, {}, machine('vm'));
    } catch (e) {
      err = e;
    }
    expect((err as Error).message.split('\n')).toHaveLength(2);
  });

  it('defaults: pause 60 s doubling to 1 h, 6 pause retries, 60 session starts a minute (burst 5), well-known DNS canaries', () => {
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com' }, {}, machine('vm'));
    expect(config.smtp).toMatchObject({ pauseMs: 60_000, pauseMaxMs: 3_600_000, pauseRetries: 6, sessionsPerMinute: 60, sessionBurst: 5 });
    expect(config.dns.canaries).toEqual(['gmail.com', 'outlook.com', 'yahoo.com']);
    expect(loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_DNS_CANARIES: '' }, {}, machine('vm')).dns.canaries).toEqual([]);
  });
});
