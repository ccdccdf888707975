/**
 * Servers that slow us down, on the simulated world (issue 11). The real-Postfix version of the
 * first case is test/integration/postfix-throttle.test.ts.
 *
 * - An MX with Postfix anvil's recipient rate limit ("450 4.7.1 Error: too many recipients from
 *   [ip]") is paused fleet-wide with backoff: a bounded number of sessions and refused RCPTs, and in
 *   the end the right verdict for every address, never undeliverable for an existing mailbox.
 * - When the pause retries run out, the addresses are unknown/throttled and stay in cleaned even
 *   with --reject unknown (our fault is not the contact's).
 * - A pause another worker process set is honoured: no session before it ends.
 * - Session starts are budgeted whatever the cause: a server that drops every session sees at
 *   most burst + rate × time connections.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { createMxPauseStore } from '../../src/probe/mx-pause-store.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import type { TranscriptEvent } from '../../src/world/sim-mta.ts';
import { countsProblems, deletePrefix, REDIS_URL, runList, silentLogger, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Postfix anvil's smtpd_client_recipient_rate_limit, with its own reply. */
const anvil = (max: number, windowMs: number): Record<string, unknown> => ({ rateLimits: [{ count: 'rcpt', max, windowMs, reply: '450 4.7.1 Error: too many recipients from {client}' }] });

const MAILBOXES = Array.from({ length: 15 }, (_, i) => `person${i}`);
const EMAILS = [...MAILBOXES.map((m) => `${m}@anvil.test`), ...Array.from({ length: 10 }, (_, i) => `nobody${i}@anvil.test`)];

