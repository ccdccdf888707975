/**
 * A pool of two outbound identities through real SOCKS5 servers (Debian's microsocks), the
 * simulated Microsoft tenant banning one of them (issue 15, "Done when": a pool of two identities
 * where one gets blocked and the other finishes the list).
 *
 * Each microsocks binds its outgoing connections to its own loopback address (-b), so the world sees
 * two clients: 127.0.0.92 behind identity "one", 127.0.0.93 behind identity "two". The tenant bans
 * 127.0.0.92 after 3 RCPTs with Microsoft's 550 5.7.606 "banned sending IP". The real runtime, list
 * runner and Redis then must: trip the breaker once for identity one (severity block), hand its work
 * to identity two, get every verdict right (no row unknown/policy_block, none rejected wrongly),
 * send nothing more through the banned proxy beyond what was in flight, and say the same in
 * report.json (one alert, per-identity figures equal to the pools'). The same story over local
 * addresses is provider-engine.test.ts ('two identities, the world bans one'). Real DNS is forbidden.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/domain/verdict.ts';
import type { SenderBlockEvent } from '../../src/probe/mx-session-pool.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { forbidRealDns, type RealDnsGuard } from '../helpers/no-real-dns.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';
import { microsocksAvailability, startMicrosocks, type SocksPeer } from '../peers/socks-proxy.ts';
import { bannedTenant, contosoList } from '../world/banned-tenant.ts';

const microsocks = microsocksAvailability();
/** The addresses the MX sees behind each proxy (microsocks -b). */
const BANNED_IP = '127.0.0.92';
const SPARED_IP = '127.0.0.93';

