/**
 * Our own faults stop the run early, with a clear message, and nothing of the run is cached (issue 11):
 *
 * - a resolver answering NXDOMAIN for everything, and one answering REFUSED for everything (real DNS
 *   servers on loopback): DNS_FAILED naming HYGIENE_DNS_SERVERS, the list failed, no verdict and no
 *   MX answer cached; a re-run with a working resolver probes again and gets the right answers;
 * - a resolver that only lacks public names (the canaries fail) but resolves the list's domains:
 *   never stopped;
 * - servers that all refuse this host (554 greetings): OUTBOUND_SMTP_REFUSED; one server that blocks
 *   us: unknown/policy_block, not cached, not rejected by --reject unknown;
 * - the guard's pieces as units (DNS sanity, refusals, cache decisions).
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runVerify } from '../../src/cli/verify-command.ts';
import { createDnsMxResolver } from '../../src/dns/mx-resolver.ts';
import { isHygieneError, type HygieneError } from '../../src/errors.ts';
import { DnsSanityGuard } from '../../src/probe/dns-sanity-guard.ts';
import { FaultGuard } from '../../src/probe/fault-guard.ts';
import { RefusalGuard } from '../../src/probe/refusal-guard.ts';
import { ListStore } from '../../src/queue/list-store.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { deletePrefix, readOutput, REDIS_URL, silentLogger, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';
import { quietly } from '../helpers/quietly.ts';
import { keysOf } from '../helpers/keys-of.ts';

const DOMAINS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'].map((d) => `${d}.test`);
const CANARIES = ['gmail.com', 'outlook.com', 'yahoo.com'];

function goodWorldSpec(): unknown {
  const mxHosts: Record<string, unknown> = {};
  const domains: Record<string, unknown> = {};
  DOMAINS.forEach((d, i) => {
    mxHosts[`mx.${d}`] = { ip: `127.0.7.${10 + i}` };
    domains[d] = { mx: [{ host: `mx.${d}`, preference: 10 }], mailboxes: ['alice'] };
  });
  return { mxHosts, domains };
}

describe('a resolver that fails or lies for everything', () => {
  let world: MailWorld;
  let nxdomain: SimDnsServer;
  let refused: SimDnsServer;
  let redis: Redis;
  const prefixes: string[] = [];

  beforeAll(async () => {
    world = await startMailWorld(parseWorldSpec(goodWorldSpec()));
    // A world with no names answers NXDOMAIN for every question.
    nxdomain = await startSimDnsServer(parseWorldSpec({}));
    // REFUSED for every name asked: the list's domains, their MX hosts and the canaries.
    const refusedDomains: Record<string, unknown> = {};
    for (const name of [...DOMAINS, ...DOMAINS.map((d) => `mx.${d}`), ...CANARIES]) refusedDomains[name] = { dns: { failure: 'refused' } };
    refused = await startSimDnsServer(parseWorldSpec({ domains: refusedDomains }));
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await world?.stop();
    await nxdomain?.stop();
    await refused?.stop();
    for (const p of prefixes) await deletePrefix(p);
    redis?.disconnect();
  });

  async function verifyWith(dnsServer: string, prefix: string, dir: string): Promise<{ value?: number; error?: unknown }> {
    const input = path.join(dir, 'contacts.csv');
    await writeFile(input, `email\n${DOMAINS.flatMap((d) => [`alice@${d}`, `nobody@${d}`]).join('\n')}\n`);
    const config = worldConfig(world, prefix, { HYGIENE_DNS_SERVERS: dnsServer, HYGIENE_DNS_CANARIES: CANARIES.join(','), HYGIENE_DNS_TIMEOUT_MS: '300', HYGIENE_DNS_TRIES: '1', LOG_LEVEL: 'silent' });
    return quietly(() => runVerify(config, { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false }));
  }

  it.each([
    ['NXDOMAIN', () => nxdomain.address],
    ['REFUSED', () => refused.address],
  ])('answering %s: stops early with DNS_FAILED naming HYGIENE_DNS_SERVERS, caches nothing; fixed, a re-run gets the right answers', async (_what, server) => {
    const prefix = uniquePrefix('dnsguard');
    prefixes.push(prefix);
    const dir = await tempDir('dnsguard');
    const lying = await verifyWith(server(), prefix, dir);
    expect(isHygieneError(lying.error, 'DNS_FAILED'), String(lying.error)).toBe(true);
    const message = (lying.error as HygieneError).message;
    expect(message).toContain(`HYGIENE_DNS_SERVERS=${server()}`);
    expect(message).toMatch(/first 5 domains looked up .* all failed to resolve, and so did well-known names \(gmail\.com, outlook\.com, yahoo\.com\)/);
    expect(message).not.toContain('\n');
    // The list failed with the reason; no output file; nothing cached (no verdict, no MX answer).
    const [listId] = await redis.zrange(`${prefix}:lists`, '0', '-1');
    expect((await new ListStore(redis, prefix).get(listId!))?.state).toBe('failed');
    expect((await readdir(dir)).filter((f) => f.includes('.cleaned.'))).toEqual([]);
    expect(await keysOf(redis, `${prefix}:verdict:*`)).toEqual([]);
    expect(await keysOf(redis, `${prefix}:mx:*`)).toEqual([]);

    // The configuration fixed (the world's own resolver), the same list is probed again: right answers.
    expect((await verifyWith(world.dnsServers[0]!, prefix, dir)).value).toBe(0);
    const report = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(dir, 'contacts.report.json'), 'utf8')) as { cache: { hits: number }; counts: { byReason: Record<string, number> } };
    expect(report.cache.hits).toBe(0);
    expect(report.counts.byReason).toEqual({ accepted: 7, mailbox_not_found: 7 });
  });

  it('never stops a run whose own domains resolve, even when the canaries are unknown to a private resolver', async () => {
    const prefix = uniquePrefix('dnsprivate');
    prefixes.push(prefix);
    const dir = await tempDir('dnsprivate');
    const result = await verifyWith(world.dnsServers[0]!, prefix, dir);
    expect(result.error).toBeUndefined();
    const rows = await readOutput(path.join(dir, 'contacts.cleaned.csv'));
    expect(rows.filter((r) => r.hygiene_status === 'deliverable')).toHaveLength(7);
  });
});

describe('servers that refuse this host itself', () => {
  let world: MailWorld;
  const prefixes: string[] = [];
  beforeAll(async () => {
    const mxHosts: Record<string, unknown> = {};
    const domains: Record<string, unknown> = {};
    ['one', 'two', 'three', 'four'].forEach((d, i) => {
      mxHosts[`mx.${d}.test`] = { ip: `127.0.7.${30 + i}`, behaviour: { greeting: `554 5.7.1 mx.${d}.test Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org` } };
      domains[`${d}.test`] = { mx: [{ host: `mx.${d}.test`, preference: 10 }], mailboxes: ['alice'] };
    });
    mxHosts['mx.rbl.test'] = { ip: '127.0.7.40', behaviour: { policyBlock: 'zen.spamhaus.org' } };
    mxHosts['mx.fine.test'] = { ip: '127.0.7.41' };
    domains['rbl.test'] = { mx: [{ host: 'mx.rbl.test', preference: 10 }], mailboxes: ['alice', 'bob'] };
    domains['fine.test'] = { mx: [{ host: 'mx.fine.test', preference: 10 }], mailboxes: ['alice'] };
    world = await startMailWorld(parseWorldSpec({ mxHosts, domains }));
  });
  afterAll(async () => {
    await world?.stop();
    for (const p of prefixes) await deletePrefix(p);
  });

  it('the first 3 servers that answer all refuse us: OUTBOUND_SMTP_REFUSED, nothing cached', async () => {
    const prefix = uniquePrefix('refused');
    prefixes.push(prefix);
    const dir = await tempDir('refused');
    const input = path.join(dir, 'contacts.csv');
    await writeFile(input, `email\n${['one', 'two', 'three', 'four'].flatMap((d) => [`alice@${d}.test`, `bob@${d}.test`]).join('\n')}\n`);
    const result = await quietly(() => runVerify(worldConfig(world, prefix, { LOG_LEVEL: 'silent' }), { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false }));
    expect(isHygieneError(result.error, 'OUTBOUND_SMTP_REFUSED'), String(result.error)).toBe(true);
    expect((result.error as Error).message).toMatch(/first 3 mail servers that answered all refused this host itself.*554 5\.7\.1.*HYGIENE_HELO_NAME=verifier\.demo\.test/);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await keysOf(redis, `${prefix}:verdict:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('one server that blocks us: unknown/policy_block, not cached, kept in cleaned by --reject unknown', async () => {
    const prefix = uniquePrefix('oneblock');
    prefixes.push(prefix);
    const dir = await tempDir('oneblock');
    const input = path.join(dir, 'contacts.csv');
    await writeFile(input, 'email\nalice@rbl.test\nbob@rbl.test\nalice@fine.test\n');
    const config = worldConfig(world, prefix, { LOG_LEVEL: 'silent', HYGIENE_REJECT: 'undeliverable,unknown' });
    expect((await quietly(() => runVerify(config, { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false }))).value).toBe(0);
    const cleaned = await readOutput(path.join(dir, 'contacts.cleaned.csv'));
    expect(cleaned.map((r) => `${r.email} ${r.hygiene_status}/${r.hygiene_reason}`).sort()).toEqual([
      'alice@fine.test deliverable/accepted',
      'alice@rbl.test unknown/policy_block',
      'bob@rbl.test unknown/policy_block',
    ]);
    const redis = new Redis(REDIS_URL);
    try {
      expect((await keysOf(redis, `${prefix}:verdict:*`)).sort()).toEqual([`${prefix}:verdict:alice@fine.test`]);
    } finally {
      redis.disconnect();
    }
  });
});

describe('the guard as units', () => {
  let dns: SimDnsServer;
  beforeAll(async () => {
    dns = await startSimDnsServer(parseWorldSpec({ mxHosts: { 'mx.real.test': { ip: '127.0.7.50' } }, domains: { 'real.test': { mx: [{ host: 'mx.real.test', preference: 10 }] } } }));
  });
  afterAll(async () => {
    await dns?.stop();
  });
  afterEach(() => vi.useRealTimers());

  const resolver = () => createDnsMxResolver({ servers: [dns.address], timeoutMs: 300, tries: 1 });
  const waitFor = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  };

  it('DNS sanity: one real answer (a list domain or a canary) proves the resolver; only list failures plus failing canaries trip', async () => {
    const trips: HygieneError[] = [];
    const r = resolver();
    const tripping = new DnsSanityGuard({ canaries: ['gone.test'], resolver: r, servers: [dns.address], logger: silentLogger, onTrip: (e) => trips.push(e), threshold: 3 });
    for (const d of ['a.test', 'b.test', 'a.test']) tripping.record(d, await r.resolve(d));
    expect(trips).toHaveLength(0);
    tripping.record('c.test', await r.resolve('c.test'));
    await waitFor(() => trips.length > 0);
    expect(trips[0]?.code).toBe('DNS_FAILED');
    expect(tripping.healthy).toBe(false);

    const healthyByCanary = new DnsSanityGuard({ canaries: ['real.test'], resolver: r, servers: [], logger: silentLogger, onTrip: (e) => trips.push(e), threshold: 2 });
    for (const d of ['a.test', 'b.test']) healthyByCanary.record(d, await r.resolve(d));
    await waitFor(() => healthyByCanary.healthy);
    expect(healthyByCanary.healthy).toBe(true);

    const healthyByList = new DnsSanityGuard({ canaries: ['gone.test'], resolver: r, servers: [], logger: silentLogger, onTrip: (e) => trips.push(e), threshold: 2 });
    healthyByList.record('a.test', await r.resolve('a.test'));
    healthyByList.record('real.test', await r.resolve('real.test'));
    healthyByList.record('b.test', await r.resolve('b.test'));
    expect(healthyByList.healthy).toBe(true);
    expect(trips).toHaveLength(1);
  });

  it('refusals: the first answer of each MX counts; one that answers about a mailbox disarms for good', () => {
    const trips: HygieneError[] = [];
    const reply = { code: 554, enhanced: '5.7.1', lines: ['blocked'], raw: '554 5.7.1 blocked' };
    const guard = new RefusalGuard({ heloName: 'h.example.com', mailFrom: 'v@example.com', onTrip: (e) => trips.push(e) });
    guard.record('a', { refusesUs: true, reply });
    guard.record('a', { refusesUs: true, reply });
    guard.record('b', { refusesUs: true, reply });
    expect(trips).toHaveLength(0);
    guard.record('c', { refusesUs: true, reply });
    expect(trips[0]?.code).toBe('OUTBOUND_SMTP_REFUSED');
    const disarmed = new RefusalGuard({ heloName: undefined, mailFrom: undefined, onTrip: (e) => trips.push(e) });
    disarmed.record('a', { refusesUs: false });
    for (const mx of ['b', 'c', 'd', 'e']) disarmed.record(mx, { refusesUs: true, reply });
    expect(trips).toHaveLength(1);
  });

  it('cache decisions: facts written, unknowns dropped, "no such domain" held until DNS is proven, nothing once tripped; re-armed later', async () => {
    let now = 0;
    const guard = new FaultGuard({ smtpPort: 25, heloName: 'h.example.com', mailFrom: 'v@example.com', dns: { servers: [], canaries: [], resolver: resolver() }, logger: silentLogger, thresholds: { port25: 1 }, rearmMs: 1_000, now: () => now });
    const at = new Date().toISOString();
    const fact = { status: 'undeliverable' as const, reason: 'mailbox_not_found' as const, detail: '', checkedAt: at };
    const nx = { status: 'undeliverable' as const, reason: 'no_such_domain' as const, detail: '', checkedAt: at };
    const timeout = { status: 'unknown' as const, reason: 'timeout' as const, detail: '', checkedAt: at };
    expect([guard.cacheDecision(fact), guard.cacheDecision(nx), guard.cacheDecision(timeout)]).toEqual(['write', 'hold', 'drop']);
    guard.recordResolution('real.test', await resolver().resolve('real.test'));
    expect(guard.cacheDecision(nx)).toBe('write');
    guard.poolEvents.onConnectResult?.('mx.a.test', '192.0.2.1', { ok: false, timeout: true });
    expect(guard.error?.code).toBe('OUTBOUND_SMTP_BLOCKED');
    expect(guard.cacheDecision(fact)).toBe('drop');
    now += 1_000;
    expect(guard.error).toBeNull();
  });
});
