/**
 * Benchmark 3: a fleet. 1, 2 and 3 `hygiene worker` processes share one Redis; this process only
 * enqueues (startList with no verify workers) and collects. The servers report the most sessions
 * they ever had open at once from us: the fleet-wide lease must keep it within the limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/app/logger.ts';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startDelayedMailWorld } from '../../src/world/delayed-mail-world.ts';
import type { GeneratedWorld } from '../../src/world/world-generator.ts';
import { REDIS_URL, dropPrefix, freshPrefix } from './bench-support.ts';
import { engineEnvironment, serverFigures, type ServerFigures } from './engine-bench.ts';
import { CLI_BIN } from '../helpers/cli-bin.ts';

const BIN = CLI_BIN; // the compiled CLI, as users run it

export interface FleetFigures extends ServerFigures {
  workers: number;
  limit: number;
}

export async function runFleet(generated: GeneratedWorld, csvFile: string, workers: number, oneWayDelayMs: number): Promise<FleetFigures> {
  const world = await startDelayedMailWorld(generated.spec, { oneWayDelayMs });
  const prefix = freshPrefix(`fleet${workers}`);
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-bench-fleet-'));
  const env = engineEnvironment(world, prefix);
  const config = loadConfig(env);
  const children: ChildProcess[] = [];
  // The enqueuing process collects too (workers run with --no-collect), like `verify --no-local-workers`.
  const runtime = await HygieneRuntime.start({ config, logger: createLogger('warn'), redisUrl: REDIS_URL, verifyWorkers: false, finalizeWorker: true });
  try {
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, [BIN, 'worker', '--no-collect'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
    }
    // Workers are up once BullMQ has registered them with Redis.
    const deadline = Date.now() + 30_000;
    while ((await runtime.verifyQueue.getWorkersCount()) < workers) {
      if (Date.now() > deadline) throw new Error(`only ${await runtime.verifyQueue.getWorkersCount()} of ${workers} workers started`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = performance.now();
    const { listId } = await startList(runtime, { input: csvFile, outDir, options: { reject: 'undeliverable', neutraliseFormulas: true } });
    const list = await waitForList(runtime, listId, { pollMs: 25 });
    const elapsedMs = performance.now() - started;
    const figures = serverFigures(world, generated.contacts.length, elapsedMs, { accepted: 0, rejected: 0, other: list.rows - generated.contacts.length });
    return { ...figures, workers, limit: config.smtp.maxSessionsPerMx };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    await runtime.close();
    await world.stop();
    await dropPrefix(prefix);
    await rm(outDir, { recursive: true, force: true });
  }
}
