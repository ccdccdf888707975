/**
 * SIGTERM and SIGINT lead to one ordered shutdown: active jobs finish (or are handed back), the
 * process exits 143 / 130, and the list still completes — with another worker, or by running the
 * same `hygiene verify` command again (it resumes the unfinished list).
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { clearPrefix, expectEveryRowOnce, killChild, removeDir, runCli, tempDir, uniquePrefix, waitFor, writeContacts, type CliRun } from './fault-helpers.ts';
import { configFor, listOptions, mixedAddresses, startRuntime, twoDomainWorld, worldEnv } from './world-fixtures.ts';

describe('graceful shutdown on signals', () => {
  let world: MailWorld | undefined;
  let runtime: HygieneRuntime | undefined;
  let dir = '';
  let prefix = '';
  const children: CliRun[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    await runtime?.close();
    runtime = undefined;
    await world?.stop();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  async function setUp(tag: string, n: number) {
    world = await startMailWorld(twoDomainWorld({ replyDelayMs: 25, pipelining: false }));
    prefix = uniquePrefix(tag);
    dir = await tempDir(tag);
    const { emails, expected } = mixedAddresses(n);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const env = worldEnv(world.dnsServers, world.smtpPort, prefix, {
      HYGIENE_JOB_SIZE: '10',
      HYGIENE_CONCURRENCY: '2',
      HYGIENE_STALLED_INTERVAL_MS: '1000',
      HYGIENE_LOCK_DURATION_MS: '2000',
    });
    return { input, ids, expected, env };
  }

  it('SIGTERM to `hygiene worker`: exits 143 with no job left active; another worker completes the list', async () => {
    const { input, ids, expected, env } = await setUp('sigterm', 160);
    runtime = await startRuntime(configFor(env), false);
    const first = runCli(['worker', '--no-collect'], env);
    children.push(first);
    const { listId } = await startList(runtime, { input, outDir: dir, options: listOptions(runtime.config) });
    const rt = runtime;
    await waitFor('verdicts from the first worker', async () => ((await rt.store.get(listId))?.verified ?? 0) >= 20);
    first.child.kill('SIGTERM');
    const exit = await first.exit;
    expect(exit.code, first.stderr()).toBe(143);
    expect(first.stderr()).toMatch(/SIGTERM received; finishing active jobs/);
    // Active jobs finished before the exit: none is left active (stalled) for another worker to rescue.
    expect(await rt.verifyQueue.getActiveCount()).toBe(0);
    const midway = (await rt.store.get(listId))!;
    expect(midway.state).toBe('verifying');

    const second = runCli(['worker'], env);
    children.push(second);
    const report = await readReport(await waitForList(runtime, listId, { pollMs: 100 }));
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.email).toBe(expected.get(row.email ?? ''));
    }
    second.child.kill('SIGINT');
    expect((await second.exit).code).toBe(130);
  });

  it('SIGINT to `hygiene verify`: exits 130; the same command again resumes and completes', async () => {
    const { input, ids, expected, env } = await setUp('sigint', 160);
    const outDir = path.join(dir, 'out');
    const first = runCli(['verify', input, '--out', outDir, '--json'], env);
    children.push(first);
    runtime = await startRuntime(configFor(env), false);
    const rt = runtime;
    const listId = await waitFor('the list to start verifying', async () => {
      const listIds = await rt.redis.zrange(`${prefix}:lists`, '0', '-1');
      const list = listIds[0] ? await rt.store.get(listIds[0]) : null;
      return list && list.verified >= 20 ? list.id : null;
    });
    first.child.kill('SIGINT');
    const exit = await first.exit;
    expect(exit.code, first.stderr()).toBe(130);
    expect(first.stderr()).toMatch(/SIGINT received/);
    expect(await rt.verifyQueue.getActiveCount()).toBe(0);
    const interrupted = (await rt.store.get(listId))!;
    expect(interrupted.state).toBe('verifying');
    expect(interrupted.verified).toBeLessThan(interrupted.uniqueAddresses);
    const rcptsBefore = Object.values(world!.stats()).reduce((n, s) => n + s.rcptCount, 0);

    const second = runCli(['verify', input, '--out', outDir, '--json'], env);
    children.push(second);
    const done = await second.exit;
    expect(done.code, second.stderr()).toBe(0);
    const report = JSON.parse(second.stdout()) as ListReport;
    expect(report.listId).toBe(listId);
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.email).toBe(expected.get(row.email ?? ''));
    }
    // Resumed, not restarted: addresses verified before the interruption were not asked again.
    const rcptsAfter = Object.values(world!.stats()).reduce((n, s) => n + s.rcptCount, 0);
    expect(rcptsAfter - rcptsBefore).toBeLessThanOrEqual(160 - interrupted.verified);
  });
});
