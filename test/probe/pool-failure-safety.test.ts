/**
 * The session pool settles every probe whatever fails (issue 13 items 1 and 6). Each test injects
 * failures at one await of the pool — the session lease, the session-start budget, the pause read,
 * the RCPT rate, opening the session, building MAIL FROM, the catch-all answer — around the real
 * Redis-backed parts and a real simulated MX on loopback, and checks that every probe settles with
 * the server's true answer (a passing Redis fault is never an answer about an address), that a
 * failing part is retried with a backoff instead of in a tight loop, and that a session whose lease
 * could not be renewed ends (the fleet never exceeds its per-MX cap).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probeIdentity } from '../../src/config/config.ts';
import type { MailFrom } from '../../src/config/setting-values.ts';
import { parseEmailAddress } from '../../src/domain/email-address.ts';
import type { AddressToVerify } from '../../src/domain/verifier.ts';
import { CatchAllRegistry } from '../../src/probe/catch-all-registry.ts';
import { createMxLeaseManager, type MxLeaseManager } from '../../src/probe/mx-lease.ts';
import { createMxPauseStore } from '../../src/probe/mx-pause-store.ts';
import { MxSessionPool, type MxSessionPoolDeps, type RcptResult } from '../../src/probe/mx-session-pool.ts';
import { createRcptRateLimiter } from '../../src/probe/rcpt-rate-limiter.ts';
import { createSessionStartBudget } from '../../src/probe/session-start-budget.ts';
import { createSmtpVerifier } from '../../src/probe/smtp-verifier.ts';
import { createVerdictCache } from '../../src/probe/verdict-cache.ts';
import { SmtpSession } from '../../src/smtp/smtp-session.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { deletePrefix, REDIS_URL, silentLogger, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const MX_IP = '127.0.13.1';
let world: MailWorld;
let redis: Redis;
const prefixes: string[] = [];
const pools: MxSessionPool[] = [];

beforeAll(async () => {
  world = await startMailWorld(
    parseWorldSpec({
      // Each reply takes 40 ms: a window outlives a lease lost 50 ms after it was granted.
      mxHosts: { 'mx.safe.test': { ip: MX_IP, behaviour: { replyDelayMs: 40 } } },
      domains: { 'safe.test': { mx: [{ host: 'mx.safe.test', preference: 10 }], mailboxes: ['a', 'b', 'c'] } },
    }),
  );
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await world.stop();
  await redis.quit();
});
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
});

/** Rejects the first `failures` calls (a Redis error), then calls through. */
function failing<A extends unknown[], R>(fn: (...args: A) => Promise<R>, failures: number, calls: { n: number }): (...args: A) => Promise<R> {
  return async (...args: A) => {
    calls.n += 1;
    if (calls.n <= failures) throw new Error('OOM command not allowed when used memory > \'maxmemory\'.');
    return fn(...args);
  };
}

function poolDeps(label: string, change: (deps: MxSessionPoolDeps) => MxSessionPoolDeps = (d) => d): MxSessionPoolDeps {
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  const config = worldConfig(world, prefix);
  const identity = probeIdentity(config);
  const deps: MxSessionPoolDeps = {
    settings: { ...config.smtp, ...identity, timeouts: { ...config.smtp.timeouts } },
    leases: createMxLeaseManager(redis, { keyPrefix: prefix, limit: 2, ttlMs: 3_000 }),
    rateLimiter: createRcptRateLimiter(redis, prefix, 0),
    pauses: createMxPauseStore(redis, { keyPrefix: prefix, baseMs: 200, maxMs: 1_000, logger: silentLogger }),
    sessionStarts: createSessionStartBudget(redis, { keyPrefix: prefix, perMinute: 600, burst: 20, logger: silentLogger }),
    catchAll: new CatchAllRegistry(redis, prefix, 0, true, 200),
    logger: silentLogger,
  };
  return change(deps);
}

