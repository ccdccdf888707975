/**
 * Redis for a run: the configured server, or — when none answers at the default address and the user
 * did not set REDIS_URL — a private `redis-server` child on a free port with a temp dir, stopped at
 * exit. So `hygiene verify` works on a machine with Redis installed but not running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { HygieneError } from '../errors.ts';
import { everyKeyPattern } from '../store/redis-keys.ts';

export interface RedisEndpoint {
  url: string;
  /** Present when we started a private redis-server: stop it at exit. */
  stop?: () => Promise<void>;
  private: boolean;
}

/** A client suited to BullMQ (maxRetriesPerRequest: null) that gives up connecting quickly at start. */
export function createRedisClient(url: string, name: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    // Reconnect with capped backoff so a Redis restart mid-list is survived (issue: faults).
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

export async function pingRedis(url: string, timeoutMs = 1_500): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function resolveRedisEndpoint(url: string, explicit: boolean): Promise<RedisEndpoint> {
  if (await pingRedis(url)) return { url, private: false };
  if (explicit) {
    throw new HygieneError('REDIS_UNAVAILABLE', `Redis does not answer at ${url} (REDIS_URL). Start it, or unset REDIS_URL to let hygiene start a private redis-server.`, { url });
  }
  const started = await startPrivateRedis().catch((err: unknown) => {
    throw new HygieneError(
      'REDIS_UNAVAILABLE',
      `No Redis answers at ${url} and no private redis-server could be started (${(err as Error).message}). ` +
        'Install redis-server (e.g. `apt-get install redis-server`), set REDIS_URL to a running Redis, or run `docker compose up -d redis`.',
      { url },
    );
  });
  return started;
}

async function startPrivateRedis(): Promise<RedisEndpoint> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hygiene-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const ready = await Promise.race([pingRedis(url, 300), spawnError]);
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop, private: true };
}

/** Deletes every key under `{prefix}:` (SCAN, never KEYS: safe on a busy Redis). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', everyKeyPattern(prefix), 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Redis refusing writes (maxmemory with noeviction: OOM; a replica after a failover: READONLY; a
 * failed snapshot: MISCONF) or out of reach. The run does not fail for it: pools back off, jobs are
 * retried by BullMQ, and the run carries on once Redis accepts writes again (docs/faults.md, "Redis
 * refuses writes"); meanwhile one line per interval says so.
 */
export function isRedisRefusal(err: Error): boolean {
  return /\b(?:OOM command not allowed|READONLY|MISCONF|NOREPLICAS|LOADING|MASTERDOWN)\b|Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable/.test(err.message);
}

export const REDIS_REFUSES_MESSAGE = 'Redis refuses writes or cannot be reached (see err): the run waits, backs off and carries on once Redis accepts writes again; free memory, raise maxmemory or point REDIS_URL at the primary';

