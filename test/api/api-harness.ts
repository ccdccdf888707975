/** Starts `hygiene api` in-process against real Redis and the simulated mail world (samples/world.json). */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { deleteKeysWithPrefix } from '../../src/app/redis-connection.ts';
import { startApiService, type ApiService } from '../../src/api/api-service.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { loadConfig } from '../../src/config/config.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const API_KEY = 'test-key-0123456789abcdef';
export const OTHER_KEY = 'other-key-0123456789abcdef';
/** An admin key (HYGIENE_API_ADMIN_KEYS): every list, the dashboard, /metrics. */
export const ADMIN_KEY = 'admin-key-0123456789abcdef';
export const WEBHOOK_SECRET = 'webhook-secret-0123456789';

export interface ApiHarness {
  service: ApiService;
  world: MailWorld;
  dataDir: string;
  prefix: string;
  logs: string[];
  url: string;
  auth: Record<string, string>;
  stop(): Promise<void>;
}

export async function startApiHarness(env: Record<string, string> = {}): Promise<ApiHarness> {
  const world = await startMailWorld(await loadWorldSpecFile('samples/world.json'));
  const prefix = `t-api-${randomUUID().slice(0, 8)}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-api-'));
  const config = loadConfig({
    ...demoEnvironment(world.dnsServers, world.smtpPort),
    REDIS_URL,
    HYGIENE_PREFIX: prefix,
    HYGIENE_DATA_DIR: dataDir,
    HYGIENE_API_KEYS: `${API_KEY},${OTHER_KEY}`,
    HYGIENE_API_ADMIN_KEYS: `ops:${ADMIN_KEY}`,
    HYGIENE_API_PORT: '0',
    HYGIENE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    HYGIENE_WEBHOOK_ALLOW_PRIVATE: 'true',
    HYGIENE_WEBHOOK_BACKOFF_MS: '100',
    HYGIENE_STALLED_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  let service: ApiService;
  try {
    service = await startApiService({ config, logger, redisUrl: REDIS_URL });
  } catch (err) {
    await world.stop();
    throw err;
  }
  return {
    service,
    world,
    dataDir,
    prefix,
    logs,
    url: service.url,
    auth: { 'x-api-key': API_KEY },
    async stop() {
      await service.close();
      await world.stop();
      await clearPrefix(prefix);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function clearPrefix(prefix: string): Promise<void> {
  await deleteKeysWithPrefix(REDIS_URL, prefix);
}

/** Polls GET /v1/lists/:id until done or failed. */
export async function pollUntilFinished(h: ApiHarness, id: string, timeoutMs = 45_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${h.url}/v1/lists/${id}`, { headers: h.auth });
    const body = (await res.json()) as Record<string, unknown>;
    if (body.state === 'done' || body.state === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`list ${id} still ${String(body.state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
