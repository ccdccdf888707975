import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { runSchedule, startScheduleDaemon, type ScheduleDaemon } from '../../src/schedule/schedule-runner.ts';
import type { ScheduleRunSummary } from '../../src/schedule/schedule-store.ts';
import { addSchedule, getSchedule, listScheduleRuns, listSchedules, openScheduleQueue, removeSchedule, type ScheduleDeps } from '../../src/schedule/schedules.ts';
import type { MailWorld } from '../../src/world/mail-world.ts';
import { dnsPortOf, dropPrefix, eventually, REDIS_URL, startRuntime, startSmallWorld, tempDir, testConfig, uniquePrefix } from '../watch/e2e-setup.ts';

let world: MailWorld;
let prefix: string;
let redis: Redis;
let deps: ScheduleDeps;
let dir: string;
let input: string;
let runtime: HygieneRuntime | null = null;
let daemon: ScheduleDaemon | null = null;

beforeEach(async () => {
  world = await startSmallWorld(['alice', 'bob']);
  prefix = uniquePrefix('schedule');
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  deps = { redis, prefix, queue: openScheduleQueue(redis, prefix) };
  dir = await tempDir('schedule');
  input = path.join(dir, 'team.csv');
  await writeFile(input, 'email,name\nalice@w.test,Alice\nbob@w.test,Bob\nnobody@w.test,Nobody\n');
});

afterEach(async () => {
  await daemon?.close();
  await runtime?.close();
  daemon = null;
  runtime = null;
  await deps.queue.close();
  redis.disconnect();
  await world.stop();
  await dropPrefix(prefix);
});