describe.skipIf(!microsocks.ok)('a pool of two SOCKS5 identities, the world bans one (microsocks)', () => {
  let guard: RealDnsGuard;
  let world: MailWorld | null = null;
  const peers: SocksPeer[] = [];
  const prefixes: string[] = [];

  beforeAll(() => {
    guard = forbidRealDns();
  });
  afterAll(async () => {
    // Every microsocks this file started is stopped (SIGTERM, then SIGKILL), whatever the test did.
    await Promise.all(peers.map((p) => p.stop()));
    await world?.stop();
    guard.restore();
    for (const p of prefixes) await deletePrefix(p);
    expect(guard.attempts).toEqual([]);
  });

  it('identity two finishes the list with every verdict right; one block alert about identity one; nothing sent through it while banned beyond its first window', async () => {
    const list = contosoList(24);
    const spec = await bannedTenant(3, [BANNED_IP], list.mailboxes);
    // Which client address each (host, session) came from, and the RCPTs the world saw per client:
    // proof that the traffic went through the proxies (a direct connection comes from 127.0.0.1).
    const sessionClient = new Map<string, string>();
    const rcptsByClient = new Map<string, number>();
    world = await startMailWorld(spec, {
      onTranscript: (e) => {
        const key = `${e.host}#${e.session}`;
        const m = /connect from \[(\d+\.\d+\.\d+\.\d+)\]/.exec(e.line);
        if (e.direction === '*' && m) sessionClient.set(key, m[1]!);
        if (e.direction === 'C' && /^RCPT TO:/i.test(e.line)) {
          const client = sessionClient.get(key) ?? '(unknown)';
          rcptsByClient.set(client, (rcptsByClient.get(client) ?? 0) + 1);
        }
      },
    });
    const one = await startMicrosocks({ bindAddress: BANNED_IP });
    peers.push(one);
    const two = await startMicrosocks({ bindAddress: SPARED_IP });
    peers.push(two);

    const prefix = uniquePrefix('socks-ban');
    prefixes.push(prefix);
    const dir = await tempDir('socks-ban');
    // Faster than Microsoft's built-in profile so the test runs in seconds; the world's ban still holds.
    const providersFile = path.join(dir, 'providers.json');
    await writeFile(providersFile, JSON.stringify({ version: 1, providers: [{ slug: 'microsoft', profile: { rcptsPerMinute: 600, sessionStartsPerMinute: 600 } }] }));
    const verdicts = new Map<string, Verdict>();
    const blocks: SenderBlockEvent[] = [];
    const runtime = await startRuntime(
      worldConfig(world, prefix, {
        HYGIENE_PROVIDERS_FILE: providersFile,
        HYGIENE_MX_PAUSE_MAX_MS: '2000',
        HYGIENE_SMTP_PROXY: `${one.url}#id=one,${two.url}#id=two`,
      }),
      {
        onOutcomes: (_batch, outcomes) => {
          for (const [address, outcome] of outcomes) verdicts.set(address.toLowerCase(), outcome.verdict);
        },
        poolEvents: { onSenderBlock: (block) => blocks.push(block) },
      },
    );
    let out: Awaited<ReturnType<typeof runList>>;
    let identityStats: ReturnType<typeof runtime.identityStats>;
    const started = Date.now();
    try {
      const file = path.join(dir, 'contacts.csv');
      await writeFile(file, `Email\n${list.emails.join('\n')}\n`);
      out = await runList(runtime, file, path.join(dir, 'out'), { emailHeader: 'Email' });
      identityStats = runtime.identityStats();
    } finally {
      await runtime.close();
    }
    const elapsedMs = Date.now() - started;

    // Every verdict right: none unknown/policy_block, none rejected that exists.
    const got = (email: string): string => `${out.byEmail.get(email)?.hygiene_status}/${out.byEmail.get(email)?.hygiene_reason}`;
    expect(list.emails.filter((e) => got(e) !== list.want(e)).map((e) => `${e}: ${got(e)}`)).toEqual([]);
    expect(out.cleaned.filter((r) => r.hygiene_reason === 'policy_block')).toEqual([]);
    expect(out.rejected.map((r) => r.Email).sort()).toEqual(list.emails.filter((e) => list.want(e).startsWith('undeliverable/')).sort());

    // Exactly one trip of the breaker, a block, about identity one and Microsoft's signature.
    expect(blocks.map((b) => [b.provider, b.identity, b.severity])).toEqual([['microsoft', 'one', 'block']]);
    expect(blocks[0]).toMatchObject({ signature: 'microsoft-banned-sending-ip', level: 1 });
    expect(blocks[0]!.reply).toContain(`[${BANNED_IP}]`);

    // Identity two carried the rest: at most the 3 RCPTs identity one had before its ban were answered through it.
    const byIdentity = new Map<string, number>();
    for (const e of list.emails) byIdentity.set(verdicts.get(e)?.identity ?? '(none)', (byIdentity.get(verdicts.get(e)?.identity ?? '(none)') ?? 0) + 1);
    expect([...byIdentity.keys()].filter((id) => id !== 'one' && id !== 'two')).toEqual([]);
    expect(byIdentity.get('two') ?? 0).toBeGreaterThanOrEqual(list.emails.length - 3);

    // The pools' and the world's counts agree, and only the two proxies' addresses ever connected.
    expect([...rcptsByClient.keys()].sort()).toEqual([BANNED_IP, SPARED_IP]);
    expect(rcptsByClient.get(BANNED_IP)).toBe(identityStats.get('one')?.rcpts);
    expect(rcptsByClient.get(SPARED_IP)).toBe(identityStats.get('two')?.rcpts);
    expect(identityStats.get('one')?.sessions).toBeGreaterThan(0);
    // The banned identity: its 3 allowed RCPTs, the one that got the ban, and what was in flight.
    expect(identityStats.get('one')?.rcpts).toBeLessThanOrEqual(3 + 1 + 2);
    expect(rcptsByClient.get(BANNED_IP)).toBeLessThanOrEqual(3 + 1 + 2);
    expect((identityStats.get('one')?.rcpts ?? 0) + (identityStats.get('two')?.rcpts ?? 0)).toBeGreaterThanOrEqual(list.emails.length);
    const ops = world.operatorStats().microsoft!;
    expect(ops.rcptsWhileBlocked).toBeLessThanOrEqual(2);
    expect(ops.maxConcurrentSessions).toBeLessThanOrEqual(4);
    expect(ops.dataSeen).toBe(0);

    // report.json tells the same story as the engine.
    const report = out.report;
    expect((report.alerts ?? []).map((a) => [a.provider, a.identity, a.severity])).toEqual([['microsoft', 'one', 'block']]);
    expect(report.identities?.one?.blocks).toBe(1);
    expect(report.identities?.two?.blocks).toBe(0);
    for (const id of ['one', 'two']) expect(report.identities?.[id]?.rcpts, id).toBe(identityStats.get(id)?.rcpts);
    expect(report.providers?.microsoft?.rows).toBe(list.emails.length);
    expect(report.providers?.microsoft?.blocks).toBe(1);
    expect(countsProblems(report)).toEqual([]);
    // Seconds, not the ban's cooldown: identity two did not wait for identity one.
    expect(elapsedMs).toBeLessThan(60_000);
  }, 120_000);
});
