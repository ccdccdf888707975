/**
 * The provider-aware engine (issues 14 and 15) end to end: the real runtime, list runner and Redis
 * over the simulated provider world on loopback (hosts under Google's, Microsoft's, Yahoo's... real
 * MX names, with their real reply texts, per-provider operators counting sessions and RCPTs across
 * all their names and addresses). Real DNS is forbidden for the whole file.
 *
 * - samples/contacts-providers.csv: every row's right verdict (provider-expectations.ts), its
 *   provider and identity, at most the provider's sessions at once across all its MX names and
 *   addresses, Yahoo/AOL not probed at all, never DATA.
 * - A Microsoft tenant that bans our IP after a few RCPTs (5.7.606): one trip of the breaker
 *   (onSenderBlock once, level 1, the profile's first cooldown), no RCPT after the window that saw
 *   the ban beyond what was already in flight, the rows left unknown/policy_block (about us: in
 *   cleaned, never rejected).
 * - Two identities (HYGIENE_LOCAL_ADDRESS=127.0.0.2,127.0.0.3), the world banning one of them: the
 *   other finishes the list with every verdict right, and the banned one sends nothing after its
 *   first blocked window.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/domain/verdict.ts';
import type { PoolStats, SenderBlockEvent } from '../../src/probe/mx-session-pool.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec, type WorldSpec } from '../../src/world/world-spec.ts';
import { forbidRealDns, type RealDnsGuard } from '../helpers/no-real-dns.ts';
import { Redis } from 'ioredis';
import { createSenderBlockStore } from '../../src/probe/sender-block-store.ts';
import { countsProblems, deletePrefix, REDIS_URL, runList, silentLogger, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { SAMPLE_EXPECTATIONS } from './provider-expectations.ts';
import { bannedTenant, contosoList } from './banned-tenant.ts';

let guard: RealDnsGuard;
let world: MailWorld | null = null;
const prefixes: string[] = [];

beforeAll(() => {
  guard = forbidRealDns();
});
afterEach(async () => {
  await world?.stop();
  world = null;
});
afterAll(async () => {
  guard.restore();
  for (const p of prefixes) await deletePrefix(p);
  expect(guard.attempts).toEqual([]);
});

interface Run {
  out: ListOutputs;
  verdicts: Map<string, Verdict>;
  blocks: SenderBlockEvent[];
  /** Per outbound identity: sessions and RCPTs of its pools (runtime.identityStats()). */
  identityStats: Map<string, PoolStats>;
}

async function run(spec: WorldSpec, emails: string[], label: string, env: Record<string, string> = {}): Promise<Run> {
  world = await startMailWorld(spec);
  const prefix = env.HYGIENE_PREFIX ?? uniquePrefix(label);
  prefixes.push(prefix);
  const verdicts = new Map<string, Verdict>();
  const blocks: SenderBlockEvent[] = [];
  const dir = await tempDir(label);
  const providersFile = path.join(dir, 'providers.json');
  // Faster than the built-in profiles where the world allows it, so the test runs in seconds: the
  // world's own limits (Google 40 RCPTs a minute, Microsoft's ban) still hold.
  await writeFile(providersFile, JSON.stringify({ version: 1, providers: [{ slug: 'apple', profile: { rcptsPerMinute: 600 } }, { slug: 'mimecast', profile: { rcptsPerMinute: 600 } }] }));
  const runtime = await startRuntime(worldConfig(world, prefix, { HYGIENE_PROVIDERS_FILE: providersFile, HYGIENE_MX_PAUSE_MAX_MS: '2000', ...env }), {
    onOutcomes: (_batch, outcomes) => {
      // The last outcome's verdict (a retry's verdict is the one kept when its retries run out).
      for (const [address, outcome] of outcomes) verdicts.set(address.toLowerCase(), outcome.verdict);
    },
    poolEvents: { onSenderBlock: (block) => blocks.push(block) },
  });
  try {
    const file = path.join(dir, `${label}.csv`);
    await writeFile(file, `Email\n${emails.join('\n')}\n`);
    const out = await runList(runtime, file, path.join(dir, 'out'), { emailHeader: 'Email' });
    return { out, verdicts, blocks, identityStats: runtime.identityStats() };
  } finally {
    await runtime.close();
  }
}

const got = (out: ListOutputs, email: string): string => `${out.byEmail.get(email)?.hygiene_status}/${out.byEmail.get(email)?.hygiene_reason}`;