function address(text: string): AddressToVerify {
  const parsed = parseEmailAddress(text);
  if (!parsed.ok) throw new Error(text);
  return { address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal } as AddressToVerify;
}

const ADDRESSES = ['a@safe.test', 'b@safe.test', 'x@safe.test', 'c@safe.test', 'y@safe.test'];

/** Submits the addresses; resolves with each one's result, or rejects after `ms` naming those never settled. */
async function probeAll(pool: MxSessionPool, ms = 15_000): Promise<Map<string, RcptResult>> {
  const results = new Map<string, RcptResult>();
  const settled = new Promise<void>((resolve) => {
    pool.submit(
      ADDRESSES.map((text) => ({
        listId: 'list-1',
        address: address(text),
        losses: 0,
        resolve: (result: RcptResult) => {
          results.set(text, result);
          if (results.size === ADDRESSES.length) resolve();
        },
      })),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`never settled: ${ADDRESSES.filter((a) => !results.has(a)).join(', ')}`)), ms);
  });
  try {
    await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return results;
}

/** The server's answers: a, b, c exist; x, y do not. */
function expectTrueAnswers(results: Map<string, RcptResult>): void {
  const summary = Object.fromEntries(
    [...results].map(([text, r]) => [text, r.kind === 'reply' ? (r.replyClass.kind === 'verdict' ? r.replyClass.reason : r.replyClass.kind) : `${r.kind}`]),
  );
  expect(summary).toEqual({ 'a@safe.test': 'accepted', 'b@safe.test': 'accepted', 'c@safe.test': 'accepted', 'x@safe.test': 'mailbox_not_found', 'y@safe.test': 'mailbox_not_found' });
}

function newPool(deps: MxSessionPoolDeps): MxSessionPool {
  const pool = new MxSessionPool('mx.safe.test', [MX_IP], deps);
  pools.push(pool);
  return pool;
}

