/**
 * A REAL Postfix that rate-limits us (issue 11): a private instance with anvil's
 * smtpd_client_recipient_rate_limit (8 recipients per anvil_rate_time_unit of 5 s), answering every
 * RCPT over the limit with Postfix's own "450 4.7.1 Error: too many recipients from 127.0.0.1".
 * Before issue 11 such a server got ~300 sessions a second (12,000 sessions, 88,000 refused RCPTs
 * for 25 addresses); now the engine pauses the MX fleet-wide with exponential backoff (pauses of
 * 5 s doubling to 10 s here, the anvil unit) and asks the rest when each pause ends.
 *
 * Measured from Postfix's own maillog: sessions and refused RCPTs (smtpd logs "Recipient address
 * rate limit exceeded" for each), at most 2 sessions opened in any 5 s, and the verdicts in the end:
 * every existing mailbox deliverable (or unknown/throttled if the retries ran out), never
 * undeliverable; every unknown one mailbox_not_found. Set POSTFIX_TEST_FIGURES=1 to print the figures.
 *
 * Needs Postfix and root (see private-postfix.ts); skipped with the reason otherwise, except under CI.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { readMaillog, type MaillogFacts } from './postfix-maillog.ts';
import { postfixAvailability, startPrivatePostfix, type PrivatePostfix } from './private-postfix.ts';
import { freePort } from '../helpers/free-port.ts';

const IP = '127.0.0.79';
const RATE_LIMIT = 8;
const UNIT_S = 5;

const availability = await postfixAvailability();
const mustRun = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!availability.ok && !mustRun) process.stderr.write(`[postfix throttle] skipped: ${availability.reason}\n`);

const EXISTING = Array.from({ length: 15 }, (_, i) => `member${i + 1}@anvil.test`);
const UNKNOWN = Array.from({ length: 10 }, (_, i) => `nobody${i + 1}@anvil.test`);

/** Seconds since midnight of a maillog line ("Dec 12 19:44:08 ..." or ISO "2026-12-12T19:44:08..."). */
function secondOf(line: string): number | null {
  const m = /(\d{2}):(\d{2}):(\d{2})/.exec(line);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

describe.skipIf(!availability.ok && !mustRun)(`a real Postfix ${availability.ok ? availability.version : ''} with smtpd_client_recipient_rate_limit`, () => {
  let pf: PrivatePostfix | undefined;
  let dns: SimDnsServer | undefined;
  let runtime: HygieneRuntime | undefined;
  let prefix = '';
  let dir = '';
  let out: ListOutputs;
  let log: { text: string; facts: MaillogFacts };
  let elapsedMs = 0;

  beforeAll(async () => {
    if (!availability.ok) throw new Error(`CI must run the real-Postfix throttling test, but: ${availability.reason}`);
    const port = await freePort(IP);
    pf = await startPrivatePostfix({
      hostname: 'mx.anvil.test',
      ip: IP,
      port,
      domains: ['anvil.test'],
      mailboxes: EXISTING,
      mainCf: {
        smtpd_client_recipient_rate_limit: String(RATE_LIMIT),
        anvil_rate_time_unit: `${UNIT_S}s`,
        // Loopback is not exempt from the limits (the default exception is $mynetworks, which is not us).
        smtpd_client_event_limit_exceptions: '',
      },
    });
    dns = await startSimDnsServer(parseWorldSpec({ mxHosts: { 'mx.anvil.test': { ip: IP } }, domains: { 'anvil.test': { mx: [{ host: 'mx.anvil.test', preference: 10 }] } } }));
    prefix = uniquePrefix('pf-throttle');
    runtime = await startRuntime(
      worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix, {
        HYGIENE_HELO_NAME: 'verifier.test',
        HYGIENE_MAIL_FROM: 'verify@verifier.test',
        // Short backoff for the test (the default starts at 60 s, Postfix's default anvil unit): at least the unit.
        HYGIENE_MX_PAUSE_MS: String(UNIT_S * 1000),
        HYGIENE_MX_PAUSE_MAX_MS: String(2 * UNIT_S * 1000),
        HYGIENE_MX_PAUSE_RETRIES: '10',
        // The product's own session-start budget, not the test worlds' unlimited one.
        HYGIENE_SESSIONS_PER_MINUTE_PER_MX: '60',
        HYGIENE_SESSION_BURST_PER_MX: '5',
      }),
    );
    dir = await tempDir('pf-throttle');
    const all = EXISTING.flatMap((a, i) => [a, UNKNOWN[i]].filter((x): x is string => x !== undefined));
    const file = path.join(dir, 'contacts.csv');
    await writeFile(file, `id,email\n${all.map((a, i) => `${i + 1},${a}`).join('\n')}\n`);
    const started = Date.now();
    out = await runList(runtime, file, path.join(dir, 'out'));
    elapsedMs = Date.now() - started;
    await runtime.close();
    runtime = undefined;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = await pf.maillog();
      const facts = readMaillog(text);
      log = { text, facts };
      if ((facts.sessions.length > 0 && facts.sessions.every((s) => s.counters !== null)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 240_000);

  afterAll(async () => {
    await runtime?.close();
    await dns?.stop();
    await pf?.stop();
    if (prefix) await deletePrefix(prefix);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pauses the MX instead of hammering it: few sessions, few refused RCPTs, at most 2 sessions opened in any anvil unit', () => {
    const refused = (log.text.match(/Recipient address rate limit exceeded/g) ?? []).length;
    const rcpts = log.facts.sessions.reduce((n, s) => n + (s.counters?.rcpt?.total ?? 0), 0);
    const mx = out.report.mx.find((m) => m.mx === 'mx.anvil.test');
    const connects = log.text
      .split('\n')
      .filter((l) => /postfix\/smtpd\[\d+\]: connect from /.test(l))
      .map(secondOf)
      .filter((s): s is number => s !== null);
    const busiestUnit = Math.max(0, ...connects.map((t) => connects.filter((u) => u >= t && u < t + UNIT_S).length));
    const figures = { addresses: EXISTING.length + UNKNOWN.length, sessions: log.facts.sessions.length, rcpts, refusedRcpts: refused, pauses: mx?.pauses, pausedMs: mx?.pausedMs, busiestUnitSessions: busiestUnit, elapsedMs };
    if (process.env.POSTFIX_TEST_FIGURES) process.stderr.write(`[postfix throttle] ${JSON.stringify(figures)}\n`);
    expect(refused).toBeGreaterThan(0); // the limit was really hit
    expect(mx?.pauses).toBeGreaterThanOrEqual(2);
    expect(mx?.pauseReasons?.[0]).toBe('450 4.7.1 Error: too many recipients from 127.0.0.1');
    // One session per pause (plus the first), each refused at most one pipelined window (≤ 9 RCPTs).
    expect(log.facts.sessions.length).toBeLessThanOrEqual((mx?.pauses ?? 0) + 2);
    expect(refused).toBeLessThanOrEqual(9 * (mx?.pauses ?? 0));
    expect(busiestUnit).toBeLessThanOrEqual(2);
    expect(log.facts.maxConcurrentSessions).toBeLessThanOrEqual(2);
    for (const s of log.facts.sessions) {
      expect(s.counters?.data, JSON.stringify(s.counters)).toBeUndefined();
      expect(s.counters?.quit, JSON.stringify(s.counters)).toEqual({ ok: 1, total: 1 });
    }
    expect(log.text).not.toMatch(/too many errors|improper command pipelining/);
  });

  it('gives the right verdicts in the end: existing mailboxes never undeliverable', () => {
    expect(countsProblems(out.report)).toEqual([]);
    const wrong: string[] = [];
    for (const a of EXISTING) {
      const row = out.byEmail.get(a);
      const got = `${row?.hygiene_status}/${row?.hygiene_reason}`;
      if (got !== 'deliverable/accepted' && got !== 'unknown/throttled') wrong.push(`${a}: ${got} (${row?.hygiene_detail})`);
    }
    for (const a of UNKNOWN) {
      const row = out.byEmail.get(a);
      const got = `${row?.hygiene_status}/${row?.hygiene_reason}`;
      if (got !== 'undeliverable/mailbox_not_found' && got !== 'unknown/throttled') wrong.push(`${a}: ${got} (${row?.hygiene_detail})`);
    }
    expect(wrong).toEqual([]);
    // With 10 pause retries every address got its answer here.
    expect(out.report.counts.byReason).toEqual({ accepted: EXISTING.length, mailbox_not_found: UNKNOWN.length });
  });
});