describe('the provider world, through the engine', () => {
  it('gives every sample row its right verdict and provider, within each provider\'s sessions at once, Yahoo/AOL unprobed', async () => {
    const spec = await loadWorldSpecFile('samples/world-providers.json');
    const { out, verdicts } = await run(spec, Object.keys(SAMPLE_EXPECTATIONS), 'provider-sample');
    const wrong: string[] = [];
    for (const [email, want] of Object.entries(SAMPLE_EXPECTATIONS)) {
      const row = out.byEmail.get(email);
      const right = row?.hygiene_status === want.status && (want.reason === null || row?.hygiene_reason === want.reason);
      if (!right) wrong.push(`${email}: ${got(out, email)} → ${want.status}/${want.reason ?? '*'}`);
      const v = verdicts.get(email);
      if ((v?.provider ?? '') !== want.provider) wrong.push(`${email}: provider ${v?.provider ?? '(none)'} → ${want.provider || '(none)'}`);
      if (v?.smtpReply !== undefined && v.identity !== 'direct') wrong.push(`${email}: identity ${v.identity}`);
    }
    expect(wrong).toEqual([]);
    expect(verdicts.get('lucy.brown@yahoo.com')?.detail).toMatch(/Yahoo.*not probed/);
    const ops = world!.operatorStats();
    for (const [name, o] of Object.entries(ops)) {
      expect(o.maxConcurrentSessions, name).toBeLessThanOrEqual(2);
      expect(o.dataSeen, name).toBe(0);
      expect(o.rcptsWhileBlocked, name).toBe(0);
    }
    expect(ops.yahoo?.sessionsOpened).toBe(0);
    // The listed IP's row is about us: never in rejected.
    expect(out.rejected.map((r) => r.Email)).not.toContain('customer@regional-isp.test');
  }, 120_000);
});

describe('the sender-block breaker', () => {
  it('one identity banned by Microsoft: one trip, nothing sent after the blocked window, the rest unknown/policy_block and never rejected', async () => {
    const list = contosoList(20);
    const spec = await bannedTenant(4, null, list.mailboxes);
    const microsoftFast = JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] });
    const dir = await tempDir('breaker-providers');
    await writeFile(path.join(dir, 'p.json'), microsoftFast);
    const { out, blocks } = await run(spec, list.emails, 'breaker-one', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json') });
    const ops = world!.operatorStats().microsoft!;
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ provider: 'microsoft', identity: 'direct', signature: 'microsoft-banned-sending-ip', severity: 'block', level: 1 });
    expect(blocks[0]!.cooldownUntil - Date.now()).toBeGreaterThan(10 * 60_000);
    // Two sessions at once may each have had their one-RCPT window in flight when the ban came.
    expect(ops.rcptsWhileBlocked).toBeLessThanOrEqual(2);
    expect(ops.rcptCount).toBeLessThanOrEqual(4 + 1 + 2 + 1);
    let right = 0;
    for (const email of list.emails) {
      const g = got(out, email);
      if (g === list.want(email)) right++;
      else expect(g, email).toBe('unknown/policy_block');
    }
    expect(right).toBeGreaterThan(0);
    expect(out.rejected.filter((r) => r.hygiene_reason === 'policy_block')).toEqual([]);
  }, 120_000);

  it('honours a block another process tripped: no session to the provider for that identity, rows unknown/policy_block', async () => {
    const list = contosoList(6);
    const spec = await bannedTenant(1_000, null, list.mailboxes);
    const prefix = uniquePrefix('breaker-fleet');
    prefixes.push(prefix);
    const redis = new Redis(REDIS_URL);
    try {
      const other = createSenderBlockStore(redis, { keyPrefix: prefix, logger: silentLogger });
      await other.trip('microsoft@direct', { signature: 'microsoft-banned-sending-ip', reply: '550 5.7.606 Access denied, banned sending IP [127.0.0.1]', ladderMs: [15 * 60_000] });
    } finally {
      redis.disconnect();
    }
    const { out } = await run(spec, list.emails, 'breaker-fleet', { HYGIENE_PREFIX: prefix });
    expect(world!.operatorStats().microsoft?.sessionsOpened).toBe(0);
    for (const email of list.emails) expect(got(out, email), email).toBe('unknown/policy_block');
    expect(out.rejected).toEqual([]);
  }, 60_000);

  it('two identities, the world bans one: the other finishes the list with every verdict right', async () => {
    const list = contosoList(24);
    const spec = await bannedTenant(3, ['127.0.0.2'], list.mailboxes);
    const dir = await tempDir('pool-providers');
    await writeFile(path.join(dir, 'p.json'), JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] }));
    const { out, verdicts, blocks, identityStats } = await run(spec, list.emails, 'breaker-pool', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json'), HYGIENE_LOCAL_ADDRESS: '127.0.0.2,127.0.0.3' });
    const wrong = list.emails.filter((e) => got(out, e) !== list.want(e)).map((e) => `${e}: ${got(out, e)}`);
    expect(wrong).toEqual([]);
    expect(blocks.map((b) => [b.identity, b.severity])).toEqual([['local-127.0.0.2', 'block']]);
    const identities = new Set([...verdicts.values()].map((v) => v.identity));
    expect(identities.has('local-127.0.0.3')).toBe(true);
    // Both identities had sessions; the banned one sent at most its 3 allowed RCPTs, the ban and what was in flight.
    expect(identityStats.get('local-127.0.0.2')?.sessions).toBeGreaterThan(0);
    expect(identityStats.get('local-127.0.0.2')?.rcpts).toBeLessThanOrEqual(3 + 1 + 2);
    expect((identityStats.get('local-127.0.0.3')?.rcpts ?? 0) + (identityStats.get('local-127.0.0.2')?.rcpts ?? 0)).toBeGreaterThanOrEqual(list.emails.length);
    const ops = world!.operatorStats().microsoft!;
    expect(ops.rcptsWhileBlocked).toBeLessThanOrEqual(2);
    expect(ops.maxConcurrentSessions).toBeLessThanOrEqual(4);
    // The report tells the same story as the engine (the surface reads the engine's events):
    // one block alert about the banned identity, per-identity figures equal to its pools', and
    // every row under the provider.
    const report = out.report;
    expect((report.alerts ?? []).map((a) => [a.provider, a.identity, a.severity])).toEqual([['microsoft', 'local-127.0.0.2', 'block']]);
    expect(report.identities?.['local-127.0.0.2']?.blocks).toBe(1);
    expect(report.identities?.['local-127.0.0.3']?.blocks).toBe(0);
    for (const id of ['local-127.0.0.2', 'local-127.0.0.3']) expect(report.identities?.[id]?.rcpts).toBe(identityStats.get(id)?.rcpts);
    expect(report.providers?.microsoft?.rows).toBe(list.emails.length);
    expect(report.providers?.microsoft?.blocks).toBe(1);
    expect(countsProblems(report)).toEqual([]);
  }, 120_000);
});