describe('the session pool settles every probe whatever fails', () => {
  it('answers right with no fault injected (the baseline of this file)', async () => {
    expectTrueAnswers(await probeAll(newPool(poolDeps('safe-base'))));
  });

  it('a lease acquire that rejects (Redis refusing writes) is retried with a backoff, not in a tight loop', async () => {
    const calls = { n: 0 };
    const pool = newPool(
      poolDeps('safe-lease', (d) => {
        const leases: MxLeaseManager = { ...d.leases, acquire: failing(d.leases.acquire, 3, calls) };
        return { ...d, leases };
      }),
    );
    expectTrueAnswers(await probeAll(pool));
    // Three failures, then a lease: a handful of calls, not a million.
    expect(calls.n).toBeLessThan(12);
  });

  it('a lease acquire that keeps failing does not spin: few attempts a second, the event loop stays free', async () => {
    const calls = { n: 0 };
    const pool = newPool(poolDeps('safe-lease-down', (d) => ({ ...d, leases: { ...d.leases, acquire: failing(d.leases.acquire, 1e9, calls) } })));
    const results = new Map<string, RcptResult>();
    pool.submit(ADDRESSES.map((text) => ({ listId: 'l', address: address(text), losses: 0, resolve: (r: RcptResult) => void results.set(text, r) })));
    const ticks = { n: 0 };
    const ticker = setInterval(() => (ticks.n += 1), 10);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    clearInterval(ticker);
    expect(calls.n).toBeLessThan(20);
    expect(ticks.n).toBeGreaterThan(100);
    // Shutting down settles what is still queued.
    await pool.close();
    expect(results.size).toBe(ADDRESSES.length);
  });

  it('a session-start budget that rejects is not a verdict (no host failure, no next MX)', async () => {
    const calls = { n: 0 };
    const pool = newPool(poolDeps('safe-budget', (d) => ({ ...d, sessionStarts: { take: failing(d.sessionStarts.take, 2, calls) } })));
    expectTrueAnswers(await probeAll(pool));
  });

  it('a pause read that rejects is retried, not turned into verdicts', async () => {
    const calls = { n: 0 };
    const pool = newPool(poolDeps('safe-pause', (d) => ({ ...d, pauses: { ...d.pauses, current: failing(d.pauses.current, 2, calls) } })));
    expectTrueAnswers(await probeAll(pool));
  });

  it('an RCPT rate limiter that rejects after a window was taken loses no probe', async () => {
    const calls = { n: 0 };
    const pool = newPool(poolDeps('safe-rate', (d) => ({ ...d, rateLimiter: { take: failing(d.rateLimiter.take, 2, calls) } })));
    expectTrueAnswers(await probeAll(pool));
  });

  it('an openSession that throws a plain error (not one of ours) settles every probe', async () => {
    const calls = { n: 0 };
    const pool = newPool(
      poolDeps('safe-open', (d) => ({
        ...d,
        openSession: async () => {
          calls.n += 1;
          throw new TypeError('socket factory exploded');
        },
      })),
    );
    const results = await probeAll(pool);
    expect(results.size).toBe(ADDRESSES.length);
    expect(calls.n).toBeLessThan(5);
  });

  it('an exchange that throws something other than an SMTP error settles every probe (asked again on a new session)', async () => {
    const thrown = { n: 0 };
    const pool = newPool(
      poolDeps('safe-exchange', (d) => ({
        ...d,
        openSession: async (options) => {
          const session = await SmtpSession.open(options);
          const exchange = session.exchange.bind(session);
          session.exchange = async (commands) => {
            thrown.n += 1;
            if (thrown.n === 1) throw new TypeError('a bug below the pool');
            return exchange(commands);
          };
          return session;
        },
      })),
    );
    expectTrueAnswers(await probeAll(pool));
    expect(thrown.n).toBeGreaterThan(1);
  });

  it('verify() returns with the true answers when Redis refuses a few writes on the way', async () => {
    const starts = { n: 0 };
    const rates = { n: 0 };
    const leases = { n: 0 };
    const prefix = uniquePrefix('safe-verify');
    prefixes.push(prefix);
    const deps = poolDeps('safe-verify-pool', (d) => ({
      ...d,
      leases: { ...d.leases, acquire: failing(d.leases.acquire, 2, leases) },
      sessionStarts: { take: failing(d.sessionStarts.take, 1, starts) },
      rateLimiter: { take: failing(d.rateLimiter.take, 1, rates) },
    }));
    const { catchAll, ...pool } = deps;
    const verifier = createSmtpVerifier({
      resolver: { resolve: async () => ({ kind: 'hosts', implicit: false, hosts: [{ exchange: 'mx.safe.test', preference: 10, addresses: [MX_IP] }] }) },
      cache: createVerdictCache(redis, prefix, { positiveTtlSeconds: 0, negativeTtlSeconds: 0 }),
      catchAll,
      pool,
      logger: silentLogger,
      greylistRetryMs: 1_000,
    });
    try {
      const outcomes = await verifier.verify({ listId: 'l', addresses: ADDRESSES.map(address), attempt: 1, maxAttempts: 3 });
      const summary = Object.fromEntries([...outcomes].map(([a, o]) => [a, o.kind === 'verdict' ? `${o.verdict.status}/${o.verdict.reason}` : o.kind]));
      expect(summary).toEqual({
        'a@safe.test': 'deliverable/accepted',
        'b@safe.test': 'deliverable/accepted',
        'c@safe.test': 'deliverable/accepted',
        'x@safe.test': 'undeliverable/mailbox_not_found',
        'y@safe.test': 'undeliverable/mailbox_not_found',
      });
    } finally {
      await verifier.close?.();
    }
  });

  it('a MAIL FROM that cannot be built after a window was taken settles every probe of the window', async () => {
    const pool = newPool(poolDeps('safe-mailfrom', (d) => ({ ...d, settings: { ...d.settings, mailFrom: 'verify@localhost' as MailFrom } })));
    const results = await probeAll(pool);
    expect(results.size).toBe(ADDRESSES.length);
    for (const result of results.values()) expect(result.kind).toBe('gave-up');
  });

  it('a catch-all answer that fails settles the waiting probes', async () => {
    const pool = newPool(
      poolDeps('safe-catchall', (d) => {
        const registry = d.catchAll;
        const broken = Object.create(registry) as CatchAllRegistry;
        broken.wait = () => Promise.reject(new Error('catch-all state lost'));
        return { ...d, catchAll: broken };
      }),
    );
    const results = await probeAll(pool);
    expect(results.size).toBe(ADDRESSES.length);
  });

  it('a lease that could not be renewed ends its session before the next window', async () => {
    const acquired = { n: 0 };
    const sessionsBefore = world.stats()['mx.safe.test']?.sessionsOpened ?? 0;
    const pool = newPool(
      poolDeps('safe-renew', (d) => ({
        ...d,
        settings: { ...d.settings, pipelineWindow: 1, maxSessionsPerMx: 1 },
        leases: {
          ...d.leases,
          // Each lease is lost 50 ms after it was granted (its renewal failed): its session must end.
          acquire: async (key, signal) => {
            const lease = await d.leases.acquire(key, signal);
            if (!lease) return lease;
            acquired.n += 1;
            const lost = new AbortController();
            setTimeout(() => lost.abort(), 50);
            return { token: lease.token, lost: lost.signal, release: () => lease.release() };
          },
        },
      })),
    );
    expectTrueAnswers(await probeAll(pool));
    // Five addresses and a catch-all probe, one RCPT per window (40 ms each): one session could serve
    // them all, but each lease is lost after 50 ms, so its session ends and a new lease and session follow.
    expect(acquired.n).toBeGreaterThan(1);
    expect((world.stats()['mx.safe.test']?.sessionsOpened ?? 0) - sessionsBefore).toBeGreaterThan(1);
  });
});

