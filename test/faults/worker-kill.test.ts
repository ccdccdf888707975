/**
 * Fault: a worker process killed with SIGKILL in the middle of a list. Its active jobs stall (their
 * lock is never renewed); another worker's stalled-job check hands them back to the queue and
 * takes them over. The list completes with every row exactly once and the right verdicts.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startList, readReport, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { clearPrefix, expectEveryRowOnce, killChild, removeDir, runCli, tempDir, uniquePrefix, waitFor, writeContacts, type CliRun } from './fault-helpers.ts';
import { configFor, listOptions, mixedAddresses, startRuntime, twoDomainWorld, worldEnv } from './world-fixtures.ts';

describe('worker killed with SIGKILL mid-list', () => {
  let world: MailWorld | undefined;
  let runtime: HygieneRuntime | undefined;
  let dir = '';
  let prefix = '';
  const children: CliRun[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    await runtime?.close();
    await world?.stop();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  it('another worker takes over the stalled jobs; no row lost or duplicated', async () => {
    // Slow, non-pipelining MX hosts so the list takes a few seconds.
    world = await startMailWorld(twoDomainWorld({ replyDelayMs: 25, pipelining: false }));
    prefix = uniquePrefix('kill');
    dir = await tempDir('kill');
    const { emails, expected } = mixedAddresses(200);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const env = worldEnv(world.dnsServers, world.smtpPort, prefix, {
      HYGIENE_STALLED_INTERVAL_MS: '1000',
      HYGIENE_LOCK_DURATION_MS: '2000',
      HYGIENE_JOB_SIZE: '10',
      HYGIENE_CONCURRENCY: '2',
      // A killed worker's MX leases live until their TTL; leave room for the survivor.
      HYGIENE_MAX_SESSIONS_PER_MX: '4',
    });
    runtime = await startRuntime(configFor(env), false);
    const victim = runCli(['worker', '--no-collect'], env);
    children.push(victim);
    const { listId } = await startList(runtime, { input, outDir: dir, options: listOptions(runtime.config) });
    const rt = runtime;
    await waitFor('the first worker to record verdicts', async () => ((await rt.store.get(listId))?.verified ?? 0) >= 20, 15_000);
    victim.child.kill('SIGKILL');
    const gone = await victim.exit;
    expect(gone.signal).toBe('SIGKILL');
    const before = (await rt.store.get(listId))!;
    expect(before.verified).toBeLessThan(before.uniqueAddresses);

    const survivor = runCli(['worker'], env);
    children.push(survivor);
    const list = await waitForList(runtime, listId, { pollMs: 100 });
    const report = await readReport(list);
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.email).toBe(expected.get(row.email ?? ''));
    }
    // Each address was asked at most a few times (a killed session's RCPTs may be repeated by the
    // survivor, but never by the same worker twice in one run).
    const rcpts = Object.values(world.stats()).reduce((n, s) => n + s.rcptCount, 0);
    expect(rcpts).toBeGreaterThanOrEqual(200);
    expect(rcpts).toBeLessThan(200 + 2 * 4 * 10);
    survivor.child.kill('SIGTERM');
    expect((await survivor.exit).code).toBe(143);
  });
});