describe("a provider's sessions at once", () => {
  it('are counted across all its MX names and addresses: six Google names with work for many sessions see at most 2 at once', async () => {
    const raw = JSON.parse(await (await import('node:fs/promises')).readFile('samples/world-providers.json', 'utf8')) as { behaviours: Record<string, Record<string, unknown>> };
    const names = ['aspmx.l.google.com', 'alt1.aspmx.l.google.com', 'alt2.aspmx.l.google.com', 'aspmx2.googlemail.com', 'aspmx3.googlemail.com', 'smtp.google.com'];
    const mxHosts: Record<string, unknown> = {};
    const domains: Record<string, unknown> = {};
    const emails: string[] = [];
    names.forEach((name, i) => {
      mxHosts[name] = { ip: `127.0.17.${10 + 2 * i}`, extraIps: [`127.0.17.${11 + 2 * i}`], operator: 'google', uses: 'google-workspace', behaviour: { starttls: false, rateLimits: [] } };
      const domain = `tenant${i}.test`;
      const locals = Array.from({ length: 60 }, (_, j) => `p${j}`);
      domains[domain] = { mx: [{ host: name, preference: 1 }], mailboxes: locals };
      emails.push(...locals.map((l) => `${l}@${domain}`));
    });
    const spec = parseWorldSpec({ behaviours: { 'google-workspace': raw.behaviours['google-workspace'] }, mxHosts, domains });
    const dir = await tempDir('google-cap');
    await writeFile(path.join(dir, 'p.json'), JSON.stringify({ version: 1, providers: [{ slug: 'google', profile: { rcptsPerMinute: 6000, sessionStartsPerMinute: 600 } }] }));
    const { out } = await run(spec, emails.sort(), 'google-cap', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json') });
    expect(emails.filter((e) => got(out, e) !== 'deliverable/accepted')).toEqual([]);
    const google = world!.operatorStats().google!;
    expect(google.sessionsOpened).toBeGreaterThan(2);
    expect(google.maxConcurrentSessions).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe('provider pins', () => {
  it('a provider pinned to one identity is probed only through it; the others stay free for the rest', async () => {
    const list = contosoList(8);
    const spec = await bannedTenant(1_000, null, list.mailboxes);
    const dir = await tempDir('pin-providers');
    await writeFile(path.join(dir, 'p.json'), JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', identities: ['local-127.0.0.3'], profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] }));
    const { out, verdicts } = await run(spec, list.emails, 'pinned', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json'), HYGIENE_LOCAL_ADDRESS: '127.0.0.2,127.0.0.3' });
    expect(list.emails.filter((e) => got(out, e) !== list.want(e))).toEqual([]);
    expect(new Set(list.emails.map((e) => verdicts.get(e)?.identity))).toEqual(new Set(['local-127.0.0.3']));
    expect(new Set(list.emails.map((e) => verdicts.get(e)?.provider))).toEqual(new Set(['microsoft']));
  }, 60_000);
});

describe('throttle signatures', () => {
  it("Google's 421-4.7.28 unusual rate pauses (provider, identity) and is said as a sender block of severity throttle; every verdict still right", async () => {
    const raw = JSON.parse(await (await import('node:fs/promises')).readFile('samples/world-providers.json', 'utf8')) as { behaviours: Record<string, { rateLimits?: Array<{ reply: string }> }> };
    const workspace = raw.behaviours['google-workspace']!;
    const reply = workspace.rateLimits![0]!.reply;
    const emails = Array.from({ length: 8 }, (_, i) => `person${i}@northwind.test`);
    const spec = parseWorldSpec({
      behaviours: { 'google-workspace': { ...workspace, rateLimits: [{ count: 'rcpt', max: 3, windowMs: 1_500, reply }] } },
      mxHosts: { 'aspmx.l.google.com': { ip: '127.0.14.16', operator: 'google', uses: 'google-workspace', behaviour: { starttls: false } } },
      domains: { 'northwind.test': { mx: [{ host: 'aspmx.l.google.com', preference: 1 }], mailboxes: emails.map((e) => e.split('@')[0]!) } },
    });
    const dir = await tempDir('throttle-providers');
    await writeFile(path.join(dir, 'p.json'), JSON.stringify({ version: 1, providers: [{ slug: 'google', profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] }));
    const { out, blocks } = await run(spec, emails, 'throttle-google', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json'), HYGIENE_MX_PAUSE_MS: '1500', HYGIENE_MX_PAUSE_RETRIES: '20' });
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks[0]).toMatchObject({ provider: 'google', identity: 'direct', signature: 'google-unusual-rate', severity: 'throttle' });
    for (const email of emails) expect(got(out, email), email).toBe('deliverable/accepted');
  }, 120_000);

  it('two identities: a throttled identity hands its probes to the other while it is paused; every verdict right', async () => {
    const raw = JSON.parse(await (await import('node:fs/promises')).readFile('samples/world-providers.json', 'utf8')) as { behaviours: Record<string, { rateLimits?: Array<{ reply: string }> }> };
    const workspace = raw.behaviours['google-workspace']!;
    const reply = workspace.rateLimits![0]!.reply;
    const emails = Array.from({ length: 12 }, (_, i) => `person${i}@northwind.test`);
    const spec = parseWorldSpec({
      behaviours: { 'google-workspace': { ...workspace, rateLimits: [{ count: 'rcpt', max: 4, windowMs: 3_000, reply }] } },
      mxHosts: { 'aspmx.l.google.com': { ip: '127.0.14.16', operator: 'google', uses: 'google-workspace', behaviour: { starttls: false } } },
      domains: { 'northwind.test': { mx: [{ host: 'aspmx.l.google.com', preference: 1 }], mailboxes: emails.map((e) => e.split('@')[0]!) } },
    });
    const dir = await tempDir('throttle-pool-providers');
    await writeFile(path.join(dir, 'p.json'), JSON.stringify({ version: 1, providers: [{ slug: 'google', profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] }));
    const { out, blocks, verdicts } = await run(spec, emails, 'throttle-pool', { HYGIENE_PROVIDERS_FILE: path.join(dir, 'p.json'), HYGIENE_MX_PAUSE_MS: '2000', HYGIENE_MX_PAUSE_RETRIES: '20', HYGIENE_LOCAL_ADDRESS: '127.0.0.2,127.0.0.3' });
    for (const email of emails) expect(got(out, email), email).toBe('deliverable/accepted');
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.every((b) => b.severity === 'throttle' && b.provider === 'google')).toBe(true);
    expect(new Set([...verdicts.values()].map((v) => v.identity))).toEqual(new Set(['local-127.0.0.2', 'local-127.0.0.3']));
  }, 120_000);
});
