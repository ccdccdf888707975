/**
 * What /v1/verify and API uploads can reach (issue 12 item 7): the simulated world's MX hosts all
 * live on 127.0.0.1, exactly what an attacker would point a domain at to scan internal mail
 * servers. Without HYGIENE_API_ALLOW_PRIVATE_MX the API refuses them (unknown/mx_not_allowed, no
 * SMTP session opened, nothing cached); the same address asked outside the API (the CLI path: a
 * batch without the API's flag) is probed as DNS says.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSpecialPurposeAddress } from '../../src/domain/special-address.ts';
import { verdictCacheKey } from '../../src/store/redis-keys.ts';
import { REDIS_URL, pollUntilFinished, startApiHarness, type ApiHarness } from './api-harness.ts';

describe('special-purpose address classification (shared by webhooks and the API MX policy)', () => {
  it('refuses every non-public range, including embedded IPv4 forms', () => {
    for (const a of [
      '127.0.0.1', '10.1.2.3', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '100.127.255.254', '0.1.2.3',
      '224.0.0.251', '239.255.255.250', '240.0.0.1', '255.255.255.255', '192.0.2.10', '198.18.0.1',
      '::1', '::', 'fd12:3456::1', 'fc00::1', 'fe80::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a00:1', '::127.0.0.1',
      '2002:7f00:1::1', '2002:c0a8:101::', '2001:db8::25', '64:ff9b::a00:1', 'not-an-ip', '',
    ]) {
      expect(isSpecialPurposeAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '93.184.216.34', '100.128.0.1', '172.32.0.1', '2606:4700::1111', '2a00:1450:4001::1b', '::ffff:8.8.8.8', '::ffff:808:808', '2002:808:808::1']) {
      expect(isSpecialPurposeAddress(a), a).toBe(false);
    }
  });
});

describe('hygiene api: MX hosts on private addresses', () => {
  let h: ApiHarness;
  let redis: Redis;
  beforeAll(async () => {
    // The harness allows private MX (the demo world); this API runs with the default: refuse.
    h = await startApiHarness({ HYGIENE_API_ALLOW_PRIVATE_MX: 'false' });
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.stop();
  });

  const sessions = (): number => Object.values(h.world.stats()).reduce((sum, s) => sum + s.sessionsOpened, 0);

  it('POST /v1/verify: unknown/mx_not_allowed, no SMTP session, nothing cached; the CLI path still probes and caches', async () => {
    const before = sessions();
    const res = await fetch(`${h.url}/v1/verify`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'jane@acme.test' }) });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { status: string; reason: string; detail: string };
    expect(answer).toMatchObject({ status: 'unknown', reason: 'mx_not_allowed' });
    expect(answer.detail).toMatch(/HYGIENE_API_ALLOW_PRIVATE_MX/);
    expect(sessions()).toBe(before);
    // Our policy, not a fact about the address: never in the shared verdict cache.
    await new Promise((r) => setTimeout(r, 300)); // the cache writer flushes every 100 ms
    expect(await redis.get(verdictCacheKey(h.prefix, 'jane@acme.test'))).toBeNull();

    // The same engine, asked the way `hygiene verify` asks (no API flag): probed and cached.
    const outcomes = await h.service.runtime.verifier.verify({
      listId: 'cli-like',
      addresses: [{ address: 'jane@acme.test', local: 'jane', domain: 'acme.test', asciiLocal: true }],
      attempt: 1,
      maxAttempts: 1,
    });
    const cli = outcomes.get('jane@acme.test');
    expect(cli?.kind === 'verdict' && cli.verdict).toMatchObject({ status: 'deliverable', reason: 'accepted' });
    expect(sessions()).toBeGreaterThan(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(await redis.get(verdictCacheKey(h.prefix, 'jane@acme.test'))).not.toBeNull();
  });

  it('a list uploaded through the API: its rows are unknown/mx_not_allowed and no session is opened', async () => {
    const before = sessions();
    const res = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: 'email\ngavin@hooli.test\npeter@initech.test\nsomeone@oldcorp.test\n' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await pollUntilFinished(h, id);
    expect(done.state).toBe('done');
    const counts = done.counts as { byReason: Record<string, number> };
    // oldcorp.test publishes a null MX: a DNS fact, answered without any SMTP.
    expect(counts.byReason).toEqual({ mx_not_allowed: 2, null_mx: 1 });
    expect(sessions()).toBe(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(await redis.get(verdictCacheKey(h.prefix, 'gavin@hooli.test'))).toBeNull();
  });
});

describe('hygiene api: HYGIENE_API_ALLOW_PRIVATE_MX=true', () => {
  it('probes MX hosts on private addresses', async () => {
    const h = await startApiHarness({ HYGIENE_API_ALLOW_PRIVATE_MX: 'true' });
    try {
      const res = await fetch(`${h.url}/v1/verify`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'jane@acme.test' }) });
      expect(await res.json()).toMatchObject({ status: 'deliverable', reason: 'accepted' });
    } finally {
      await h.stop();
    }
  });
});
