/**
 * The provider table: the built-in data file is valid, frozen and cites a source for every fact;
 * the validator lists every problem at once; a user's file (HYGIENE_PROVIDERS_FILE) merges over
 * the built-in entries by slug and a bad one stops every command with exit 2.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { isHygieneError } from '../../src/errors.ts';
import { main } from '../../src/cli/main.ts';
import { builtInProviders, providersSetting } from '../../src/providers/provider-file.ts';
import { parseProviderTable, type ProviderTable } from '../../src/providers/provider-table.ts';

const { raw: BUILT_IN_RAW, table: BUILT_IN } = builtInProviders();

function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-providers-'));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

function slugOf(table: ProviderTable, slug: string) {
  const found = table.providers.find((p) => p.slug === slug);
  if (!found) throw new Error(`no provider ${slug}`);
  return found;
}

describe('built-in provider table', () => {
  it('is valid, deep-frozen and covers the providers and gateways of issue 14', () => {
    expect(isDeepFrozen(BUILT_IN)).toBe(true);
    const slugs = BUILT_IN.providers.map((p) => p.slug);
    for (const slug of ['google', 'microsoft', 'yahoo', 'apple', 'zoho', 'yandex', 'mailru', 'gmx', 'fastmail', 'godaddy', 'rackspace', 'ovh', 'namecheap']) {
      expect(slugs).toContain(slug);
    }
    for (const slug of ['proofpoint', 'mimecast', 'barracuda', 'cisco', 'trendmicro']) expect(slugOf(BUILT_IN, slug).kind).toBe('gateway');
    expect(slugOf(BUILT_IN, 'google').kind).toBe('mailbox-provider');
    expect(slugOf(BUILT_IN, 'godaddy').kind).toBe('hosting');
  });

  it('cites a source for every entry, profile, meaning, block signature and accept-all rule', () => {
    const missing: string[] = [];
    if (BUILT_IN.defaultProfile.sources.length === 0) missing.push('defaultProfile');
    for (const s of BUILT_IN.anyHost.blockSignatures) if (s.sources.length === 0) missing.push(`anyHost.${s.id}`);
    for (const p of BUILT_IN.providers) {
      if (p.sources.length === 0) missing.push(p.slug);
      if (p.profile !== BUILT_IN.defaultProfile && p.profile.sources.length === 0) missing.push(`${p.slug}.profile`);
      for (const m of p.replyMeanings) if (m.sources.length === 0) missing.push(`${p.slug}.${m.id}`);
      for (const s of p.blockSignatures) if (s.sources.length === 0) missing.push(`${p.slug}.${s.id}`);
      if (p.acceptsAll && p.acceptsAll.sources.length === 0) missing.push(`${p.slug}.acceptsAll`);
      // No provider publishes a probe limit: every profile says so and why.
      expect(p.profile.limitsPublished).toBe(false);
      expect(p.profile.note.length).toBeGreaterThan(40);
    }
    expect(missing).toEqual([]);
  });

  it('holds the facts later work relies on', () => {
    expect(BUILT_IN.defaultProfile.sessionsAtOnce).toBe(2);
    const microsoft = slugOf(BUILT_IN, 'microsoft');
    expect(microsoft.profile.rcptPerTransaction).toBe(1);
    expect(microsoft.replyMeanings.find((m) => m.id === 'microsoft-dbeb-unknown-recipient')?.segments).toEqual(['business']);
    expect(slugOf(BUILT_IN, 'yahoo').acceptsAll?.reason).toMatch(/every RCPT/);
    expect(slugOf(BUILT_IN, 'mailru').acceptsAll?.segments).toEqual(['consumer']);
    expect(slugOf(BUILT_IN, 'google').acceptsAll).toBeNull();
    // A provider without its own profile gets the default one.
    expect(slugOf(BUILT_IN, 'proofpoint').profile).toEqual(BUILT_IN.defaultProfile);
    // A partial profile keeps the default's other fields.
    expect(slugOf(BUILT_IN, 'google').profile.sessionsAtOnce).toBe(2);
    expect(slugOf(BUILT_IN, 'google').profile.rcptsPerMinute).toBe(30);
  });
});

describe('parseProviderTable', () => {
  it('lists every problem at once, each with its path', () => {
    const result = parseProviderTable(
      {
        version: 2,
        bogus: true,
        defaultProfile: { sessionsAtOnce: 0, sessionStartsPerMinute: 10, rcptsPerMinute: 60, rcptPerTransaction: null, blockCooldownMinutes: [60, 15], limitsPublished: false, note: 'n', sources: [] },
        providers: [
          { slug: 'Google', name: 'x', kind: 'mailbox-provider', mx: [{ suffix: 'google.com' }] },
          { slug: 'a', name: 'A', kind: 'isp', mx: [{ suffix: '*.a.test' }, { suffix: 'com' }, { suffix: 'b.test', segment: 'Biz' }] },
          { slug: 'b', name: 'B', kind: 'gateway', mx: [{ suffix: 'shared.test' }], color: 'red' },
          { slug: 'b', name: 'B again', kind: 'gateway', mx: [] },
          { slug: 'c', name: 'C', kind: 'gateway', mx: [{ suffix: 'shared.test' }] },
          {
            slug: 'd',
            name: 'D',
            kind: 'hosting',
            mx: [{ suffix: 'd.test', segment: 'business' }],
            replyMeanings: [
              { id: 'x', code: 550, enhanced: '4.1.1', textIncludes: ['No Such User'], meaning: 'mailbox_not_found', why: 'w', sources: [] },
              { id: 'x', code: 550, meaning: 'gone', why: 'w', segments: ['consumer'] },
            ],
            blockSignatures: [{ id: 'blk', textIncludes: ['listed'], about: 'karma', severity: 'block', means: 'm', blocklist: 'Not A Zone' }],
          },
        ],
      },
      'my-providers.json',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    const expected = [
      /\$\.version: must be 1/,
      /\$\.bogus: unknown field/,
      /defaultProfile\.sessionsAtOnce: must be a whole number from 1 to 50/,
      /blockCooldownMinutes: must not get shorter/,
      /providers\[0\]\.slug: must be a lower-case slug/,
      /\[a\]\.kind: must be one of mailbox-provider, gateway, hosting/,
      /\[a\]\.mx\[0\]\.suffix: must be a lower-case host name suffix/,
      /\[a\]\.mx\[1\]\.suffix: must have at least two labels/,
      /\[a\]\.mx\[2\]\.segment: must be a lower-case word/,
      /\[b\]\.color: unknown field/,
      /"b" is also the slug of providers\[2\]/,
      /suffix "shared\.test" is also claimed by "b"/,
      /code 550 and enhanced 4\.1\.1 disagree/,
      /textIncludes\[0\]: must be lower case/,
      /"x" is used twice/,
      /a bare code is not specific to a provider/,
      /segment "consumer"/,
      /meaning: must be one of mailbox_not_found/,
      /about: must be one of ip, network/,
      /blocklist: must be lower case/,
    ];
    for (const re of expected) expect(text).toMatch(re);
    expect(result.problems.every((p) => p.startsWith('my-providers.json: '))).toBe(true);
  });

  it('refuses a value that is not an object', () => {
    expect(parseProviderTable([], 'f.json')).toEqual({ ok: false, problems: [expect.stringMatching(/^f\.json: must be a JSON object/)] });
  });
});

describe('user provider file (HYGIENE_PROVIDERS_FILE)', () => {
  it('merges over the built-in entries by slug, field by field, and adds new providers', async () => {
    const file = await tempFile(
      'providers.json',
      JSON.stringify({
        version: 1,
        defaultProfile: { rcptsPerMinute: 40 },
        anyHost: { blockSignatures: [{ id: 'spamcop', textIncludes: ['spamcop'], about: 'ip', severity: 'block', means: 'Listed on SpamCop (our wording).' }] },
        providers: [
          { slug: 'google', profile: { sessionsAtOnce: 1 } },
          { slug: 'yahoo', acceptsAll: null },
          { slug: 'acme-relay', name: 'Acme relay', kind: 'hosting', mx: [{ suffix: 'relay.acme.example' }], sources: ['our ops team'] },
        ],
      }),
    );
    const problems: string[] = [];
    const table = providersSetting('HYGIENE_PROVIDERS_FILE', file, problems);
    expect(problems).toEqual([]);
    expect(isDeepFrozen(table)).toBe(true);
    const google = slugOf(table, 'google');
    expect(google.profile.sessionsAtOnce).toBe(1);
    expect(google.profile.rcptsPerMinute).toBe(30);
    expect(google.mx).toEqual(slugOf(BUILT_IN, 'google').mx);
    expect(slugOf(table, 'yahoo').acceptsAll).toBeNull();
    expect(slugOf(table, 'yahoo').mx).toEqual(slugOf(BUILT_IN, 'yahoo').mx);
    // A provider without a profile of its own takes the user's default profile.
    expect(slugOf(table, 'acme-relay').profile.rcptsPerMinute).toBe(40);
    expect(slugOf(table, 'proofpoint').profile.rcptsPerMinute).toBe(40);
    expect(slugOf(table, 'proofpoint').profile.sessionsAtOnce).toBe(2);
    expect(table.anyHost.blockSignatures.filter((s) => s.id === 'spamcop').map((s) => s.means)).toEqual(['Listed on SpamCop (our wording).']);
    expect(table.anyHost.blockSignatures.length).toBe(BUILT_IN.anyHost.blockSignatures.length);
    expect(table.providers.length).toBe(BUILT_IN.providers.length + 1);
    // The built-in table is untouched.
    expect(slugOf(BUILT_IN, 'google').profile.sessionsAtOnce).toBe(2);
    // The merge never writes into the parsed built-in JSON it lays the user's file over.
    expect(BUILT_IN_RAW).toEqual(JSON.parse(readFileSync(new URL('../../src/providers/providers.json', import.meta.url), 'utf8')));
  });

  it('validates the file the same way and names the variable and the file in every problem', async () => {
    const file = await tempFile(
      'bad.json',
      JSON.stringify({ version: 1, providers: [{ slug: 'google', profile: { rcptsPerMinute: -5 } }, { slug: 'newcomer', mx: [{ suffix: 'evil.*' }] }] }),
    );
    const problems: string[] = [];
    const table = providersSetting('HYGIENE_PROVIDERS_FILE', file, problems);
    expect(table).toBe(BUILT_IN);
    const text = problems.join('\n');
    expect(problems[0]).toMatch(/^HYGIENE_PROVIDERS_FILE: .*bad\.json has \d+ problem/);
    expect(text).toMatch(/\[google\]\.profile\.rcptsPerMinute: must be a whole number/);
    expect(text).toMatch(/\[newcomer\]\.name: is required/);
    expect(text).toMatch(/\[newcomer\]\.kind: must be one of/);
    expect(text).toMatch(/\[newcomer\]\.mx\[0\]\.suffix/);
  });

  it('reports a missing or unreadable file and bad JSON', async () => {
    const problems: string[] = [];
    providersSetting('HYGIENE_PROVIDERS_FILE', '/nonexistent/providers.json', problems);
    providersSetting('HYGIENE_PROVIDERS_FILE', await tempFile('broken.json', '{ "version": 1, '), problems);
    expect(problems[0]).toMatch(/HYGIENE_PROVIDERS_FILE: cannot use \/nonexistent\/providers\.json: ENOENT/);
    expect(problems[1]).toMatch(/HYGIENE_PROVIDERS_FILE: cannot use .*broken\.json: .*JSON/);
  });

  it('is part of the validated configuration: a bad file is CONFIG_INVALID and exit 2', async () => {
    const good = await tempFile('ok.json', JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', profile: { rcptsPerMinute: 5 } }] }));
    const env = { HYGIENE_HELO_NAME: 'verifier.example.test', REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(slugOf(loadConfig({ ...env, HYGIENE_PROVIDERS_FILE: good }).providers, 'microsoft').profile.rcptsPerMinute).toBe(5);
    expect(loadConfig(env).providers).toBe(BUILT_IN);

    const bad = await tempFile('bad.json', JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', profile: { sessionsAtOnce: 0 } }] }));
    try {
      loadConfig({ ...env, HYGIENE_PROVIDERS_FILE: bad });
      expect.unreachable();
    } catch (err) {
      expect(isHygieneError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(/HYGIENE_PROVIDERS_FILE: .*bad\.json has 1 problem/);
      expect((err as Error).message).toMatch(/\[microsoft\]\.profile\.sessionsAtOnce/);
    }
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['doctor'], { ...env, HYGIENE_PROVIDERS_FILE: bad })).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/sessionsAtOnce/);
    } finally {
      stderr.mockRestore();
    }
  });
});
