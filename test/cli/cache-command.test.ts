/**
 * Cache control (issue 11): `hygiene cache stats` (by status, reason and age; catch-all and MX
 * answers), `hygiene cache clear` (everything, a domain's verdicts + catch-all + MX answers, one
 * address), and `verify --no-cache` / `--max-age DURATION`, through the CLI against a real Redis and
 * the simulated world.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { main } from '../../src/cli/main.ts';
import { createVerdictCache } from '../../src/probe/verdict-cache.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { deletePrefix, REDIS_URL, tempDir, uniquePrefix } from '../helpers/run-list.ts';

let redis: Redis;
let world: MailWorld;
const prefixes: string[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  world = await startMailWorld(
    parseWorldSpec({ mxHosts: { 'mx.acme.test': { ip: '127.0.8.1' } }, domains: { 'acme.test': { mx: [{ host: 'mx.acme.test', preference: 10 }], mailboxes: ['ann', 'bob'] } } }),
  );
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
  await world?.stop();
  redis?.disconnect();
});

async function cli(args: string[], prefix: string): Promise<{ code: number; stdout: string }> {
  const env = { ...demoEnvironment(world.dnsServers, world.smtpPort), REDIS_URL, HYGIENE_PREFIX: prefix, LOG_LEVEL: 'silent' };
  const out: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(args, env), stdout: out.join('') };
  } finally {
    write.mockRestore();
    err.mockRestore();
  }
}

describe('hygiene cache', () => {
  it('stats counts verdicts by status, reason and age, and the catch-all and MX answers; clear forgets an address, a domain, everything', async () => {
    const prefix = uniquePrefix('cache');
    prefixes.push(prefix);
    const cache = createVerdictCache(redis, prefix, { positiveTtlSeconds: 3600, negativeTtlSeconds: 3600 });
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    await cache.setMany([
      ['ann@acme.test', { status: 'deliverable', reason: 'accepted', detail: '', checkedAt: hoursAgo(0) }],
      ['bob@acme.test', { status: 'deliverable', reason: 'accepted', detail: '', checkedAt: hoursAgo(30) }],
      ['x@acme.test', { status: 'undeliverable', reason: 'mailbox_not_found', detail: '', checkedAt: hoursAgo(200) }],
      ['y@other.test', { status: 'risky', reason: 'catch_all', detail: '', checkedAt: hoursAgo(2) }],
      // Unknown verdicts are never written, whatever the caller asks.
      ['z@other.test', { status: 'unknown', reason: 'timeout', detail: '', checkedAt: hoursAgo(0) }],
    ]);
    await redis.set(`${prefix}:catchall:acme.test`, 'no', 'EX', 3600);
    await redis.set(`${prefix}:catchall:other.test`, 'yes', 'EX', 3600);
    await redis.set(`${prefix}:mx:acme.test`, '{}', 'EX', 3600);

    const stats = await cli(['cache', 'stats', '--json'], prefix);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toEqual({
      verdicts: 4,
      byStatus: { deliverable: 2, undeliverable: 1, risky: 1 },
      byReason: { accepted: 2, mailbox_not_found: 1, catch_all: 1 },
      byAge: { 'under 1h': 1, '1h to 1d': 1, '1d to 7d': 1, '7d to 30d': 1, 'over 30d': 0 },
      catchAll: 2,
      mx: 1,
    });
    expect((await cli(['cache', 'stats'], prefix)).stdout).toContain('by status: deliverable 2, ');

    expect(JSON.parse((await cli(['cache', 'clear', '--address', 'Y@Other.test', '--json'], prefix)).stdout).cleared).toEqual({ verdicts: 1, catchAll: 0, mx: 0 });
    expect((await cli(['cache', 'clear', '--domain', 'ACME.test'], prefix)).stdout).toBe('Cleared 3 cached verdicts, 1 catch-all and 1 MX answers (acme.test).\n');
    expect(await redis.exists(`${prefix}:catchall:other.test`)).toBe(1);
    expect(JSON.parse((await cli(['cache', 'clear', '--json'], prefix)).stdout).cleared).toEqual({ verdicts: 0, catchAll: 1, mx: 0 });
    expect(JSON.parse((await cli(['cache', 'stats', '--json'], prefix)).stdout).verdicts).toBe(0);
  });

  it('refuses bad usage with exit code 2', async () => {
    const prefix = uniquePrefix('cache-usage');
    prefixes.push(prefix);
    expect((await cli(['cache'], prefix)).code).toBe(2);
    expect((await cli(['cache', 'clear', '--domain', 'a.test', '--address', 'x@a.test'], prefix)).code).toBe(2);
    expect((await cli(['cache', 'clear', '--address', 'not an address'], prefix)).code).toBe(2);
  });
});

describe('verify --no-cache and --max-age', () => {
  it('a second run answers from the cache; with --no-cache or --max-age 1ms it asks the servers again', async () => {
    const prefix = uniquePrefix('nocache');
    prefixes.push(prefix);
    const dir = await tempDir('nocache');
    const input = path.join(dir, 'list.csv');
    await writeFile(input, 'email\nann@acme.test\nbob@acme.test\nnobody@acme.test\n');
    const report = async (): Promise<{ cache: { hits: number; probed: number } }> => JSON.parse(await readFile(path.join(dir, 'list.report.json'), 'utf8')) as { cache: { hits: number; probed: number } };
    const rcpts = () => world.stats()['mx.acme.test']!.rcptCount;

    expect((await cli(['verify', input, '--out', dir, '--json'], prefix)).code).toBe(0);
    expect((await report()).cache.hits).toBe(0);
    let before = rcpts();
    expect((await cli(['verify', input, '--out', dir, '--json'], prefix)).code).toBe(0);
    expect((await report()).cache.hits).toBe(3);
    expect(rcpts()).toBe(before);

    before = rcpts();
    expect((await cli(['verify', input, '--out', dir, '--json', '--no-cache'], prefix)).code).toBe(0);
    expect((await report()).cache.hits).toBe(0);
    expect(rcpts()).toBeGreaterThanOrEqual(before + 3);

    await new Promise((r) => setTimeout(r, 20));
    before = rcpts();
    expect((await cli(['verify', input, '--out', dir, '--json', '--max-age', '1ms'], prefix)).code).toBe(0);
    expect((await report()).cache.hits).toBe(0);
    expect(rcpts()).toBeGreaterThanOrEqual(before + 3);

    expect((await cli(['verify', input, '--out', dir, '--max-age', 'soon'], prefix)).code).toBe(2);
    expect((await cli(['verify', input, '--out', dir, '--max-age', '1d', '--no-cache'], prefix)).code).toBe(2);
  });
});
