/**
 * Fault: Redis killed (SIGKILL) and restarted in the middle of a list.
 * - With AOF (appendfsync always) the list's state, its queued jobs and its verdicts survive: the
 *   clients reconnect, the list resumes and completes with every row exactly once.
 * - Without persistence everything in Redis is gone: `hygiene verify` fails with one clear line
 *   (it does not hang), nothing half-written appears under a final name, and running the same
 *   command again completes with complete outputs.
 * Uses its own redis-server on a free port in a temp dir; skipped only if the binary is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, pingRedis } from '../../src/app/redis-connection.ts';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { expectEveryRowOnce, killChild, listDir, removeDir, runCli, tempDir, uniquePrefix, waitFor, writeContacts, type CliRun } from './fault-helpers.ts';
import { configFor, listOptions, mixedAddresses, startRuntime, twoDomainWorld, worldEnv } from './world-fixtures.ts';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
}

async function startOwnRedis(dir: string, port: number, persistent: boolean): Promise<OwnRedis> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor('redis-server to answer', () => pingRedis(url, 300), 10_000);
  return { url, port, dir, process: child };
}

async function killRedis(redis: OwnRedis): Promise<void> {
  if (redis.process.exitCode !== null || redis.process.signalCode !== null) return;
  const exited = new Promise((r) => redis.process.once('exit', r));
  redis.process.kill('SIGKILL');
  await exited;
}

describe.skipIf(!hasRedisServer)('Redis restarted mid-list', () => {
  let world: MailWorld | undefined;
  let runtime: HygieneRuntime | undefined;
  let redis: OwnRedis | undefined;
  let dir = '';
  const children: CliRun[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    await runtime?.close();
    runtime = undefined;
    if (redis) await killRedis(redis);
    await world?.stop();
    await removeDir(dir);
  });

  it('with AOF: the list resumes after the restart and completes, nothing lost or duplicated', async () => {
    world = await startMailWorld(twoDomainWorld({ replyDelayMs: 20, pipelining: false }));
    dir = await tempDir('redis-aof');
    const dataDir = path.join(dir, 'redis');
    await import('node:fs/promises').then((fs) => fs.mkdir(dataDir));
    const port = await freePort();
    redis = await startOwnRedis(dataDir, port, true);
    const { emails, expected } = mixedAddresses(160);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const env = worldEnv(world.dnsServers, world.smtpPort, uniquePrefix('aof'), {
      REDIS_URL: redis.url,
      HYGIENE_JOB_SIZE: '10',
      HYGIENE_CONCURRENCY: '2',
      HYGIENE_STALLED_INTERVAL_MS: '1000',
      HYGIENE_LOCK_DURATION_MS: '2000',
    });
    runtime = await startRuntime(configFor(env), true, redis.url);
    const { listId } = await startList(runtime, { input, outDir: dir, options: listOptions(runtime.config) });
    const rt = runtime;
    await waitFor('some verdicts before the crash', async () => ((await rt.store.get(listId).catch(() => null))?.verified ?? 0) >= 20, 15_000);

    await killRedis(redis);
    await new Promise((r) => setTimeout(r, 500));
    redis = await startOwnRedis(dataDir, port, true);
    const afterRestart = await rt.store.get(listId);
    expect(afterRestart?.state).toBe('verifying');
    expect(afterRestart?.verified ?? 0).toBeGreaterThanOrEqual(20);

    const report = await readReport(await waitForList(runtime, listId, { pollMs: 100 }));
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.email).toBe(expected.get(row.email ?? ''));
    }
  });

  it('without persistence: verify fails with one clear line, writes nothing final, and a re-run completes', async () => {
    world = await startMailWorld(twoDomainWorld({ replyDelayMs: 20, pipelining: false }));
    dir = await tempDir('redis-volatile');
    const dataDir = path.join(dir, 'redis');
    const outDir = path.join(dir, 'out');
    await import('node:fs/promises').then((fs) => fs.mkdir(dataDir));
    const port = await freePort();
    redis = await startOwnRedis(dataDir, port, false);
    const { emails } = mixedAddresses(160);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const prefix = uniquePrefix('volatile');
    const env = worldEnv(world.dnsServers, world.smtpPort, prefix, { REDIS_URL: redis.url, HYGIENE_JOB_SIZE: '10', HYGIENE_CONCURRENCY: '2' });

    const first = runCli(['verify', input, '--out', outDir, '--json'], env);
    children.push(first);
    const watcher = await startRuntime(configFor(env), false, redis.url);
    try {
      await waitFor(
        'the first run to record verdicts',
        async () => {
          const listIds = await watcher.redis.zrange(`${prefix}:lists`, '0', '-1').catch(() => [] as string[]);
          const list = listIds[0] ? await watcher.store.get(listIds[0]).catch(() => null) : null;
          return (list?.verified ?? 0) >= 20;
        },
        15_000,
      );
    } finally {
      await watcher.close();
    }
    await killRedis(redis);
    await new Promise((r) => setTimeout(r, 300));
    redis = await startOwnRedis(dataDir, port, false);

    const failed = await first.exit;
    expect(failed.code, first.stderr()).toBe(1);
    const lines = first.stderr().trim().split('\n').filter((l) => l.startsWith('hygiene:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/run the same command again/i);
    // Nothing half-written under a final name (stray temp files, if any, are hidden).
    const leftovers = existsSync(outDir) ? (await listDir(outDir)).filter((f) => !f.startsWith('.')) : [];
    expect(leftovers).toEqual([]);

    const second = runCli(['verify', input, '--out', outDir, '--json'], env);
    children.push(second);
    const done = await second.exit;
    expect(done.code, second.stderr()).toBe(0);
    const report = JSON.parse(second.stdout()) as ListReport;
    await expectEveryRowOnce(report, ids);
  });
});
