/**
 * The engine against a REAL Exim (Debian's exim4-daemon-light binary, see private-exim.ts): one
 * private daemon, mx.exim.test on 127.0.0.80, serving exim.test (accept router over a user list,
 * stock "550 Unrouteable address" for others) and alias.test (redirect router, ":fail: No such
 * user here"); relay.test also points at it and Exim refuses to relay ("550 relay not permitted").
 * DNS comes from our simulated DNS server; the product path is the real one.
 *
 * Asserted from the verdicts: Exim's own reply texts. Asserted from Exim's main log: no DATA, no
 * "SMTP protocol synchronization error" (Exim enforces RFC 2920 pipelining sync), no "too many"
 * (nonmail commands, unknown commands, syntax errors), no lost connections, every session closed
 * by QUIT, at most 2 at once, and every unknown address asked exactly once. The panic log is empty.
 *
 * Needs an exim binary and root. Without them the suite is skipped with the reason, except under
 * CI (CI=true), where it fails: .ci/run unpacks exim4-daemon-light into /opt/exim4-light.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { eximAvailability, startPrivateExim, type PrivateExim } from './private-exim.ts';
import { freePort } from '../helpers/free-port.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const MX_IP = '127.0.0.80';

const availability = await eximAvailability();
const mustRun = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!availability.ok && !mustRun) process.stderr.write(`[exim integration] skipped: ${availability.reason}\n`);

const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
const aliases: Record<string, string> = { postmaster: 'alice', sales: 'bob' };
const existing = [...users.map((u) => `${u}@exim.test`), ...Object.keys(aliases).map((a) => `${a}@alias.test`)];
const unrouteable = Array.from({ length: 16 }, (_, i) => `nobody${i + 1}@exim.test`);
const noSuchUser = Array.from({ length: 5 }, (_, i) => `ghost${i + 1}@alias.test`);
const relayDenied = ['someone1@relay.test', 'someone2@relay.test'];

interface EximLog {
  text: string;
  connections: number;
  closedByQuit: number;
  maxConcurrent: number;
  rejected: Array<{ to: string; reply: string; session: string }>;
}

/** Exim main log with +smtp_connection: "SMTP connection from ..." ... "SMTP connection from ... closed by QUIT". */
function readEximLog(text: string): EximLog {
  let open = 0;
  let maxConcurrent = 0;
  let connections = 0;
  let closedByQuit = 0;
  const rejected: Array<{ to: string; reply: string; session: string }> = [];
  for (const line of text.split('\n')) {
    if (/ SMTP connection from .*\(TCP\/IP connection count = \d+\)/.test(line)) {
      connections += 1;
      open += 1;
      maxConcurrent = Math.max(maxConcurrent, open);
    } else if (/ SMTP connection from .* (closed by QUIT|lost|closed|timed out)/.test(line) || / SMTP connection from .*\[[\d.]+\]:\d+ D=/.test(line)) {
      open -= 1;
      if (/closed by QUIT/.test(line)) closedByQuit += 1;
    }
    // The client's port names the session.
    const r = /\[127\.0\.0\.1\]:(\d+) .* rejected RCPT <([^>]+)>: (.*)$/.exec(line);
    if (r) rejected.push({ session: r[1]!, to: r[2]!, reply: r[3]! });
  }
  return { text, connections, closedByQuit, maxConcurrent, rejected };
}

const suiteName = availability.ok ? `engine against a real Exim ${availability.version}` : `engine against a real Exim (unavailable: ${availability.reason})`;

