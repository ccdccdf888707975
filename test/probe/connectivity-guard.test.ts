/**
 * Port-25 blocking detected early: the ConnectivityGuard as a unit, then a real `verify` run against
 * a world whose every MX host drops connection attempts (blackholes on loopback: connects time out,
 * as behind a firewall that blocks port 25). The run must stop with OUTBOUND_SMTP_BLOCKED instead of
 * writing a list of unknowns. Refused connections do not count: a dead MX is not a blocked port.
 * Nothing of the stopped run is cached (issue 11): once the port is open, a re-run probes again.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runVerify } from '../../src/cli/verify-command.ts';
import { isHygieneError, type HygieneError } from '../../src/errors.ts';
import { ConnectivityGuard } from '../../src/probe/connectivity-guard.ts';
import { ListStore } from '../../src/queue/list-store.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { Redis } from 'ioredis';
import { startBlackhole, type Blackhole } from '../peers/blackhole.ts';
import { deletePrefix, REDIS_URL, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

describe('ConnectivityGuard', () => {
  const timeout = { ok: false, timeout: true };
  it('trips once when the first 5 distinct MX hosts all time out, naming them and port 25', () => {
    const trips: HygieneError[] = [];
    const guard = new ConnectivityGuard({ port: 25, onTrip: (e) => trips.push(e) });
    for (let i = 1; i <= 4; i++) guard.record(`mx${i}.test`, `192.0.2.${i}`, timeout);
    guard.record('mx1.test', '192.0.2.1', timeout); // the same MX again does not count twice
    expect(trips).toHaveLength(0);
    guard.record('mx5.test', '192.0.2.5', timeout);
    guard.record('mx6.test', '192.0.2.6', timeout);
    expect(trips).toHaveLength(1);
    expect(trips[0]!.code).toBe('OUTBOUND_SMTP_BLOCKED');
    expect(trips[0]!.message).toContain('all timed out');
    expect(trips[0]!.message).toContain('port 25');
    expect(trips[0]!.message).toContain('mx5.test');
    expect(guard.error).toBe(trips[0]);
  });

  it('is disarmed for good by one successful connect', () => {
    const onTrip = vi.fn();
    const guard = new ConnectivityGuard({ port: 25, threshold: 3, onTrip });
    guard.record('a.test', '192.0.2.1', timeout);
    guard.record('b.test', '192.0.2.2', { ok: true, timeout: false });
    for (const mx of ['c', 'd', 'e', 'f']) guard.record(`${mx}.test`, '192.0.2.9', timeout);
    expect(onTrip).not.toHaveBeenCalled();
    expect(guard.error).toBeNull();
  });

  it('ignores refused connections: a dead MX is not a blocked port', () => {
    const guard = new ConnectivityGuard({ port: 2525, threshold: 2, onTrip: () => undefined });
    for (const mx of ['a', 'b', 'c', 'd']) guard.record(`${mx}.test`, '192.0.2.1', { ok: false, timeout: false });
    expect(guard.error).toBeNull();
  });
});

describe('verify on a host whose outbound SMTP is blocked', () => {
  let world: MailWorld;
  let prefix: string;
  const domains = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

  const blackholes: Blackhole[] = [];

  beforeAll(async () => {
    const mxHosts: Record<string, unknown> = {};
    const worldDomains: Record<string, unknown> = {};
    domains.forEach((d, i) => {
      mxHosts[`mx.${d}.test`] = { ip: `127.0.0.${60 + i}`, behaviour: { refuse: true } };
      worldDomains[`${d}.test`] = { mx: [{ host: `mx.${d}.test`, preference: 10 }], mailboxes: ['someone'] };
    });
    // One listening host that no domain uses, so the world has an SMTP port at all.
    mxHosts['mx.idle.test'] = { ip: '127.0.0.70' };
    world = await startMailWorld(parseWorldSpec({ mxHosts, domains: worldDomains }));
    // The world does not listen on the "refuse" hosts' addresses: put blackholes there.
    for (let i = 0; i < domains.length; i++) blackholes.push(await startBlackhole(`127.0.0.${60 + i}`, world.smtpPort));
    prefix = uniquePrefix('guard');
  });
  afterAll(async () => {
    await Promise.all(blackholes.map((hole) => hole.stop()));
    await world?.stop();
    await deletePrefix(prefix);
  });

  it('stops with OUTBOUND_SMTP_BLOCKED, marks the list failed and writes no output files', async () => {
    const dir = await tempDir('guard');
    const input = path.join(dir, 'blocked.csv');
    const rows = domains.flatMap((d) => [1, 2, 3].map((n) => `person${n}@${d}.test`));
    await writeFile(input, `email\n${rows.join('\n')}\n`);
    const config = worldConfig(world, prefix, { HYGIENE_BACKOFF_MS: '60000', HYGIENE_CONNECT_TIMEOUT_MS: '300', LOG_LEVEL: 'silent' });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let failure: unknown;
    try {
      await runVerify(config, { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false });
    } catch (e) {
      failure = e;
    } finally {
      err.mockRestore();
    }
    expect(isHygieneError(failure, 'OUTBOUND_SMTP_BLOCKED')).toBe(true);
    expect((failure as Error).message).toMatch(/first 5 mail servers tried .* timed out/);

    const redis = new Redis(REDIS_URL);
    try {
      const store = new ListStore(redis, prefix);
      const [id] = await redis.zrange(`${prefix}:lists`, '0', '-1');
      const list = await store.get(id!);
      expect(list?.state).toBe('failed');
      expect(list?.error).toContain('Outbound port');
    } finally {
      redis.disconnect();
    }
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((f) => f.includes('.cleaned.') || f.includes('.report.'))).toEqual([]);

    // Issue 11: the timeouts seen before the stop were not cached (nor anything after it)...
    const check = new Redis(REDIS_URL);
    try {
      const [, cached] = await check.scan('0', 'MATCH', `${prefix}:verdict:*`, 'COUNT', 10_000);
      expect(cached).toEqual([]);
    } finally {
      check.disconnect();
    }

    // ...so once port 25 is open (the same MX hosts now answer), the same list is probed again and
    // gets the right answers, none from the cache.
    await Promise.all(blackholes.splice(0).map((hole) => hole.stop()));
    const mxHosts: Record<string, unknown> = {};
    const worldDomains: Record<string, unknown> = {};
    domains.forEach((d, i) => {
      mxHosts[`mx.${d}.test`] = { ip: `127.0.0.${60 + i}` };
      worldDomains[`${d}.test`] = { mx: [{ host: `mx.${d}.test`, preference: 10 }], mailboxes: ['person1', 'person2'] };
    });
    const open = await startMailWorld(parseWorldSpec({ mxHosts, domains: worldDomains }), { smtpPort: world.smtpPort });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await runVerify(worldConfig(open, prefix, { LOG_LEVEL: 'silent' }), { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false })).toBe(0);
    } finally {
      out.mockRestore();
      await open.stop();
    }
    const report = JSON.parse(await readFile(path.join(dir, 'blocked.report.json'), 'utf8')) as { cache: { hits: number }; counts: { byReason: Record<string, number> } };
    expect(report.cache.hits).toBe(0);
    expect(report.counts.byReason).toEqual({ accepted: 14, mailbox_not_found: 7 });
  });
});
