/**
 * Progress says what it waits for (issue 16): while a greylisting retry or a paused MX holds
 * addresses back, the list records what its delayed jobs wait for and until when, and the progress
 * line says "2 addresses greylisted, next try at 21:33:05 (in 3s)" or "mx.anvil.test paused (rate
 * limit) until ...: 14 addresses wait" instead of an ETA. `--json` progress ends with a final event
 * whose outputs include the HTML report. Real Redis, real workers, the simulated world on loopback.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { createProgressPrinter } from '../../src/cli/progress.ts';
import { describeWaits, summariseWaits, clockTime } from '../../src/cli/waiting-text.ts';
import type { ListRecord, ListWait } from '../../src/queue/list-store.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { runCli, waitFor } from '../faults/fault-helpers.ts';
import { worldEnv } from '../faults/world-fixtures.ts';
import { deletePrefix, REDIS_URL, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A stream that keeps what is written (the printer's stderr). */
function capture(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

describe('what waits, in words (pure)', () => {
  const now = new Date(2026, 11, 1, 21, 30, 0).getTime();
  const waits: ListWait[] = [
    { kind: 'retry', dueAt: now + 200_000, groups: [{ reason: 'greylisted', mx: 'mx.grey.test', addresses: 1 }] },
    { kind: 'retry', dueAt: now + 190_000, groups: [{ reason: 'greylisted', mx: 'mx.other.test', addresses: 1 }, { reason: 'smtp_error', addresses: 1 }] },
    { kind: 'paused', dueAt: now + 600_000, groups: [{ reason: 'throttled', mx: 'mx.example.test', addresses: 10 }] },
    { kind: 'paused', dueAt: now + 610_000, groups: [{ reason: 'throttled', mx: 'mx.example.test', addresses: 4 }, { reason: 'connection_failed', mx: 'mx.busy.test', addresses: 1 }] },
  ];

  it('sums retries by reason and pauses by MX, each with its earliest due time, soonest first', () => {
    expect(summariseWaits(waits)).toEqual([
      { kind: 'retry', reason: 'greylisted', addresses: 2, dueAt: now + 190_000 },
      { kind: 'retry', reason: 'smtp_error', addresses: 1, dueAt: now + 190_000 },
      { kind: 'paused', reason: 'throttled', mx: 'mx.example.test', addresses: 14, dueAt: now + 600_000 },
      { kind: 'paused', reason: 'connection_failed', mx: 'mx.busy.test', addresses: 1, dueAt: now + 610_000 },
    ]);
  });

  it('says what each waits for and until when', () => {
    expect(describeWaits(summariseWaits(waits), now)).toEqual([
      '2 addresses greylisted, next try at 21:33:10 (in 3m 10s)',
      '1 address told to try again later (smtp_error), next try at 21:33:10 (in 3m 10s)',
      'mx.example.test paused (rate limit) until 21:40:00 (in 10m 00s): 14 addresses wait',
      'mx.busy.test paused (busy) until 21:40:10 (in 10m 10s): 1 address wait',
    ]);
    // Due and not started yet (workers busy): no time in the past.
    expect(describeWaits(summariseWaits(waits.slice(0, 1)), now + 300_000)).toEqual(['1 address greylisted, retrying now']);
  });
});

describe('progress during a wait, on a real run', () => {
  async function world(label: string, spec: unknown, env: Record<string, string>) {
    const w: MailWorld = await startMailWorld(parseWorldSpec(spec));
    const prefix = uniquePrefix(label);
    const runtime: HygieneRuntime = await startRuntime(worldConfig(w, prefix, env));
    const dir = await tempDir(label);
    cleanups.push(async () => {
      await runtime.close();
      await w.stop();
      await deletePrefix(prefix);
    });
    return { runtime, dir, prefix };
  }

  /** Starts the list and polls its waits until `found` says yes; returns the list id and what was seen. */
  async function waitsDuring(runtime: HygieneRuntime, file: string, dir: string, found: (waits: ListWait[]) => boolean) {
    const { listId } = await startList(runtime, { input: file, outDir: dir, options: { reject: 'undeliverable', neutraliseFormulas: true } });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const waits = await runtime.store.waiting(listId);
      if (found(waits)) return { listId, waits, list: (await runtime.store.get(listId))! };
      if (Date.now() > deadline) throw new Error('no wait was recorded');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('greylisting: the delayed retry is recorded with its reason, MX and due time; the line says so instead of an ETA; nothing is left once done', async () => {
    const { runtime, dir } = await world(
      'waitgrey',
      { mxHosts: { 'mx.grey.test': { ip: '127.0.6.21', behaviour: { greylistDelayMs: 1_000 } } }, domains: { 'grey.test': { mx: [{ host: 'mx.grey.test', preference: 10 }], mailboxes: ['ann', 'bob'] } } },
      { HYGIENE_GREYLIST_RETRY_MS: '2500', HYGIENE_CATCH_ALL_PROBE: 'false' },
    );
    const file = path.join(dir, 'grey.csv');
    await writeFile(file, 'email\nann@grey.test\nbob@grey.test\n');
    const seen = await waitsDuring(runtime, file, dir, (w) => w.length > 0);
    expect(seen.waits).toHaveLength(1);
    expect(seen.waits[0]).toMatchObject({ kind: 'retry', groups: [{ reason: 'greylisted', mx: 'mx.grey.test', addresses: 2 }] });
    expect(seen.waits[0]!.dueAt).toBeGreaterThan(Date.now());

    for (const json of [false, true]) {
      const out = capture();
      const printer = createProgressPrinter(out.stream, json, { intervalMs: 0, readWaits: () => runtime.store.waiting(seen.listId) });
      printer.list(seen.list); // starts the first read of the waits
      await new Promise((r) => setTimeout(r, 50));
      printer.list(seen.list);
      const last = out.lines().at(-1)!;
      if (json) {
        const event = JSON.parse(last) as { progress: string; waiting: Array<{ reason: string; addresses: number; dueAt: string }> };
        expect(event.progress).toBe('verifying');
        expect(event.waiting).toEqual([{ kind: 'retry', reason: 'greylisted', addresses: 2, dueAt: new Date(seen.waits[0]!.dueAt).toISOString() }]);
      } else {
        expect(last).toContain(`2 addresses greylisted, next try at ${clockTime(seen.waits[0]!.dueAt)}`);
        expect(last).not.toContain('ETA');
      }
    }

    const done = await waitForList(runtime, seen.listId, { pollMs: 50 });
    expect(done.state).toBe('done');
    expect(await runtime.store.waiting(seen.listId)).toEqual([]);
  });

  it('a paused MX: its deferred probes are recorded under the MX with the pause reason', async () => {
    const mailboxes = Array.from({ length: 12 }, (_, i) => `person${i}`);
    const { runtime, dir } = await world(
      'waitpause',
      {
        mxHosts: { 'mx.anvil.test': { ip: '127.0.6.22', behaviour: { rateLimits: [{ count: 'rcpt', max: 4, windowMs: 1_000, reply: '450 4.7.1 Error: too many recipients from {client}' }] } } },
        domains: { 'anvil.test': { mx: [{ host: 'mx.anvil.test', preference: 10 }], mailboxes } },
      },
      { HYGIENE_MX_PAUSE_MS: '1500', HYGIENE_MX_PAUSE_MAX_MS: '3000', HYGIENE_MX_PAUSE_RETRIES: '20', HYGIENE_CATCH_ALL_PROBE: 'false' },
    );
    const file = path.join(dir, 'anvil.csv');
    await writeFile(file, `email\n${mailboxes.map((m) => `${m}@anvil.test`).join('\n')}\n`);
    const seen = await waitsDuring(runtime, file, dir, (w) => w.some((x) => x.kind === 'paused'));
    const [summary] = summariseWaits(seen.waits.filter((w) => w.kind === 'paused'));
    expect(summary).toMatchObject({ kind: 'paused', reason: 'throttled', mx: 'mx.anvil.test' });
    expect(summary!.addresses).toBeGreaterThan(0);
    expect(describeWaits([summary!], Date.now())[0]).toMatch(/^mx\.anvil\.test paused \(rate limit\) until \d\d:\d\d:\d\d \(in \d+s\): \d+ address(es)? wait$/);
    expect((await waitForList(runtime, seen.listId, { pollMs: 50 })).state).toBe('done');
    expect(await runtime.store.waiting(seen.listId)).toEqual([]);
  });
});

describe('hygiene verify --json: the final progress event', () => {
  it('ends with {"progress":"done"} naming every output, the HTML report included', async () => {
    const { dir, file, run } = await verifyJson('finalevent', { ip: '127.0.6.23', behaviour: {} }, ['ann'], 'email\nann@one.test\nnobody@one.test\n');
    expect((await run.exit).code, run.stderr()).toBe(0);
    const final = progressEvents(run.stderr()).at(-1)!;
    expect(final.progress).toBe('done');
    expect(final.rows).toBe(2);
    expect(Object.keys(final.outputs ?? {})).toEqual(['cleaned', 'rejected', 'report', 'html']);
    expect(final.outputs!.html).toBe(path.join(dir, 'out', `${path.basename(file, '.csv')}.report.html`));
    for (const output of Object.values(final.outputs!)) expect(existsSync(output), output).toBe(true);
  });

  it('a run that fails after it printed progress ends with {"progress":"failed", code, error}', async () => {
    // Slow replies keep the list verifying long enough to change its file (INPUT_CHANGED at collect time).
    const { file, run } = await verifyJson('failevent', { ip: '127.0.6.24', behaviour: { replyDelayMs: 150 } }, ['a', 'b', 'c'], 'id,email\n1,a@one.test\n2,b@one.test\n3,c@one.test\n4,x@one.test\n');
    await waitFor('progress lines', () => progressEvents(run.stderr()).length > 0 || run.child.exitCode !== null);
    await writeFile(file, 'id,email\n9,a@one.test\n1,a@one.test\n2,b@one.test\n3,c@one.test\n4,x@one.test\n');
    expect((await run.exit).code, run.stderr()).toBe(1);
    const final = progressEvents(run.stderr()).at(-1)!;
    expect(final).toMatchObject({ progress: 'failed', code: 'INPUT_CHANGED', error: expect.stringContaining(`${path.basename(file)} changed while it was being verified`) });
  });
});

/** `hygiene verify FILE --json` as a child process on a one-host world serving one.test; cleaned up after the test. */
async function verifyJson(label: string, host: { ip: string; behaviour: Record<string, unknown> }, mailboxes: string[], csv: string) {
  const w = await startMailWorld(parseWorldSpec({ mxHosts: { 'mx.one.test': host }, domains: { 'one.test': { mx: [{ host: 'mx.one.test', preference: 10 }], mailboxes } } }));
  const prefix = uniquePrefix(label);
  const dir = await tempDir(label);
  cleanups.push(async () => {
    await w.stop();
    await deletePrefix(prefix);
  });
  const file = path.join(dir, `${label}.csv`);
  await writeFile(file, csv);
  const run = runCli(['verify', file, '--out', path.join(dir, 'out'), '--json'], { ...worldEnv(w.dnsServers, w.smtpPort, prefix), REDIS_URL });
  return { dir, file, run };
}

function progressEvents(stderr: string): Array<{ progress: string; outputs?: Record<string, string>; rows?: number; code?: string; error?: string }> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{"progress"'))
    .map((l) => JSON.parse(l) as { progress: string });
}
