/**
 * Restart safety of `hygiene verify`: kill the process (SIGKILL) mid-list, run the same command
 * again, and the list completes with every row exactly once and (almost) nothing probed twice.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { REDIS_URL, countsProblems, deletePrefix, readOutput, tempDir, uniquePrefix } from '../helpers/run-list.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { CLI_BIN } from '../helpers/cli-bin.ts';

const BIN = CLI_BIN; // the compiled CLI, as users run it
let world: MailWorld;
let prefix: string;
let dir: string;

beforeAll(async () => {
  const domains: Record<string, unknown> = {};
  for (let d = 0; d < 10; d++) domains[`r${d}.test`] = { mx: [{ host: 'mx.restart.test', preference: 10 }], mailboxes: Array.from({ length: 12 }, (_, i) => `u${i}`) };
  world = await startMailWorld(parseWorldSpec({ mxHosts: { 'mx.restart.test': { ip: '127.0.5.1', behaviour: { replyDelayMs: 25 } } }, domains }));
  prefix = uniquePrefix('restart');
  dir = await tempDir('restart');
});
afterAll(async () => {
  await world?.stop();
  await deletePrefix(prefix);
});

function runVerify(file: string, out: string): { done: Promise<{ code: number | null; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [BIN, 'verify', file, '--out', out], {
    env: {
      ...process.env,
      ...demoEnvironment(world.dnsServers, world.smtpPort),
      REDIS_URL,
      HYGIENE_PREFIX: prefix,
      HYGIENE_LOCK_DURATION_MS: '2000',
      HYGIENE_STALLED_INTERVAL_MS: '1000',
      HYGIENE_LEASE_TTL_MS: '2000',
      HYGIENE_JOB_SIZE: '10',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

it('resumes a list after the verify process is killed, losing and duplicating nothing', async () => {
  const emails: string[] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < 15; i++) emails.push(`u${i}@r${d}.test`);
  const file = path.join(dir, 'restart.csv');
  await writeFile(file, `id,email\n${emails.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);
  const out = path.join(dir, 'out');

  const redis = new Redis(REDIS_URL);
  const first = runVerify(file, out);
  // Kill once some addresses have verdicts but the list is far from done.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ids = await redis.zrange(`${prefix}:lists`, '0', '-1');
    const verified = ids.length ? Number(await redis.hget(`${prefix}:list:${ids[0]}`, 'verified')) : 0;
    if (verified >= 20) break;
    if (Date.now() > deadline) throw new Error('the first run never got going');
    await new Promise((r) => setTimeout(r, 20));
  }
  first.kill();
  expect((await first.done).code).toBeNull();
  const listIds = await redis.zrange(`${prefix}:lists`, '0', '-1');
  const verifiedBefore = Number(await redis.hget(`${prefix}:list:${listIds[0]}`, 'verified'));
  expect(verifiedBefore).toBeLessThan(150);
  redis.disconnect();

  const second = await runVerify(file, out).done;
  expect(second.stderr).not.toMatch(/hygiene:|"level":(50|60)/);
  expect(second.code).toBe(0);
  const report = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(out, 'restart.report.json'), 'utf8')) as ListReport;
  expect(report.listId).toBe(listIds[0]);
  expect(countsProblems(report)).toEqual([]);
  expect(report.counts.byReason.accepted).toBe(120);
  expect(report.counts.byReason.mailbox_not_found).toBe(30);
  const rows = [...(await readOutput(report.outputs.cleaned)), ...(await readOutput(report.outputs.rejected))];
  expect(rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(emails.map((_, i) => i + 1));
  // Addresses answered before the kill were not asked again: at most the windows in flight at the
  // kill (2 sessions × 9) and the catch-all probes (10, maybe repeated once) come on top.
  const rcpts = world.stats()['mx.restart.test']!.rcptCount;
  expect(rcpts).toBeLessThanOrEqual(150 + 10 + 18 + 10);
}, 90_000);