describe('schedule add / list / remove', () => {
  it('registers a BullMQ job scheduler with the interval or cron + time zone, lists and removes it', async () => {
    const weekly = await addSchedule(deps, { input, outDir: dir, every: '7d' });
    const cron = await addSchedule(deps, { input, outDir: dir, cron: '0 3 * * 1', tz: 'Europe/Berlin', maxAge: '3d', name: 'monday' });
    expect(weekly.every).toBe(7 * 86_400_000);
    expect(weekly.maxVerdictAgeMs).toBe(86_400_000);
    expect(cron).toMatchObject({ cron: '0 3 * * 1', tz: 'Europe/Berlin', maxVerdictAgeMs: 3 * 86_400_000, name: 'monday' });
    const scheduler = await deps.queue.getJobScheduler(cron.id);
    expect(scheduler).toMatchObject({ pattern: '0 3 * * 1', tz: 'Europe/Berlin' });
    // Next Monday 03:00 in Berlin.
    const next = new Date(cron.next!);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('Mon 03:00');

    expect((await listSchedules(deps)).map((s) => s.id)).toEqual([weekly.id, cron.id]);
    expect(await removeSchedule(deps, weekly.id)).toBe(true);
    expect(await deps.queue.getJobScheduler(weekly.id)).toBeUndefined();
    expect(await getSchedule(deps, weekly.id)).toBeNull();
    expect(await removeSchedule(deps, weekly.id)).toBe(false);
    expect((await listSchedules(deps)).map((s) => s.id)).toEqual([cron.id]);
  });

  it('refuses bad options and files before registering anything', async () => {
    await expect(addSchedule(deps, { input, outDir: dir })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSchedule(deps, { input, outDir: dir, every: '1d', cron: '0 3 * * *' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSchedule(deps, { input, outDir: dir, every: 'weekly' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSchedule(deps, { input, outDir: dir, cron: '0 3 * * 1', tz: 'Mars/Olympus' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSchedule(deps, { input, outDir: dir, cron: '99 99 * * *' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSchedule(deps, { input: path.join(dir, 'missing.csv'), outDir: dir, every: '1d' })).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const binary = path.join(dir, 'x.csv');
    await writeFile(binary, Buffer.from([0, 1, 2, 3, 0, 0, 0, 255, 254, 0]));
    await expect(addSchedule(deps, { input: binary, outDir: dir, every: '1d' })).rejects.toMatchObject({ code: 'INPUT_BINARY' });
    expect(await listSchedules(deps)).toEqual([]);
    expect(await deps.queue.getJobSchedulersCount()).toBe(0);
  });
});

describe('a scheduled run', () => {
  it('probes only verdicts older than the max age, and a retried run does not start over', async () => {
    runtime = await startRuntime(testConfig(world, prefix));
    const fresh = await addSchedule(deps, { input, outDir: dir, every: '1h', maxAge: '1h' });
    const first = await runSchedule(runtime, fresh.id, Date.UTC(2024, 0, 1));
    expect(first).toMatchObject({ firstRun: true, probed: 3, cacheHits: 0, changed: 0 });
    const rcpts = world.stats()['mx.w.test']?.rcptCount;

    // Verdicts are a moment old: younger than 1h, so all come from the cache.
    const second = await runSchedule(runtime, fresh.id, Date.UTC(2024, 0, 2));
    expect(second).toMatchObject({ firstRun: false, probed: 0, cacheHits: 3, compared: 3, changed: 0, previousListId: first!.listId });
    expect(world.stats()['mx.w.test']?.rcptCount).toBe(rcpts);
    expect(path.basename(second!.outputs.cleaned)).toBe('team.20240102T000000Z.cleaned.csv');
    // A scheduled run's outputs carry the same appended columns, the mailable address last (issue 16).
    expect((await readFile(second!.outputs.cleaned, 'utf8')).split(/\r?\n/)[0]).toMatch(/,hygiene_flags,hygiene_address,hygiene_provider$/);

    // The same due run again (a retried job): the recorded result, no new list.
    expect(await runSchedule(runtime, fresh.id, Date.UTC(2024, 0, 2))).toEqual(second);

    // Max age 0: every cached verdict is stale, every address is probed again.
    const stale = await addSchedule(deps, { input, outDir: dir, every: '1h', maxAge: 0, name: 'stale' });
    const run = await runSchedule(runtime, stale.id, Date.UTC(2024, 0, 3));
    expect(run).toMatchObject({ probed: 3, cacheHits: 0 });
    expect(world.stats()['mx.w.test']?.rcptCount).toBeGreaterThan(rcpts!);
  });

  it('runs of one schedule never overlap (two started at once run one after the other), and an overtaken run is skipped', async () => {
    runtime = await startRuntime(testConfig(world, prefix));
    const schedule = await addSchedule(deps, { input, outDir: dir, every: '1h', maxAge: 0 });
    // Two due runs picked up at the same moment (two daemons, or a run longer than the interval).
    const [first, second] = await Promise.all([runSchedule(runtime, schedule.id, Date.UTC(2024, 0, 1)), runSchedule(runtime, schedule.id, Date.UTC(2024, 0, 2))]);
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    const [earlier, later] = Date.parse(first!.finishedAt) <= Date.parse(second!.finishedAt) ? [first!, second!] : [second!, first!];
    // The later-finishing run started its list only after the other had finished...
    const laterList = await runtime.store.get(later.listId);
    expect(Date.parse(laterList!.createdAt)).toBeGreaterThanOrEqual(Date.parse(earlier.finishedAt));
    // ...and compared itself with it.
    expect(later).toMatchObject({ firstRun: false, previousListId: earlier.listId, compared: 3 });
    expect(earlier.firstRun).toBe(true);

    // A run older than one already finished (a job retried late) is skipped, not compared backwards.
    expect(await runSchedule(runtime, schedule.id, Date.UTC(2023, 11, 31))).toBeNull();
    expect(await listScheduleRuns(deps, schedule.id)).toHaveLength(2);
  });

  it('re-verifies on its interval through the daemon (restarted in between) and reports the address that changed', async () => {
    runtime = await startRuntime(testConfig(world, prefix));
    const runs: ScheduleRunSummary[] = [];
    daemon = startScheduleDaemon(runtime, { redisUrl: REDIS_URL, onRun: (s) => runs.push(s) });
    const schedule = await addSchedule(deps, { input, outDir: dir, every: '2s', maxAge: 0 });
    const first = await eventually(async () => runs[0], 'the first scheduled run');
    expect(first.firstRun).toBe(true);
    expect(parse(await readFile(first.outputs.changes, 'utf8'), { columns: true })).toEqual([]);

    // Bob leaves the company: the daemon stops, the world changes (same DNS and SMTP ports), the
    // daemon starts again and the schedule (in Redis) carries on.
    await daemon.close();
    const ports = { smtpPort: world.smtpPort, dnsPort: dnsPortOf(world) };
    await world.stop();
    world = await startSmallWorld(['alice'], ports);
    daemon = startScheduleDaemon(runtime, { redisUrl: REDIS_URL, onRun: (s) => runs.push(s) });

    const changedRun = await eventually(async () => runs.find((r) => r.changed > 0 && r.transitions['deliverable->undeliverable']), 'a run reporting a change');
    const changes = parse(await readFile(changedRun.outputs.changes, 'utf8'), { columns: true }) as Record<string, string>[];
    const bob = changes.find((row) => row.address === 'bob@w.test');
    expect(bob).toMatchObject({ status: 'undeliverable', reason: 'mailbox_not_found' });
    expect(bob?.smtp_reply).toMatch(/^550 5\.1\.1/);
    const summary = JSON.parse(await readFile(changedRun.outputs.changesSummary, 'utf8')) as ScheduleRunSummary;
    expect(summary).toMatchObject({ scheduleId: schedule.id, listId: changedRun.listId, changed: changedRun.changed });
    expect(path.basename(changedRun.outputs.cleaned)).toMatch(/^team\.\d{8}T\d{6}(\.\d{3})?Z\.cleaned\.csv$/);
    // Each run has its own outputs.
    expect(new Set(runs.map((r) => r.outputs.report)).size).toBe(runs.length);
    expect((await listScheduleRuns(deps, schedule.id, 100)).length).toBeGreaterThanOrEqual(2);
    await removeSchedule(deps, schedule.id);
  });

  it('a run whose input changes while it verifies fails with INPUT_CHANGED and writes nothing; its retry verifies the file as it now is', async () => {
    // Slow replies keep the list verifying long enough to change its input.
    await world.stop();
    world = await startSmallWorld(['alice', 'bob', 'carol'], {}, { replyDelayMs: 150 });
    runtime = await startRuntime(testConfig(world, prefix));
    const rt = runtime;
    const schedule = await addSchedule(deps, { input, outDir: dir, every: '1h', maxAge: 0 });
    const runAt = Date.UTC(2024, 0, 1);
    const run = runSchedule(rt, schedule.id, runAt);
    run.catch(() => undefined);
    await eventually(async () => {
      const [id] = await rt.redis.zrange(`${prefix}:lists`, '0', '-1');
      return id ? (await rt.store.get(id))?.state === 'verifying' : false;
    }, 'the run to be verifying');
    await writeFile(input, 'email,name\ncarol@w.test,Carol\nalice@w.test,Alice\nbob@w.test,Bob\nnobody@w.test,Nobody\n');
    await expect(run).rejects.toMatchObject({ code: 'INPUT_CHANGED' });
    expect((await readdir(dir)).filter((f) => f.startsWith('team.2024'))).toEqual([]);

    // BullMQ retries the job: the same due run, now on the new content.
    const retried = await runSchedule(rt, schedule.id, runAt);
    expect(retried).toMatchObject({ firstRun: true, probed: 4 });
    const report = JSON.parse(await readFile(retried!.outputs.report, 'utf8')) as { rows: number };
    expect(report.rows).toBe(4);
  });
});