describe('one keying rule for every per-server limit (limit-key.ts)', () => {
  it('two MX names for one address count lease, session starts, pause and RCPT rate under one key', async () => {
    const seen: Record<string, Set<string>> = { lease: new Set(), starts: new Set(), pause: new Set(), rate: new Set() };
    const spied = (d: MxSessionPoolDeps): MxSessionPoolDeps => ({
      ...d,
      leases: { ...d.leases, acquire: (key, signal) => (seen.lease!.add(key), d.leases.acquire(key, signal)) },
      sessionStarts: { take: (key, signal) => (seen.starts!.add(key), d.sessionStarts.take(key, signal)) },
      pauses: { ...d.pauses, current: (key) => (seen.pause!.add(key), d.pauses.current(key)) },
      rateLimiter: { take: (key, count) => (seen.rate!.add(key), d.rateLimiter.take(key, count)) },
    });
    const deps = spied(poolDeps('limit-key'));
    // The same machine under two names (shared hosting): the server counts both as one client.
    const first = new MxSessionPool('mx.safe.test', [MX_IP], deps);
    const second = new MxSessionPool('mx2.safe.test', [MX_IP], deps);
    pools.push(first, second);
    expectTrueAnswers(await probeAll(first));
    expectTrueAnswers(await probeAll(second));
    // Issue 13: the RCPT rate was keyed by MX name (two names, twice the rate) while the lease was keyed by address.
    expect(Object.fromEntries(Object.entries(seen).map(([limit, keys]) => [limit, [...keys]]))).toEqual({ lease: [`${MX_IP}@direct`], starts: [`${MX_IP}@direct`], pause: [`${MX_IP}@direct`], rate: [`${MX_IP}@direct`] });
    expect(first.limitKey).toBe(second.limitKey);
  });
});