describe.skipIf(!availability.ok && !mustRun)(suiteName, () => {
  let exim: PrivateExim | undefined;
  let dns: SimDnsServer | undefined;
  let runtime: HygieneRuntime | undefined;
  let prefix = '';
  let listDir = '';
  let out: ListOutputs;
  let log: EximLog;
  let panic = '';

  beforeAll(async () => {
    if (!availability.ok) throw new Error(`CI must run the real-Exim test, but: ${availability.reason}`);
    const port = await freePort(MX_IP);
    exim = await startPrivateExim({
      binary: availability.binary,
      hostname: 'mx.exim.test',
      ip: MX_IP,
      port,
      users,
      aliases,
      tlsCertFile: path.join(FIXTURES, 'mx.test.cert.pem'),
      tlsKeyFile: path.join(FIXTURES, 'mx.test.key.pem'),
    });
    const mx = [{ host: 'mx.exim.test', preference: 10 }];
    dns = await startSimDnsServer(
      parseWorldSpec({
        mxHosts: { 'mx.exim.test': { ip: MX_IP } },
        domains: { 'exim.test': { mx }, 'alias.test': { mx }, 'relay.test': { mx } },
      }),
    );
    prefix = uniquePrefix('exim');
    runtime = await startRuntime(
      worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix, {
        HYGIENE_HELO_NAME: 'verifier.test',
        HYGIENE_MAIL_FROM: 'verify@verifier.test',
      }),
    );
    const dir = (listDir = await tempDir('exim-list'));
    const groups = [existing, unrouteable, noSuchUser, relayDenied];
    const all: string[] = [];
    for (let i = 0; all.length < groups.flat().length; i++) for (const g of groups) if (g[i] !== undefined) all.push(g[i]!);
    const file = path.join(dir, 'contacts.csv');
    await writeFile(file, `id,email\n${all.map((a, i) => `${i + 1},${a}`).join('\n')}\n`);
    out = await runList(runtime, file, path.join(dir, 'out'));
    await runtime.close();
    runtime = undefined;
    // Exim logs the close of a session as the session process ends.
    const deadline = Date.now() + 10_000;
    for (;;) {
      log = readEximLog(await exim.mainlog());
      if ((log.connections > 0 && log.closedByQuit >= log.connections) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    panic = await exim.paniclog();
    if (process.env.POSTFIX_TEST_SHOW_LOG) process.stderr.write(`--- mx.exim.test mainlog\n${log.text}\n--- paniclog\n${panic}\n`);
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    await dns?.stop();
    await exim?.stop();
    if (prefix) await deletePrefix(prefix);
    if (listDir) await rm(listDir, { recursive: true, force: true });
  });

  it('gives Exim-decided verdicts with Exim’s own reply texts', () => {
    expect(countsProblems(out.report)).toEqual([]);
    expect(out.report.rows).toBe(existing.length + unrouteable.length + noSuchUser.length + relayDenied.length);
    const got = (a: string) => {
      const row = out.byEmail.get(a);
      return `${row?.hygiene_status}/${row?.hygiene_reason} "${row?.hygiene_smtp_reply}"`;
    };
    const wrong: string[] = [];
    const want = (a: string, expected: string) => {
      if (got(a) !== expected) wrong.push(`${a}: got ${got(a)}, want ${expected}`);
    };
    for (const a of existing) want(a, 'deliverable/accepted "250 Accepted"');
    for (const a of unrouteable) want(a, 'undeliverable/mailbox_not_found "550 Unrouteable address"');
    for (const a of noSuchUser) want(a, 'undeliverable/mailbox_not_found "550 No such user here"');
    // Relay refusal is about us and the domain, not the mailbox: never "undeliverable".
    for (const a of relayDenied) want(a, 'unknown/policy_block "550 relay not permitted"');
    expect(wrong).toEqual([]);
  });

  it('stays inside Exim’s defences: no sync errors, no "too many", QUIT, ≤ 2 sessions, never DATA', () => {
    expect(panic).toBe('');
    expect(log.text).not.toMatch(/synchronization error|too many|lost|timed out|DATA|unexpected disconnection|TLS error/i);
    expect(log.connections).toBeGreaterThan(0);
    expect(log.closedByQuit).toBe(log.connections);
    expect(log.maxConcurrent).toBeLessThanOrEqual(2);
    // Sessions: the engine keeps failed RCPTs per session under Postfix's soft error limit (10) on
    // every server, so it reconnects now and then, but never per address.
    const perSession = new Map<string, number>();
    for (const r of log.rejected) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
    for (const [session, n] of perSession) expect(n, `session from port ${session}`).toBeLessThan(10);
    expect(log.connections).toBeLessThanOrEqual(Math.ceil(log.rejected.length / 5));
    // The engine used STARTTLS where offered (log_selector +tls_cipher adds X= to the session lines).
    expect(log.text).toMatch(/ X=TLS/);
  });

  it('asks Exim about every unknown address exactly once', () => {
    const rejectedTo = log.rejected.map((r) => r.to);
    for (const a of [...unrouteable, ...noSuchUser]) expect(rejectedTo.filter((t) => t === a), a).toHaveLength(1);
    // One catch-all probe per served domain, rejected as unknown: neither domain looks catch-all.
    for (const domain of ['exim.test', 'alias.test']) {
      const probes = rejectedTo.filter((t) => t.endsWith(`@${domain}`) && !unrouteable.includes(t) && !noSuchUser.includes(t));
      expect(probes, domain).toHaveLength(1);
    }
  });
});
