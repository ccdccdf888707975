/**
 * Engine behaviour at the edges, against the simulated world: fleet-wide session limits across two
 * runtimes, error-limit pressure from one domain full of unknown users, a server that closes with 421
 * mid-session, a silent MX, and non-ASCII local parts on a server without SMTPUTF8.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startList, waitForList, readReport } from '../../src/app/list-runner.ts';
import { countsProblems, deletePrefix, readOutput, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(spec: unknown, label: string, env: Record<string, string> = {}, runtimes = 1) {
  const world = await startMailWorld(parseWorldSpec(spec));
  const prefix = uniquePrefix(label);
  const config = worldConfig(world, prefix, env);
  const started: HygieneRuntime[] = [];
  for (let i = 0; i < runtimes; i++) started.push(await startRuntime(config));
  const dir = await tempDir(label);
  cleanups.push(async () => {
    for (const r of started) await r.close();
    await world.stop();
    await deletePrefix(prefix);
  });
  return { world, runtimes: started, dir };
}

async function csv(dir: string, name: string, emails: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `id,email\n${emails.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);
  return file;
}

describe('engine edges', () => {
  it('keeps sessions per MX within the limit across two worker runtimes sharing Redis', async () => {
    const domains: Record<string, unknown> = {};
    const emails: string[] = [];
    for (let d = 0; d < 12; d++) {
      domains[`slow${d}.test`] = { mx: [{ host: 'mx.slow.test', preference: 10 }], mailboxes: ['a', 'b', 'c'] };
      for (const l of ['a', 'b', 'c', 'x']) emails.push(`${l}@slow${d}.test`);
    }
    const { world, runtimes, dir } = await setup(
      { mxHosts: { 'mx.slow.test': { ip: '127.0.4.1', behaviour: { replyDelayMs: 15 } } }, domains },
      'fleet',
      { HYGIENE_MAX_SESSIONS_PER_MX: '1', HYGIENE_JOB_SIZE: '4', HYGIENE_CONCURRENCY: '8' },
      2,
    );
    const file = await csv(dir, 'fleet.csv', emails);
    const started = await startList(runtimes[0]!, { input: file, outDir: path.join(dir, 'out'), options: { reject: 'undeliverable', neutraliseFormulas: true } });
    const report = await readReport(await waitForList(runtimes[0]!, started.listId, { pollMs: 50 }));
    expect(countsProblems(report)).toEqual([]);
    expect(report.counts.byReason.accepted).toBe(36);
    expect(report.counts.byReason.mailbox_not_found).toBe(12);
    // Both runtimes had work (jobs of 4 addresses, concurrency 8 each), yet never two sessions at once.
    expect(world.stats()['mx.slow.test']!.maxConcurrentSessions).toBe(1);
  });

  it('reconnects before the error limit on a domain full of unknown users', async () => {
    const emails = Array.from({ length: 60 }, (_, i) => `unknown${i}@big.test`).concat(['real@big.test']);
    const { world, runtimes, dir } = await setup(
      { mxHosts: { 'mx.big.test': { ip: '127.0.4.2', behaviour: {} } }, domains: { 'big.test': { mx: [{ host: 'mx.big.test', preference: 10 }], mailboxes: ['real'] } } },
      'budget',
    );
    const out = await runList(runtimes[0]!, await csv(dir, 'budget.csv', emails), path.join(dir, 'out'));
    expect(out.report.counts.byReason.mailbox_not_found).toBe(60);
    expect(out.byEmail.get('real@big.test')?.hygiene_status).toBe('deliverable');
    const stats = world.stats()['mx.big.test']!;
    expect(stats.penalties).toBe(0);
    expect(stats.hardLimitHits).toBe(0);
    // 61 rejections incl. the catch-all probe, at most 9 per session.
    expect(stats.sessionsOpened).toBeGreaterThanOrEqual(7);
    expect(stats.rcptCount).toBe(62);
  });

  it('resumes after a 421 mid-session without asking any address twice', async () => {
    const mailboxes = Array.from({ length: 30 }, (_, i) => `user${i}`);
    const { world, runtimes, dir } = await setup(
      { mxHosts: { 'mx.flaky.test': { ip: '127.0.4.3', behaviour: { closeAfterRcpts: 7 } } }, domains: { 'flaky.test': { mx: [{ host: 'mx.flaky.test', preference: 10 }], mailboxes } } },
      'flaky',
      // The 421 says "too many recipients from this client, try again later": the MX is paused (issue 11); keep the pauses short.
      { HYGIENE_MX_PAUSE_MS: '200', HYGIENE_MX_PAUSE_MAX_MS: '400', HYGIENE_MX_PAUSE_RETRIES: '20' },
    );
    const out = await runList(runtimes[0]!, await csv(dir, 'flaky.csv', mailboxes.map((m) => `${m}@flaky.test`)), path.join(dir, 'out'));
    expect(out.report.counts.byReason.accepted).toBe(30);
    const report = out.report.mx.find((m) => m.mx === 'mx.flaky.test');
    expect(report?.reconnects).toBeGreaterThan(0);
    // Each 421 paused the MX instead of reconnecting at once, and the report says so.
    expect(report?.pauses).toBeGreaterThan(0);
    expect(report?.pauseReasons?.[0]).toMatch(/^421 4\.7\.0 .*too many recipients from this client/);
    // Accepted RCPTs: exactly one per address (+1 catch-all probe); the 421'd ones were re-asked.
    const stats = world.stats()['mx.flaky.test']!;
    expect(stats.faultCloses).toBeGreaterThan(0);
    expect(stats.rcptCount).toBe(31 + stats.faultCloses);
  });

  it('answers unknown/timeout for a silent MX and unverifiable_smtputf8 without SMTPUTF8', async () => {
    const { runtimes, dir } = await setup(
      {
        mxHosts: {
          'mx.silent.test': { ip: '127.0.4.4', behaviour: { silent: true } },
          'mx.ascii.test': { ip: '127.0.4.5', behaviour: { smtputf8: false } },
        },
        domains: {
          'silent.test': { mx: [{ host: 'mx.silent.test', preference: 10 }] },
          'ascii.test': { mx: [{ host: 'mx.ascii.test', preference: 10 }], mailboxes: ['plain'] },
        },
      },
      'edge',
      { HYGIENE_GREETING_TIMEOUT_MS: '400' },
    );
    const out = await runList(runtimes[0]!, await csv(dir, 'edge.csv', ['a@silent.test', 'jürgen@ascii.test', 'plain@ascii.test']), path.join(dir, 'out'));
    expect(out.byEmail.get('a@silent.test')?.hygiene_reason).toBe('timeout');
    expect(out.byEmail.get('a@silent.test')?.hygiene_detail).toMatch(/mx\.silent\.test/);
    expect(out.byEmail.get('jürgen@ascii.test')?.hygiene_reason).toBe('unverifiable_smtputf8');
    expect(out.byEmail.get('plain@ascii.test')?.hygiene_reason).toBe('accepted');
    void readOutput;
  });

  it('stops probing a host that refuses us (blocklist) after its first answers', async () => {
    const { world, runtimes, dir } = await setup(
      {
        mxHosts: {
          'mx.rbl.test': { ip: '127.0.4.6', behaviour: { policyBlock: 'zen.spamhaus.org' } },
          'mx.ok.test': { ip: '127.0.4.7', behaviour: {} },
        },
        domains: {
          'rbl.test': { mx: [{ host: 'mx.rbl.test', preference: 10 }], mailboxes: ['a'] },
          'served.test': { mx: [{ host: 'mx.ok.test', preference: 10 }], mailboxes: ['a'] },
        },
      },
      'policy',
    );
    const emails = [...Array.from({ length: 40 }, (_, i) => `u${i}@rbl.test`), 'a@served.test'];
    const out = await runList(runtimes[0]!, await csv(dir, 'policy.csv', emails), path.join(dir, 'out'));
    expect(out.report.counts.byReason.policy_block).toBe(40);
    expect(out.byEmail.get('a@served.test')?.hygiene_reason).toBe('accepted');
    expect(out.byEmail.get('u39@rbl.test')?.hygiene_smtp_reply).toMatch(/^554 5\.7\.1 .*spamhaus/);
    const stats = world.stats();
    // One pipelined window at most before the host's answer is known.
    expect(stats['mx.rbl.test']!.rcptCount).toBeLessThanOrEqual(9);
    expect(stats['mx.rbl.test']!.penalties).toBe(0);
  });

  it('with --suggest-variants, probes close spellings of an unknown mailbox and suggests the one that exists', async () => {
    const { world, runtimes, dir } = await setup(
      { mxHosts: { 'mx.typo.test': { ip: '127.0.4.8', behaviour: {} } }, domains: { 'typo.test': { mx: [{ host: 'mx.typo.test', preference: 10 }], mailboxes: ['john.doe', 'mary'] } } },
      'variants',
      { HYGIENE_SUGGEST_VARIANTS: '5' },
    );
    const out = await runList(runtimes[0]!, await csv(dir, 'variants.csv', ['jhon.doe@typo.test', 'nobody.here@typo.test', 'mary@typo.test']), path.join(dir, 'out'));
    expect(out.byEmail.get('jhon.doe@typo.test')?.hygiene_reason).toBe('mailbox_not_found');
    expect(out.byEmail.get('jhon.doe@typo.test')?.hygiene_suggestion).toBe('john.doe@typo.test');
    expect(out.byEmail.get('nobody.here@typo.test')?.hygiene_suggestion).toBe('');
    const stats = world.stats()['mx.typo.test']!;
    expect(stats.penalties).toBe(0);
    // 3 addresses + catch-all probe + at most 5 variants for each of the 2 unknown ones.
    expect(stats.rcptCount).toBeLessThanOrEqual(4 + 10);
  });

  it('asks a server that greets with 421 "busy" again later, and records its reply when it stays busy', async () => {
    const { world, runtimes, dir } = await setup(
      {
        mxHosts: { 'mx.busy.test': { ip: '127.0.4.9', behaviour: { greeting: '421 4.3.2 mx.busy.test Service currently unavailable' } } },
        domains: { 'busy.test': { mx: [{ host: 'mx.busy.test', preference: 10 }], mailboxes: ['a'] } },
      },
      'busy',
      // A "busy" greeting pauses the MX fleet-wide (issue 11): the first try and 2 retries after the pause.
      { HYGIENE_GREYLIST_ATTEMPTS: '3', HYGIENE_MX_PAUSE_RETRIES: '2' },
    );
    const out = await runList(runtimes[0]!, await csv(dir, 'busy.csv', ['a@busy.test']), path.join(dir, 'out'));
    const row = out.byEmail.get('a@busy.test');
    expect(row?.hygiene_reason).toBe('connection_failed');
    expect(row?.hygiene_smtp_reply).toMatch(/^421 4\.3\.2/);
    // One session per attempt: asked again after the backoff, never hammered.
    expect(world.stats()['mx.busy.test']!.sessionsOpened).toBe(3);
  });
});
