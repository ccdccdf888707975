/**
 * The engine against a REAL Postfix (Debian's package), not our simulation of one: two private
 * instances on loopback, with Postfix's defaults for the error limits (soft 10, hard 20, 1 s sleep)
 * and some common hardening (HELO required, smtpd_forbid_unauth_pipelining = yes as in Postfix 3.9):
 *
 * - mx.real.test on 127.0.0.77: PIPELINING advertised (default), serves real.test; elsewhere.test
 *   also points at it, and Postfix refuses to relay for that domain.
 * - mx.other.test on 127.0.0.78: PIPELINING discarded from EHLO, STARTTLS with the test
 *   certificate; serves other.test.
 *
 * DNS comes from our simulated DNS server (DNS only: no simulated MTA runs). The product path is the
 * real one (runtime, queue, workers, collector). Asserted from the verdicts: Postfix's own reply
 * texts. Asserted from Postfix's maillog: no "improper command pipelining", no "too many errors",
 * no lost connections, every session ends with QUIT, fewer than smtpd_soft_error_limit failed
 * commands per session (so smtpd never sleeps), at most 2 sessions at once, never DATA/BDAT, and
 * every address asked exactly once.
 *
 * Needs Postfix installed and root (see private-postfix.ts). Without them the suite is skipped with
 * the reason, except under CI (CI=true), where it fails: .ci/run installs Postfix.
 */
import { rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { readMaillog, type MaillogFacts } from './postfix-maillog.ts';
import { postfixAvailability, startPrivatePostfix, type PrivatePostfix } from './private-postfix.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const REAL_IP = '127.0.0.77';
const OTHER_IP = '127.0.0.78';
/** Postfix's default smtpd_soft_error_limit: from this many errors on, smtpd sleeps before each reply. */
const SOFT_ERROR_LIMIT = 10;

const availability = await postfixAvailability();
const mustRun = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!availability.ok && !mustRun) {
  process.stderr.write(`[postfix integration] skipped: ${availability.reason}\n`);
}

interface Workload {
  existing: string[];
  unknown: string[];
  relayDenied: string[];
}

/**
 * 78 addresses: 15 mailboxes, 58 unknown (one session would pass both error limits several times
 * over), 5 relay-denied. mx.real.test gets more than one pipeline window (50) of work at once, so
 * the engine opens its second session there.
 */
