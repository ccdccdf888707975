/**
 * End-to-end setup shared by the watch, schedule and bounces tests: a small simulated mail world on
 * loopback, a real Redis (REDIS_URL or 127.0.0.1:6379) under a fresh key prefix, the real runtime.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { deleteKeysWithPrefix } from '../../src/app/redis-connection.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export const uniquePrefix = (label: string): string => `t-${label}-${randomBytes(4).toString('hex')}`;
export const tempDir = (label: string): Promise<string> => mkdtemp(path.join(os.tmpdir(), `hygiene-${label}-`));

/** One MX host serving w.test with the given mailboxes (everything else there is 550 5.1.1). */
export function startSmallWorld(mailboxes: string[], ports: { smtpPort?: number; dnsPort?: number } = {}, behaviour: Record<string, unknown> = {}): Promise<MailWorld> {
  const spec = parseWorldSpec({
    mxHosts: { 'mx.w.test': { ip: '127.0.0.61', behaviour } },
    domains: { 'w.test': { mx: [{ host: 'mx.w.test', preference: 10 }], mailboxes } },
  });
  return startMailWorld(spec, ports);
}

export function dnsPortOf(world: MailWorld): number {
  return Number(world.dnsServers[0]?.split(':').pop());
}

export function testConfig(world: MailWorld, prefix: string): Config {
  return loadConfig({
    ...demoEnvironment(world.dnsServers, world.smtpPort),
    REDIS_URL,
    HYGIENE_PREFIX: prefix,
    HYGIENE_BACKOFF_MS: '200',
    HYGIENE_IDLE_SESSION_MS: '200',
    HYGIENE_CONNECT_TIMEOUT_MS: '1000',
    HYGIENE_DNS_CACHE_TTL_S: '0',
  });
}

export function startRuntime(config: Config): Promise<HygieneRuntime> {
  return HygieneRuntime.start({ config, logger, redisUrl: REDIS_URL, verifyWorkers: true, finalizeWorker: true });
}

/** Deletes every key under the prefix (the test's own). */
export async function dropPrefix(prefix: string): Promise<void> {
  await deleteKeysWithPrefix(REDIS_URL, prefix);
}

export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
