/**
 * The verification engine end to end: `verify` of a list spread over ~50 loopback domains sharing a
 * few MX hosts (Postfix-like error limits, STARTTLS, with and without PIPELINING, a 220- teaser),
 * against the real runtime, real Redis, the simulated DNS server and SMTP servers. Asserts the right
 * verdict for every address, a handful of sessions per MX, no error-limit penalty or 421, no DATA,
 * and per-MX figures and cache hits in the report.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorldSpec, type MtaBehaviour } from '../../src/world/world-spec.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { Redis } from 'ioredis';
import { rcptRuleKey } from '../../src/store/redis-keys.ts';
import { countsProblems, deletePrefix, REDIS_URL, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');

interface Expected {
  email: string;
  status: string;
  reason: string;
}

/** 48 ordinary domains over 3 MX hosts + catch-all, greylisting, and a domain whose primary refuses. */
function bigWorld() {
  const mxHosts: Record<string, { ip: string; behaviour: Partial<MtaBehaviour> }> = {
    'mx-a.shared.test': { ip: '127.0.3.1', behaviour: { pipelining: true, starttls: true } },
    'mx-b.shared.test': { ip: '127.0.3.2', behaviour: { pipelining: false } },
    'mx-c.shared.test': { ip: '127.0.3.3', behaviour: { pipelining: true, greetingTeaserMs: 200, recipientLimit: 7 } },
    'mx.catchall.test': { ip: '127.0.3.4', behaviour: {} },
    'mx.grey.test': { ip: '127.0.3.5', behaviour: { greylistDelayMs: 250 } },
    'mx1.fallback.test': { ip: '127.0.3.6', behaviour: { refuse: true } },
    'mx2.fallback.test': { ip: '127.0.3.7', behaviour: {} },
    'mx.blocked.test': { ip: '127.0.3.8', behaviour: { policyBlock: 'zen.spamhaus.org' } },
  };
  const hosts = ['mx-a.shared.test', 'mx-b.shared.test', 'mx-c.shared.test'];
  const domains: Record<string, unknown> = {};
  const expected: Expected[] = [];
  for (let d = 0; d < 48; d++) {
    const domain = `company${d}.test`;
    const host = hosts[d % 3]!;
    domains[domain] = { mx: [{ host, preference: 10 }], mailboxes: ['alice', 'bob', 'carol', 'dave'], disabled: ['gone'], full: ['busy'] };
    for (const local of ['alice', 'bob', 'carol', 'dave']) expected.push({ email: `${local}@${domain}`, status: 'deliverable', reason: 'accepted' });
    for (const local of ['nobody', 'typo.alice']) expected.push({ email: `${local}@${domain}`, status: 'undeliverable', reason: 'mailbox_not_found' });
    if (d % 8 === 0) expected.push({ email: `gone@${domain}`, status: 'undeliverable', reason: 'mailbox_disabled' });
    if (d % 8 === 1) expected.push({ email: `busy@${domain}`, status: 'risky', reason: 'mailbox_full' });
  }
  domains['catchall.test'] = { mx: [{ host: 'mx.catchall.test', preference: 10 }], catchAll: true };
  expected.push({ email: 'anyone@catchall.test', status: 'risky', reason: 'catch_all' }, { email: 'someone.else@catchall.test', status: 'risky', reason: 'catch_all' });
  domains['grey.test'] = { mx: [{ host: 'mx.grey.test', preference: 10 }], mailboxes: ['art'] };
  expected.push({ email: 'art@grey.test', status: 'deliverable', reason: 'accepted' }, { email: 'kel@grey.test', status: 'undeliverable', reason: 'mailbox_not_found' });
  domains['fallback.test'] = { mx: [{ host: 'mx1.fallback.test', preference: 10 }, { host: 'mx2.fallback.test', preference: 20 }], mailboxes: ['tony'] };
  expected.push({ email: 'tony@fallback.test', status: 'deliverable', reason: 'accepted' }, { email: 'happy@fallback.test', status: 'undeliverable', reason: 'mailbox_not_found' });
  domains['dead.test'] = { mx: [{ host: 'mx1.fallback.test', preference: 10 }] };
  expected.push({ email: 'x@dead.test', status: 'unknown', reason: 'connection_failed' });
  domains['blocked.test'] = { mx: [{ host: 'mx.blocked.test', preference: 10 }], mailboxes: ['bruce'] };
  expected.push({ email: 'bruce@blocked.test', status: 'unknown', reason: 'policy_block' });
  domains['nullmx.test'] = { nullMx: true };
  expected.push({ email: 'ceo@nullmx.test', status: 'undeliverable', reason: 'null_mx' });
  expected.push({ email: 'ghost@does-not-exist.test', status: 'undeliverable', reason: 'no_such_domain' });
  const spec = parseWorldSpec({ tls: { certFile: path.join(FIXTURES, 'mx.test.cert.pem'), keyFile: path.join(FIXTURES, 'mx.test.key.pem') }, mxHosts, domains });
  return { spec, expected };
}

