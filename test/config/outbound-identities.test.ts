/**
 * Outbound identities as configuration (issue 15): HYGIENE_SMTP_PROXY and HYGIENE_LOCAL_ADDRESS lists
 * with per-entry options after "#", HYGIENE_IDENTITIES_FILE, each value through the setting-values
 * parsers; credentials never in a problem, JSON or inspect output; providers pinned to identities
 * must name configured ones; a single-label host probes when every identity has its own HELO name.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, probeIdentity } from '../../src/config/config.ts';
import type { HostNameSource } from '../../src/config/host-identity.ts';
import { parseIdentityId, parseSocksProxyUrl } from '../../src/config/setting-values.ts';
import { isHygieneError } from '../../src/errors.ts';

const fqdnHost: HostNameSource = { hostname: () => 'probe.example.net', hostsFile: () => null };
const singleLabel: HostNameSource = { hostname: () => 'vm', hostsFile: () => '127.0.0.1 localhost\n127.0.0.1 vm\n' };
const SECRET = 'S3cr3t-p4ss';

function problemsOf(env: Record<string, string>, host = fqdnHost): string[] {
  try {
    loadConfig(env, {}, host);
  } catch (err) {
    if (isHygieneError(err, 'CONFIG_INVALID')) return [...err.context.problems];
    throw err;
  }
  return [];
}

describe('parseSocksProxyUrl', () => {
  it.each([
    ['socks5://127.0.0.1:1080', { host: '127.0.0.1', port: 1080, display: 'socks5://127.0.0.1:1080' }],
    ['socks5://Proxy.Example.NET', { host: 'proxy.example.net', port: 1080, display: 'socks5://proxy.example.net:1080' }],
    ['SOCKS5://[2001:db8::5]:1081', { host: '2001:db8::5', port: 1081, display: 'socks5://[2001:db8::5]:1081' }],
    ['socks5://u%40x:p%2C%23w@10.0.0.5:1080', { host: '10.0.0.5', port: 1080, display: 'socks5://***@10.0.0.5:1080' }],
  ])('accepts %s', (text, expected) => {
    const parsed = parseSocksProxyUrl(text);
    expect(parsed.ok && { host: parsed.value.host, port: parsed.value.port, display: parsed.value.display }).toEqual(expected);
  });

  it('decodes the credentials, which print as [redacted] everywhere', () => {
    const parsed = parseSocksProxyUrl(`socks5://u%40x:${SECRET}%2C@10.0.0.5:1080`);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.value.credentials?.username).toBe('u@x');
    expect(parsed.value.credentials?.password).toBe(`${SECRET},`);
    expect(JSON.stringify(parsed.value)).not.toContain(SECRET);
    expect(util.inspect(parsed.value, { depth: 10 })).not.toContain(SECRET);
    expect({ ...parsed.value.credentials }).toEqual({});
  });

  it.each([
    ['socks5h://10.0.0.5:1080', 'socks5h://'],
    ['socks4://10.0.0.5:1080', 'SOCKS4 and HTTP proxies are not supported'],
    ['http://10.0.0.5:3128', 'must be a SOCKS5 proxy URL'],
    ['10.0.0.5:1080', 'must be a SOCKS5 proxy URL'],
    ['socks5://user@10.0.0.5:1080', 'needs both a user name and a password'],
    ['socks5://10.0.0.5:0', 'must be between 1 and 65535'],
    ['socks5://10.0.0.5:1080/x', 'nothing after the port'],
    ['socks5://bad_host:1080', 'no valid proxy host'],
    [`socks5://u:${'p'.repeat(256)}@10.0.0.5:1080`, 'longer than 255 bytes'],
  ])('refuses %s', (text, problem) => {
    const parsed = parseSocksProxyUrl(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(problem);
  });

  it('parseIdentityId: the one rule for identity names', () => {
    for (const id of ['eu-1', 'proxy.a', 'direct', 'local-192.0.2.10']) expect(parseIdentityId(id).ok).toBe(true);
    for (const id of ['', 'EU', '-x', 'a b', 'x'.repeat(65)]) expect(parseIdentityId(id).ok).toBe(false);
  });
});

describe('outbound identities from the environment', () => {
  it('none configured: one direct identity with the global HELO name and sender', () => {
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com' }, {}, fqdnHost);
    expect(config.smtp.identities).toEqual([
      expect.objectContaining({ id: 'direct', kind: 'direct', setting: 'default', display: 'direct', heloName: 'verify.example.com', mailFrom: 'verify@verify.example.com', proxy: undefined, localAddress: undefined }),
    ]);
    expect(Object.isFrozen(config.smtp.identities)).toBe(true);
    expect(Object.isFrozen(config.smtp.identities[0])).toBe(true);
  });

  it('proxies and local addresses, each an identity, with #helo=, #mail-from= and #id= per entry', () => {
    const config = loadConfig(
      {
        HYGIENE_HELO_NAME: 'verify.example.com',
        HYGIENE_SMTP_PROXY: `socks5://joe:${SECRET}%2C%23@203.0.113.5:1080#helo=mx1.example.com&id=eu-1, socks5://203.0.113.6#helo=mx2.example.com&mail-from=probe%2Bx@example.com`,
        HYGIENE_LOCAL_ADDRESS: '192.0.2.10,2001:db8::10#helo=mx3.example.com',
      },
      {},
      fqdnHost,
    );
    const shown = config.smtp.identities.map(({ id, kind, setting, display, heloName, mailFrom, localAddress }) => ({ id, kind, setting, display, heloName, mailFrom, localAddress }));
    expect(shown).toEqual([
      { id: 'eu-1', kind: 'socks5', setting: 'HYGIENE_SMTP_PROXY', display: 'socks5://***@203.0.113.5:1080', heloName: 'mx1.example.com', mailFrom: 'verify@mx1.example.com', localAddress: undefined },
      { id: 'socks5-203.0.113.6-1080', kind: 'socks5', setting: 'HYGIENE_SMTP_PROXY', display: 'socks5://203.0.113.6:1080', heloName: 'mx2.example.com', mailFrom: 'probe+x@example.com', localAddress: undefined },
      { id: 'local-192.0.2.10', kind: 'local-address', setting: 'HYGIENE_LOCAL_ADDRESS', display: 'local address 192.0.2.10', heloName: 'verify.example.com', mailFrom: 'verify@verify.example.com', localAddress: '192.0.2.10' },
      { id: 'local-2001-db8--10', kind: 'local-address', setting: 'HYGIENE_LOCAL_ADDRESS', display: 'local address 2001:db8::10', heloName: 'mx3.example.com', mailFrom: 'verify@mx3.example.com', localAddress: '2001:db8::10' },
    ]);
    expect(config.smtp.identities[0]?.proxy?.credentials?.password).toBe(`${SECRET},#`);
    // The engine's (first) identity is a proxy: no local address to bind.
    expect(config.smtp.localAddress).toBeUndefined();
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(util.inspect(config, { depth: 20 })).not.toContain(SECRET);
    expect(probeIdentity(config)).toEqual({ heloName: 'mx1.example.com', mailFrom: 'verify@mx1.example.com' });
  });

  it('HYGIENE_MAIL_FROM set: every identity without its own keeps it', () => {
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_MAIL_FROM: 'bounce@example.com', HYGIENE_LOCAL_ADDRESS: '192.0.2.10#helo=mx1.example.com' }, {}, fqdnHost);
    expect(config.smtp.identities[0]).toMatchObject({ heloName: 'mx1.example.com', mailFrom: 'bounce@example.com' });
    expect(config.smtp.localAddress).toBe('192.0.2.10');
  });

  it('--smtp-proxy and --local-address override the variables', () => {
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_SMTP_PROXY: 'socks5://203.0.113.9:1080' }, { 'smtp-proxy': 'socks5://203.0.113.5:1080' }, fqdnHost);
    expect(config.smtp.identities.map((i) => i.display)).toEqual(['socks5://203.0.113.5:1080']);
  });

  it('every problem at once, one line each, naming the variable, never quoting a password', () => {
    const problems = problemsOf({
      HYGIENE_HELO_NAME: 'verify.example.com',
      HYGIENE_SMTP_PROXY: [
        `socks5h://joe:${SECRET}@203.0.113.5:1080`,
        `socks5://joe:${SECRET}#x@203.0.113.5:1080`,
        'socks5://203.0.113.6:1080#helo=vm',
        'socks5://203.0.113.7:1080#color=blue',
        'socks5://203.0.113.8:1080#id=same',
        'socks5://203.0.113.9:1080#id=same',
        `socks5://joe:${SECRET},tail@203.0.113.10:1080`,
      ].join(','),
      HYGIENE_LOCAL_ADDRESS: 'eth0',
    });
    expect(problems.join('\n')).not.toContain(SECRET);
    expect(problems).toEqual([
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "socks5h:\/\/\*\*\*@203\.0\.113\.5:1080" uses socks5h:\/\/.*e\.g\. HYGIENE_SMTP_PROXY=socks5:\/\//),
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "socks5:\/\/\*\*\*@203\.0\.113\.5:1080" has options after "#" that are not helo=NAME.*%23/),
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "socks5:\/\/203\.0\.113\.6:1080": helo "vm" is a single-label name/),
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "socks5:\/\/203\.0\.113\.7:1080" has options after "#"/),
      // An unencoded "," cut the password in two: neither half is quoted.
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "\(not shown: it may hold part of a password; a "," or "#" in a password is written %2C or %23\)" is not a valid URL/),
      expect.stringMatching(/^HYGIENE_SMTP_PROXY entry "\*\*\*@203\.0\.113\.10:1080" must be a SOCKS5 proxy URL/),
      expect.stringMatching(/^HYGIENE_LOCAL_ADDRESS entry "eth0" is not an IPv4 or IPv6 address/),
      expect.stringMatching(/^HYGIENE_SMTP_PROXY: two outbound identities are called "same"/),
    ]);
  });

  it('a single-label host probes when every identity has its own HELO name, and stops naming the ones that do not', () => {
    const all = loadConfig({ HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080#helo=mx1.example.com,socks5://203.0.113.6:1080#helo=mx2.example.com' }, {}, singleLabel);
    expect(probeIdentity(all)).toEqual({ heloName: 'mx1.example.com', mailFrom: 'verify@mx1.example.com' });
    const some = loadConfig({ HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080#helo=mx1.example.com,socks5://203.0.113.6:1080#id=bare' }, {}, singleLabel);
    let message = '';
    try {
      probeIdentity(some);
    } catch (err) {
      if (isHygieneError(err, 'CONFIG_INVALID')) message = err.message;
    }
    expect(message).toContain('HYGIENE_HELO_NAME is not set');
    expect(message).toContain('outbound identities without one: bare');
    expect(message).toContain('#helo=NAME');
  });
});

describe('HYGIENE_IDENTITIES_FILE and provider pins', () => {
  async function file(name: string, content: unknown): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-identities-'));
    const target = path.join(dir, name);
    await writeFile(target, typeof content === 'string' ? content : JSON.stringify(content));
    return target;
  }

  it('reads identities from the file; refuses it together with the variables', async () => {
    const identities = await file('identities.json', {
      identities: [
        { id: 'eu-1', proxy: `socks5://joe:${SECRET}@203.0.113.5:1080`, helo: 'mx1.example.com' },
        { localAddress: '192.0.2.10', helo: 'mx2.example.com', mailFrom: 'probe@example.com' },
      ],
    });
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_IDENTITIES_FILE: identities }, {}, fqdnHost);
    expect(config.smtp.identities.map((i) => [i.id, i.kind, i.setting, i.heloName, i.mailFrom])).toEqual([
      ['eu-1', 'socks5', 'HYGIENE_IDENTITIES_FILE', 'mx1.example.com', 'verify@mx1.example.com'],
      ['local-192.0.2.10', 'local-address', 'HYGIENE_IDENTITIES_FILE', 'mx2.example.com', 'probe@example.com'],
    ]);
    expect(problemsOf({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_IDENTITIES_FILE: identities, HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080' })).toEqual([
      expect.stringContaining('HYGIENE_IDENTITIES_FILE is set together with HYGIENE_SMTP_PROXY or HYGIENE_LOCAL_ADDRESS'),
    ]);
  });

  it('a bad file: every problem, never the password (not even from a JSON syntax error)', async () => {
    const bad = await file('bad.json', { identities: [{ proxy: `socks5://joe:${SECRET}@203.0.113.5:0` }, { proxy: 'socks5://203.0.113.6', localAddress: '192.0.2.1' }, { helo: 'vm', colour: 'x' }] });
    const problems = problemsOf({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_IDENTITIES_FILE: bad });
    expect(problems.join('\n')).not.toContain(SECRET);
    expect(problems).toEqual([
      expect.stringMatching(/identities\[0\]\.proxy "socks5:\/\/\*\*\*@203\.0\.113\.5:0" has a port that must be between 1 and 65535/),
      expect.stringMatching(/identities\[1\] has both "proxy" and "localAddress"/),
      expect.stringMatching(/identities\[2\] has unknown fields: colour/),
      expect.stringMatching(/identities\[2\]": helo "vm" is a single-label name/),
    ]);
    const broken = await file('broken.json', `{"identities": [{"proxy": "socks5://joe:${SECRET}@h:1"`);
    const syntax = problemsOf({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_IDENTITIES_FILE: broken });
    expect(syntax).toEqual([expect.stringContaining('it is not valid JSON')]);
    expect(syntax.join('\n')).not.toContain(SECRET);
  });

  it('a provider pinned to identities: the ids are checked, and must be configured', async () => {
    const providers = await file('providers.json', { version: 1, providers: [{ slug: 'google', identities: ['eu-1'] }, { slug: 'microsoft', identities: ['Bad Id'] }] });
    expect(problemsOf({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_PROVIDERS_FILE: providers, HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080#id=eu-1' }).join('\n')).toMatch(
      /identities\[0\]: "Bad Id" is not an id of lower-case letters/,
    );
    const pinned = await file('pinned.json', { version: 1, providers: [{ slug: 'google', identities: ['eu-1', 'us-1'] }] });
    expect(problemsOf({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_PROVIDERS_FILE: pinned, HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080#id=eu-1' })).toEqual([
      expect.stringContaining('provider "google" is pinned to outbound identities that are not configured: us-1 (configured: eu-1;'),
    ]);
    const config = loadConfig({ HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_PROVIDERS_FILE: pinned, HYGIENE_SMTP_PROXY: 'socks5://203.0.113.5:1080#id=eu-1,socks5://203.0.113.6:1080#id=us-1' }, {}, fqdnHost);
    expect(config.providers.providers.find((p) => p.slug === 'google')?.identities).toEqual(['eu-1', 'us-1']);
    expect(config.providers.providers.find((p) => p.slug === 'microsoft')?.identities).toBeNull();
  });
});
