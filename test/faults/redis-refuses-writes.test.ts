/**
 * Fault: Redis refuses writes in the middle of a list (issue 13 item 6): a private redis-server whose
 * maxmemory is set to 1 byte with the noeviction policy answers every write with "OOM command not
 * allowed", as a real Redis full of data does, or a replica after a failover ("READONLY").
 *
 * What we want (docs/faults.md, "Redis refuses writes"): the run waits calmly — every pool backs off
 * (exponential, jittered, at most 30 s) and the same warning is logged at most once per 10 s — and
 * once Redis accepts writes again the list completes with every row exactly once and right.
 * Before issue 13 the pool restarted its runner at once on every refused lease write: tens of
 * thousands of log lines in a minute and an event loop too busy to finish the list.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, pingRedis } from '../../src/app/redis-connection.ts';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { expectEveryRowOnce, removeDir, tempDir, uniquePrefix, waitFor, writeContacts } from './fault-helpers.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { configFor, listOptions, worldEnv } from './world-fixtures.ts';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const REFUSAL_MS = 15_000;
const HOSTS = 8;

/** Eight domains, each on its own MX host and with slow DNS; "ok<n>" exist, "no<n>" do not. */
function eightHostWorld() {
  const mxHosts: Record<string, unknown> = {};
  const domains: Record<string, unknown> = {};
  for (let h = 0; h < HOSTS; h++) {
    mxHosts[`mx.d${h}.test`] = { ip: `127.0.13.${20 + h}`, behaviour: { replyDelayMs: 15, pipelining: false } };
    // Slow DNS: jobs taken before Redis fills up submit their probes while it refuses writes.
    domains[`d${h}.test`] = { mx: [{ host: `mx.d${h}.test`, preference: 10 }], mailboxes: Array.from({ length: 100 }, (_, i) => `ok${i}`), dns: { delayMs: 800 } };
  }
  return parseWorldSpec({ mxHosts, domains });
}

function addresses(n: number): { emails: string[]; expected: Map<string, string> } {
  const emails: string[] = [];
  const expected = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const exists = i % 3 !== 0;
    const email = `${exists ? 'ok' : 'no'}${Math.floor(i / HOSTS)}@d${i % HOSTS}.test`;
    emails.push(email);
    expected.set(email, exists ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found');
  }
  return { emails, expected };
}

describe.skipIf(!hasRedisServer)('Redis refusing writes mid-list', () => {
  let world: MailWorld | undefined;
  let runtime: HygieneRuntime | undefined;
  let server: ChildProcess | undefined;
  let admin: Redis | undefined;
  let dir = '';

  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
    admin?.disconnect();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    }
    await world?.stop();
    await removeDir(dir);
  });

  it('waits calmly (few log lines, no spin) while writes are refused, then completes every row right', async () => {
    world = await startMailWorld(eightHostWorld());
    dir = await tempDir('redis-oom');
    await mkdir(path.join(dir, 'redis'));
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', path.join(dir, 'redis'), '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    const url = `redis://127.0.0.1:${port}`;
    await waitFor('redis-server to answer', () => pingRedis(url, 300), 10_000);
    admin = new Redis(url);

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const { emails, expected } = addresses(400);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const env = worldEnv(world.dnsServers, world.smtpPort, uniquePrefix('oom'), { REDIS_URL: url, HYGIENE_JOB_SIZE: '5', HYGIENE_CONCURRENCY: '16', HYGIENE_IDLE_SESSION_MS: '50' });
    runtime = await HygieneRuntime.start({ config: configFor(env), logger: pino({ level: 'info' }, sink), redisUrl: url, verifyWorkers: true, finalizeWorker: true });
    const { listId } = await startList(runtime, { input, outDir: dir, options: listOptions(runtime.config) });
    const rt = runtime;
    // The jobs are queued and the first ones taken (their MX lookups take 0.8 s): Redis fills up now.
    await waitFor('the jobs to be enqueued', async () => (await rt.store.get(listId).catch(() => null))?.state === 'verifying', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Every write is refused from now on: "OOM command not allowed when used memory > 'maxmemory'".
    await admin.config('SET', 'maxmemory', '1');
    await expect(admin.set('probe-write', '1')).rejects.toThrow(/OOM/);
    const before = lines.length;
    const loopLag: number[] = [];
    let last = performance.now();
    const ticker = setInterval(() => {
      const at = performance.now();
      loopLag.push(at - last - 100);
      last = at;
    }, 100);
    await new Promise((resolve) => setTimeout(resolve, REFUSAL_MS));
    clearInterval(ticker);
    const during = lines.slice(before);
    await admin.config('SET', 'maxmemory', '0');

    // Calm: each warning at most once per 10 s (backoff.ts createTroubleLog), a handful in all; no spin.
    // Measured here: 4-6 lines in 15 s; before issue 13, 22-140 ("verify job failed" for every job try).
    const byMessage = new Map<string, number>();
    for (const line of during) {
      const msg = (JSON.parse(line) as { msg?: string }).msg ?? "";
      byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
    }
    expect(during.length, JSON.stringify([...byMessage])).toBeLessThanOrEqual(12);
    expect(Math.max(...loopLag)).toBeLessThan(1_000);

    const report = await readReport(await waitForList(rt, listId, { pollMs: 200 }));
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, `${row.email}: ${row.hygiene_detail}`).toBe(expected.get(row.email ?? ''));
    }
    // eslint-disable-next-line no-console
    console.log(`redis-refuses-writes: ${during.length} log lines in ${REFUSAL_MS / 1000} s of refused writes; list completed`);
  }, 300_000);
});