function workload(): Workload {
  const existing = [
    ...['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].map((l) => `${l}@real.test`),
    ...['judy', 'ken', 'liam', 'mia', 'nick', 'olga'].map((l) => `${l}@other.test`),
  ];
  const unknown = [
    ...Array.from({ length: 45 }, (_, i) => `nobody${i + 1}@real.test`),
    ...Array.from({ length: 13 }, (_, i) => `ghost${i + 1}@other.test`),
  ];
  const relayDenied = Array.from({ length: 5 }, (_, i) => `someone${i + 1}@elsewhere.test`);
  return { existing, unknown, relayDenied };
}

/** A port free on both loopback addresses (each instance listens on its own address, same port). */
async function freePortOn(ips: string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, ips[0], () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const freeEverywhere = await Promise.all(
      ips.map(
        (ip) =>
          new Promise<boolean>((resolve) => {
            const s = net.createServer();
            s.once('error', () => resolve(false));
            s.listen(port, ip, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (freeEverywhere.every(Boolean)) return port;
  }
  throw new Error(`no port free on ${ips.join(', ')}`);
}

/** Waits until every smtpd session logged its disconnect (postlogd writes asynchronously). */
async function settledMaillog(pf: PrivatePostfix): Promise<{ text: string; facts: MaillogFacts }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await pf.maillog();
    const facts = readMaillog(text);
    if ((facts.sessions.length > 0 && facts.sessions.every((s) => s.counters !== null)) || Date.now() > deadline) return { text, facts };
    await new Promise((r) => setTimeout(r, 100));
  }
}

const suiteName = availability.ok ? `engine against a real Postfix ${availability.version}` : `engine against a real Postfix (unavailable: ${availability.reason})`;

describe.skipIf(!availability.ok && !mustRun)(suiteName, () => {
  let real: PrivatePostfix | undefined;
  let other: PrivatePostfix | undefined;
  let dns: SimDnsServer | undefined;
  let runtime: HygieneRuntime | undefined;
  let prefix = '';
  let listDir = '';
  const work = workload();
  let out: ListOutputs;
  let realLog: { text: string; facts: MaillogFacts };
  let otherLog: { text: string; facts: MaillogFacts };

  beforeAll(async () => {
    if (!availability.ok) throw new Error(`CI must run the real-Postfix test, but: ${availability.reason}`);
    const port = await freePortOn([REAL_IP, OTHER_IP]);
    const hardening = {
      smtpd_helo_required: 'yes',
      smtpd_helo_restrictions: 'reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname',
      smtpd_sender_restrictions: 'reject_non_fqdn_sender',
      smtpd_forbid_unauth_pipelining: 'yes',
      smtpd_forbid_bare_newline: 'yes',
    };
    real = await startPrivatePostfix({
      hostname: 'mx.real.test',
      ip: REAL_IP,
      port,
      domains: ['real.test'],
      mailboxes: work.existing.filter((a) => a.endsWith('@real.test')),
      mainCf: hardening,
    });
    other = await startPrivatePostfix({
      hostname: 'mx.other.test',
      ip: OTHER_IP,
      port,
      domains: ['other.test'],
      mailboxes: work.existing.filter((a) => a.endsWith('@other.test')),
      mainCf: {
        ...hardening,
        smtpd_discard_ehlo_keywords: 'pipelining',
        smtpd_tls_security_level: 'may',
        smtpd_tls_cert_file: path.join(FIXTURES, 'mx.test.cert.pem'),
        smtpd_tls_key_file: path.join(FIXTURES, 'mx.test.key.pem'),
        smtpd_tls_loglevel: '1',
      },
    });
    // DNS only: the MX host entries give the A records; no simulated MTA is started.
    const spec = parseWorldSpec({
      mxHosts: { 'mx.real.test': { ip: REAL_IP }, 'mx.other.test': { ip: OTHER_IP } },
      domains: {
        'real.test': { mx: [{ host: 'mx.real.test', preference: 10 }] },
        'other.test': { mx: [{ host: 'mx.other.test', preference: 10 }] },
        'elsewhere.test': { mx: [{ host: 'mx.real.test', preference: 10 }] },
      },
    });
    dns = await startSimDnsServer(spec);
    prefix = uniquePrefix('postfix');
    runtime = await startRuntime(
      worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix, {
        HYGIENE_HELO_NAME: 'verifier.test',
        HYGIENE_MAIL_FROM: 'verify@verifier.test',
      }),
    );

    const dir = (listDir = await tempDir('postfix-list'));
    // Interleave the groups so windows mix mailboxes, unknowns and domains, as a real list would.
    const groups = [work.existing, work.unknown, work.relayDenied];
    const all: string[] = [];
    for (let i = 0; all.length < groups.flat().length; i++) for (const g of groups) if (g[i] !== undefined) all.push(g[i]!);
    const file = path.join(dir, 'contacts.csv');
    await writeFile(file, `id,email\n${all.map((a, i) => `${i + 1},${a}`).join('\n')}\n`);
    out = await runList(runtime, file, path.join(dir, 'out'));
    // Sessions are over once the pools went idle; closing the runtime QUITs any left.
    await runtime.close();
    runtime = undefined;
    realLog = await settledMaillog(real);
    otherLog = await settledMaillog(other);
    if (process.env.POSTFIX_TEST_SHOW_LOG) process.stderr.write(`--- mx.real.test maillog\n${realLog.text}\n--- mx.other.test maillog\n${otherLog.text}\n`);
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    await dns?.stop();
    await real?.stop();
    await other?.stop();
    if (prefix) await deletePrefix(prefix);
    if (listDir) await rm(listDir, { recursive: true, force: true });
  });

  it('gives Postfix-decided verdicts with Postfix’s own reply texts', () => {
    expect(countsProblems(out.report)).toEqual([]);
    expect(out.report.rows).toBe(work.existing.length + work.unknown.length + work.relayDenied.length);
    const wrong: string[] = [];
    const check = (address: string, status: string, reason: string, reply: (r: string) => boolean): void => {
      const row = out.byEmail.get(address);
      if (!row || row.hygiene_status !== status || row.hygiene_reason !== reason || !reply(row.hygiene_smtp_reply ?? '')) {
        wrong.push(`${address}: got ${row?.hygiene_status}/${row?.hygiene_reason} reply "${row?.hygiene_smtp_reply}" (${row?.hygiene_detail}), want ${status}/${reason}`);
      }
    };
    for (const a of work.existing) check(a, 'deliverable', 'accepted', (r) => r.startsWith('250 2.1.5 Ok'));
    for (const a of work.unknown) {
      check(a, 'undeliverable', 'mailbox_not_found', (r) => r === `550 5.1.1 <${a}>: Recipient address rejected: User unknown in virtual mailbox table`);
    }
    // Relay refusal is about us and the domain, not the mailbox: never "undeliverable".
    for (const a of work.relayDenied) check(a, 'unknown', 'policy_block', (r) => /^554 5\.7\.1 <[^>]+@elsewhere\.test>: Relay access denied$/.test(r));
    expect(wrong).toEqual([]);
  });

  it('stays inside Postfix’s defences: no complaints, no error-limit sleeps or 421, ≤ 2 sessions, QUIT, never DATA', () => {
    for (const [name, log] of [['mx.real.test', realLog], ['mx.other.test', otherLog]] as const) {
      const { facts } = log;
      expect(facts.complaints, `${name} complaints`).toEqual([]);
      expect(facts.sessions.length, `${name} sessions`).toBeGreaterThan(0);
      expect(facts.maxConcurrentSessions, `${name} concurrent sessions`).toBeLessThanOrEqual(2);
      for (const s of facts.sessions) {
        const label = `${name} smtpd[${s.pid}] ${JSON.stringify(s.counters)}`;
        expect(s.counters, label).not.toBeNull();
        // Under the soft limit: smtpd never slept (smtpd_error_sleep_time) nor reached the 421.
        expect(s.failedCommands, label).toBeLessThan(SOFT_ERROR_LIMIT);
        expect(s.counters?.quit, label).toEqual({ ok: 1, total: 1 });
        expect(s.counters?.data, label).toBeUndefined();
        expect(s.counters?.bdat, label).toBeUndefined();
        expect(s.counters?.ehlo?.ok, label).toBeGreaterThanOrEqual(1);
      }
    }
    // mx.real.test got more than one pipeline window of work: the engine used both its sessions.
    expect(realLog.facts.maxConcurrentSessions).toBe(2);
    expect(realLog.text).not.toMatch(/too many errors|improper command pipelining/);
    expect(otherLog.text).not.toMatch(/too many errors|improper command pipelining/);
    // STARTTLS was used with the instance that offers it.
    expect(otherLog.facts.tlsSessions).toBe(otherLog.facts.sessions.length);
  });

  it('asks Postfix about every address exactly once', () => {
    const rejectedTo = [...realLog.facts.rejects, ...otherLog.facts.rejects].map((r) => r.to);
    // Every unknown mailbox was rejected exactly once (no re-probe after reconnects).
    for (const a of work.unknown) expect(rejectedTo.filter((t) => t === a), a).toHaveLength(1);
    // Accepted RCPTs are not logged one by one: the counters say how many there were.
    const accepted = (facts: MaillogFacts) => facts.sessions.reduce((n, s) => n + (s.counters?.rcpt?.ok ?? 0), 0);
    expect(accepted(realLog.facts)).toBe(work.existing.filter((a) => a.endsWith('@real.test')).length);
    expect(accepted(otherLog.facts)).toBe(work.existing.filter((a) => a.endsWith('@other.test')).length);
    // One catch-all probe per served domain, rejected as unknown: neither domain looks catch-all.
    for (const domain of ['real.test', 'other.test']) {
      const probes = rejectedTo.filter((t) => t.endsWith(`@${domain}`) && !work.unknown.includes(t));
      expect(probes, domain).toHaveLength(1);
    }
    // Relay refusal is learnt per domain: at most one window's worth of elsewhere.test RCPTs.
    const relay = realLog.facts.rejects.filter((r) => r.to.endsWith('@elsewhere.test'));
    expect(relay.length).toBeGreaterThanOrEqual(1);
    expect(relay.every((r) => /^554 5\.7\.1 .*Relay access denied$/.test(r.reply))).toBe(true);
  });
});
