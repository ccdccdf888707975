/**
 * Benchmark 1: the engine (HygieneRuntime + startList + waitForList with the SMTP verifier, the
 * real product path) against the naive baseline, on the same generated world behind a delay proxy
 * per MX host. Round trips, sessions, penalties and concurrency are counted on the server side
 * (proxies and simulated MTAs), not by the client.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/app/logger.ts';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startDelayedMailWorld, type DelayedMailWorld } from '../../src/world/delayed-mail-world.ts';
import type { GeneratedWorld } from '../../src/world/world-generator.ts';
import { REDIS_URL, dropPrefix, freshPrefix, writeLines } from './bench-support.ts';
import { runNaiveBaseline } from './naive-baseline.ts';

export interface ServerFigures {
  addresses: number;
  elapsedMs: number;
  addressesPerSecond: number;
  /** Sum over MX hosts of the most sessions open at once on that host. */
  concurrentConnections: number;
  perConnection: number;
  roundTrips: number;
  roundTripsPerAddress: number;
  sessions: number;
  sessionsPerMx: number;
  maxSessionsOnOneMx: number;
  penalties: number;
  hardLimitHits: number;
  dataSeen: number;
  /** Accepted / rejected as seen by the client, for a sanity check against the world. */
  accepted: number;
  rejected: number;
  other: number;
}

export function serverFigures(world: DelayedMailWorld, addresses: number, elapsedMs: number, outcome: { accepted: number; rejected: number; other: number }): ServerFigures {
  const stats = Object.values(world.stats());
  const proxies = Object.values(world.proxyStats());
  const concurrent = stats.reduce((n, s) => n + s.maxConcurrentSessions, 0);
  const roundTrips = proxies.reduce((n, p) => n + p.roundTrips, 0);
  const sessions = stats.reduce((n, s) => n + s.sessionsOpened, 0);
  const perSecond = addresses / (elapsedMs / 1000);
  return {
    addresses,
    elapsedMs,
    addressesPerSecond: perSecond,
    concurrentConnections: concurrent,
    perConnection: perSecond / Math.max(1, concurrent),
    roundTrips,
    roundTripsPerAddress: roundTrips / addresses,
    sessions,
    sessionsPerMx: sessions / Math.max(1, stats.length),
    maxSessionsOnOneMx: Math.max(...stats.map((s) => s.maxConcurrentSessions)),
    penalties: stats.reduce((n, s) => n + s.penalties, 0),
    hardLimitHits: stats.reduce((n, s) => n + s.hardLimitHits, 0),
    dataSeen: stats.reduce((n, s) => n + s.dataSeen, 0),
    ...outcome,
  };
}

export async function writeContactsCsv(world: GeneratedWorld, file: string): Promise<void> {
  await writeLines(file, (function* () {
    yield 'email,first_name,last_name,company\n';
    for (const c of world.contacts) yield `${c.address},${c.first},${c.last},${c.company}\n`;
  })());
}

/** Settings shared by every engine run: the demo's, plus whatever the caller overrides. */
export function engineEnvironment(world: { dnsServers: string[]; smtpPort: number }, prefix: string): Record<string, string> {
  return { ...demoEnvironment(world.dnsServers, world.smtpPort), REDIS_URL, HYGIENE_PREFIX: prefix, LOG_LEVEL: 'warn' };
}

export async function runEngine(generated: GeneratedWorld, csvFile: string, oneWayDelayMs: number): Promise<ServerFigures> {
  const world = await startDelayedMailWorld(generated.spec, { oneWayDelayMs });
  const prefix = freshPrefix('engine');
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-bench-'));
  const config = loadConfig(engineEnvironment(world, prefix));
  const runtime = await HygieneRuntime.start({ config, logger: createLogger('warn'), redisUrl: REDIS_URL, verifyWorkers: true, finalizeWorker: true });
  try {
    const started = performance.now();
    const { listId } = await startList(runtime, { input: csvFile, outDir, options: { reject: 'undeliverable', neutraliseFormulas: true } });
    const list = await waitForList(runtime, listId, { pollMs: 25 });
    const elapsedMs = performance.now() - started;
    const report = await readReport(list);
    const accepted = report.counts.byStatus.deliverable ?? 0;
    const rejected = report.counts.byStatus.undeliverable ?? 0;
    return serverFigures(world, generated.contacts.length, elapsedMs, { accepted, rejected, other: report.rows - accepted - rejected });
  } finally {
    await runtime.close();
    await world.stop();
    await dropPrefix(prefix);
    await rm(outDir, { recursive: true, force: true });
  }
}

export async function runBaseline(generated: GeneratedWorld, addresses: number, oneWayDelayMs: number, sessionsPerMx: number): Promise<ServerFigures> {
  const world = await startDelayedMailWorld(generated.spec, { oneWayDelayMs });
  try {
    const sample = generated.contacts.slice(0, addresses).map((c) => c.address);
    const result = await runNaiveBaseline({
      addresses: sample,
      dnsServers: world.dnsServers,
      smtpPort: world.smtpPort,
      sessionsPerMx,
      heloName: 'verifier.demo.test',
      sender: 'verify@demo.test',
    });
    return serverFigures(world, sample.length, result.elapsedMs, { accepted: result.accepted, rejected: result.rejected, other: result.failed });
  } finally {
    await world.stop();
  }
}