async function setup(label: string, behaviour: Record<string, unknown>, env: Record<string, string>, onTranscript?: (e: TranscriptEvent) => void) {
  const world: MailWorld = await startMailWorld(
    parseWorldSpec({
      mxHosts: { 'mx.anvil.test': { ip: '127.0.6.1', behaviour } },
      domains: { 'anvil.test': { mx: [{ host: 'mx.anvil.test', preference: 10 }], mailboxes: MAILBOXES } },
    }),
    onTranscript ? { onTranscript } : {},
  );
  const prefix = uniquePrefix(label);
  const runtime: HygieneRuntime = await startRuntime(worldConfig(world, prefix, env));
  const dir = await tempDir(label);
  const file = path.join(dir, 'list.csv');
  await writeFile(file, `id,email\n${EMAILS.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);
  cleanups.push(async () => {
    await runtime.close();
    await world.stop();
    await deletePrefix(prefix);
  });
  return { world, runtime, prefix, dir, file };
}

describe('a server that rate-limits us', () => {
  it('anvil recipient rate limit: paused fleet-wide with backoff, bounded sessions and refusals, right verdicts in the end', async () => {
    const { world, runtime, dir, file } = await setup(
      'anvil',
      anvil(6, 1_000),
      { HYGIENE_MX_PAUSE_MS: '1000', HYGIENE_MX_PAUSE_MAX_MS: '2000', HYGIENE_MX_PAUSE_RETRIES: '20' },
    );
    const out = await runList(runtime, file, path.join(dir, 'out'));
    expect(countsProblems(out.report)).toEqual([]);
    for (const mailbox of MAILBOXES) expect(out.byEmail.get(`${mailbox}@anvil.test`)?.hygiene_status, mailbox).toBe('deliverable');
    expect(out.report.counts.byReason.mailbox_not_found).toBe(10);
    const stats = world.stats()['mx.anvil.test']!;
    const mx = out.report.mx.find((m) => m.mx === 'mx.anvil.test')!;
    if (process.env.TEST_FIGURES) process.stderr.write(`anvil sim: ${JSON.stringify({ sessions: stats.sessionsOpened, rcpts: stats.rcptCount, refused: stats.rateLimited, pauses: mx.pauses, pausedMs: mx.pausedMs })}\n`);
    // 26 RCPTs to answer (25 + the catch-all probe) at 6 a second: a handful of pauses, one session
    // each (plus the first), and at most one pipelined window (≤ 9) of refused RCPTs per pause.
    expect(mx.pauses).toBeGreaterThanOrEqual(3);
    expect(stats.sessionsOpened).toBeLessThanOrEqual(mx.pauses! + 2);
    expect(stats.rateLimited).toBeLessThanOrEqual(9 * mx.pauses!);
    expect(stats.rcptCount).toBe(26 + stats.rateLimited);
    expect(mx.pausedMs).toBeGreaterThanOrEqual(1_000 * mx.pauses!);
    expect(mx.pauseReasons?.[0]).toBe('450 4.7.1 Error: too many recipients from 127.0.0.1');
    expect(stats.penalties).toBe(0);
    expect(stats.dataSeen).toBe(0);
  });

  it('when the pause retries run out: unknown/throttled, never undeliverable, never rejected by --reject unknown', async () => {
    const { runtime, dir, file } = await setup('anvil-out', anvil(6, 60_000), { HYGIENE_MX_PAUSE_MS: '300', HYGIENE_MX_PAUSE_RETRIES: '1' });
    const out = await runList(runtime, file, path.join(dir, 'out'), { reject: 'undeliverable,unknown' });
    expect(countsProblems(out.report)).toEqual([]);
    const throttled = out.report.counts.byReason.throttled ?? 0;
    expect(throttled).toBeGreaterThan(0);
    for (const mailbox of MAILBOXES) {
      const row = out.byEmail.get(`${mailbox}@anvil.test`)!;
      expect(['deliverable/accepted', 'unknown/throttled'], mailbox).toContain(`${row.hygiene_status}/${row.hygiene_reason}`);
    }
    const throttledRows = [...out.byEmail.values()].filter((r) => r.hygiene_reason === 'throttled');
    expect(throttledRows[0]?.hygiene_smtp_reply).toBe('450 4.7.1 Error: too many recipients from 127.0.0.1');
    expect(throttledRows[0]?.hygiene_detail).toMatch(/asked us to slow down at RCPT TO .* retries ran out/);
    // In cleaned, not rejected: it is about us, not the contact.
    expect(out.rejected.filter((r) => r.hygiene_reason === 'throttled')).toEqual([]);
  });

  it('honours a pause another worker process set: no session before it ends', async () => {
    const connects: number[] = [];
    const { runtime, prefix, dir, file } = await setup('fleet-pause', {}, { HYGIENE_MX_PAUSE_RETRIES: '5' }, (e) => {
      if (e.direction === '*' && e.line.startsWith('connect from')) connects.push(Date.now());
    });
    const redis = new Redis(REDIS_URL);
    try {
      const other = createMxPauseStore(redis, { keyPrefix: prefix, baseMs: 2_000, maxMs: 2_000, logger: silentLogger, random: () => 0 });
      const pause = await other.pause('127.0.6.1@direct', { reason: '421 4.7.0 mx.anvil.test Error: too many connections from 127.0.0.1', detail: 'another worker was told to slow down', kind: 'rate' });
      const out = await runList(runtime, file, path.join(dir, 'out'));
      expect(out.report.counts.byReason.accepted).toBe(15);
      expect(connects.length).toBeGreaterThan(0);
      expect(Math.min(...connects)).toBeGreaterThanOrEqual(pause.until);
      expect(out.report.mx.find((m) => m.mx === 'mx.anvil.test')?.pauses).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});

describe('session-start budget', () => {
  it('a server that drops every session sees at most burst + rate × time connections', async () => {
    const started = Date.now();
    const { world, runtime, dir, file } = await setup(
      'budget',
      { dropAfterRcpts: 0 },
      { HYGIENE_SESSIONS_PER_MINUTE_PER_MX: '30', HYGIENE_SESSION_BURST_PER_MX: '2', HYGIENE_BACKOFF_MS: '50', HYGIENE_GREYLIST_ATTEMPTS: '2' },
    );
    const out = await runList(runtime, file, path.join(dir, 'out'));
    const elapsed = Date.now() - started;
    expect(countsProblems(out.report)).toEqual([]);
    const sessions = world.stats()['mx.anvil.test']!.sessionsOpened;
    // 30 a minute = one every 2 s after a burst of 2, whatever the engine wanted.
    expect(sessions).toBeGreaterThan(2);
    expect(sessions).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 2_000));
  });
});