describe('verification engine on a shared-MX world', () => {
  let world: MailWorld;
  let runtime: HygieneRuntime;
  let prefix: string;
  let dir: string;
  let expected: Expected[];
  const dataCommands: string[] = [];

  beforeAll(async () => {
    const built = bigWorld();
    expected = built.expected;
    world = await startMailWorld(built.spec, {
      onTranscript: (event: { host: string; session: number; direction: string; line: string }) => {
        if (event.direction === 'C' && /^(DATA|BDAT)\b/i.test(event.line)) dataCommands.push(event.line);
      },
    } as Parameters<typeof startMailWorld>[1]);
    prefix = uniquePrefix('engine');
    runtime = await startRuntime(worldConfig(world, prefix));
    dir = await tempDir('engine');
  });
  afterAll(async () => {
    await runtime?.close();
    await world?.stop();
    await deletePrefix(prefix);
  });

  it('gives the right verdict to every address with few sessions, no penalties and no DATA', async () => {
    const rows = ['id,email', ...expected.map((e, i) => `${i + 1},${e.email}`)];
    const file = path.join(dir, 'big.csv');
    await writeFile(file, `${rows.join('\n')}\n`);
    const out = await runList(runtime, file, path.join(dir, 'out'));
    expect(countsProblems(out.report)).toEqual([]);
    expect(out.report.rows).toBe(expected.length);
    const wrong = expected.flatMap((e) => {
      const row = out.byEmail.get(e.email);
      return row && row.hygiene_status === e.status && row.hygiene_reason === e.reason ? [] : [`${e.email}: got ${row?.hygiene_status}/${row?.hygiene_reason} (${row?.hygiene_detail}) want ${e.status}/${e.reason}`];
    });
    expect(wrong).toEqual([]);

    const stats = world.stats();
    for (const [host, s] of Object.entries(stats)) {
      expect(s.penalties, `${host} error-limit penalties`).toBe(0);
      expect(s.hardLimitHits, `${host} 421s`).toBe(0);
      expect(s.syncViolations, `${host} pipelining violations`).toBe(0);
      expect(s.pregreetViolations, `${host} talked before the greeting`).toBe(0);
      expect(s.dataSeen, `${host} DATA`).toBe(0);
      expect(s.maxConcurrentSessions, `${host} concurrent sessions`).toBeLessThanOrEqual(2);
    }
    expect(dataCommands).toEqual([]);
    // ~100 addresses per shared MX: a handful of sessions (error budget 9 → one session per ~9 rejections).
    for (const host of ['mx-a.shared.test', 'mx-b.shared.test', 'mx-c.shared.test']) {
      expect(stats[host]!.rcptCount).toBeGreaterThanOrEqual(96);
      expect(stats[host]!.sessionsOpened, `${host} sessions`).toBeLessThanOrEqual(12);
    }
    expect(stats['mx-a.shared.test']!.tlsHandshakes).toBeGreaterThan(0);
    // mx-c takes 7 recipients per transaction (452 4.5.3 beyond): learned once, from what it took, fleet-wide.
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.get(rcptRuleKey(prefix, '127.0.3.3'))).toBe('7');
    } finally {
      redis.disconnect();
    }

    // Per-MX figures in the report.
    const mxA = out.report.mx.find((m) => m.mx === 'mx-a.shared.test');
    expect(mxA?.sessions).toBeGreaterThan(0);
    expect(mxA?.rcpts).toBeGreaterThanOrEqual(96);
    expect(mxA?.repliesByCode['250']).toBeGreaterThan(0);
    expect(mxA?.repliesByCode['550']).toBeGreaterThan(0);
    expect(out.report.cache.hits).toBe(0);
    // Dead primary: the detail names each attempt.
    expect(out.byEmail.get('x@dead.test')?.hygiene_detail).toMatch(/mx1\.fallback\.test/);
    expect(out.byEmail.get('art@grey.test')?.hygiene_smtp_reply).toMatch(/^250/);
  });

  it('re-running the list within the TTL sends no RCPT and counts cache hits', async () => {
    const before = Object.values(world.stats()).reduce((n, s) => n + s.rcptCount, 0);
    const file = path.join(dir, 'big-again.csv');
    await writeFile(file, `id,email\n${expected.map((e, i) => `${i + 1},${e.email}`).join('\n')}\n`);
    const out = await runList(runtime, file, path.join(dir, 'out-again'));
    const after = Object.values(world.stats()).reduce((n, s) => n + s.rcptCount, 0);
    expect(after).toBe(before);
    // Everything that has a definite or unknown cached answer is a hit (DNS-level verdicts are cached too).
    expect(out.report.cache.hits).toBeGreaterThanOrEqual(expected.length - 5);
    const wrong = expected.filter((e) => out.byEmail.get(e.email)?.hygiene_reason !== e.reason);
    expect(wrong).toEqual([]);
  });
});
