/**
 * `hygiene probe` against the demo world on loopback: the MX lookup, the live transcript (EHLO,
 * STARTTLS, MAIL FROM, the catch-all probe, RCPT TO, QUIT) and the verdict, through the same engine
 * as verify; caches are bypassed so every probe really talks to the server.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { main } from '../../src/cli/main.ts';
import { formatProbe, runProbe, type ProbeResult } from '../../src/cli/probe-command.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { deletePrefix, REDIS_URL, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
let world: MailWorld;
let prefix: string;

beforeAll(async () => {
  world = await startMailWorld(await loadWorldSpecFile(path.join(ROOT, 'samples/world.json')));
  prefix = uniquePrefix('probecmd');
});
afterAll(async () => {
  await world?.stop();
  await deletePrefix(prefix);
});

const clientLines = (r: ProbeResult) => r.transcript.filter((l) => l.direction === 'client').map((l) => l.text);
const serverLines = (r: ProbeResult) => r.transcript.filter((l) => l.direction === 'server').map((l) => l.text);

describe('hygiene probe', () => {
  it('shows the MX records, the whole conversation and the verdict for an unknown mailbox', async () => {
    const result = await runProbe(worldConfig(world, prefix), 'jhon.doe@acme.test');
    expect(result.mx.resolution.kind).toBe('hosts');
    if (result.mx.resolution.kind === 'hosts') {
      expect(result.mx.resolution.hosts.map((h) => [h.exchange, h.preference, h.addresses]).sort()).toEqual([
        ['mx1.mailhost.test', 10, ['127.0.0.11']],
        ['mx2.mailhost.test', 10, ['127.0.0.12']],
      ]);
    }
    const sent = clientLines(result);
    expect(sent[0]).toBe('EHLO verifier.demo.test');
    expect(sent).toContain('STARTTLS');
    expect(sent.filter((c) => c === 'EHLO verifier.demo.test')).toHaveLength(2); // again after TLS (RFC 3207 §4.2)
    expect(sent.some((c) => c.startsWith('MAIL FROM:<verify@demo.test>'))).toBe(true);
    expect(sent.some((c) => /^RCPT TO:<nx-[0-9a-f]+@acme\.test>$/.test(c))).toBe(true); // the catch-all probe
    expect(sent).toContain('RCPT TO:<jhon.doe@acme.test>');
    expect(sent.at(-1)).toBe('QUIT');
    expect(serverLines(result)[0]).toMatch(/^220 mx[12]\.mailhost\.test ESMTP/);
    expect(serverLines(result).at(-1)).toMatch(/^221/);
    expect(result.transcript.some((l) => l.direction === 'info' && l.text.startsWith('TLS established'))).toBe(true);
    // Timings only go forward.
    const times = result.transcript.map((l) => l.atMs);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(result.verdict).toMatchObject({ status: 'undeliverable', reason: 'mailbox_not_found' });
    expect(result.verdict.smtpReply).toMatch(/^550 5\.1\.1 <jhon\.doe@acme\.test>/);

    const text = formatProbe(result);
    expect(text).toContain('MX lookup for acme.test');
    expect(text).toContain('C: RCPT TO:<jhon.doe@acme.test>');
    expect(text).toContain('Verdict: undeliverable / mailbox_not_found');
  });

  it('asks the server every time: a second probe of the same address is not answered from the cache', async () => {
    const config = worldConfig(world, prefix);
    await runProbe(config, 'john.doe@acme.test');
    const again = await runProbe(config, 'john.doe@acme.test');
    expect(clientLines(again)).toContain('RCPT TO:<john.doe@acme.test>');
    expect(again.verdict.cached).toBeFalsy();
    expect(again.verdict).toMatchObject({ status: 'deliverable', reason: 'accepted' });
    // It says where the answer came from and what the cache held (issue 11).
    expect(again.cache.used).toBe(false);
    expect(again.cache.before).toMatchObject({ status: 'deliverable', reason: 'accepted' });
    expect(again.cache.after?.checkedAt).toBe(again.verdict.checkedAt);
    expect(formatProbe(again)).toMatch(/Answer: from the mail server, not the cache \(probe always asks\)\. The cache held deliverable \/ accepted, checked .*; it now holds deliverable \/ accepted/);
    // A greylisted (unknown) answer is shown, never cached.
    const greylisted = await runProbe(config, 'art@vandelay.test');
    expect(greylisted.verdict).toMatchObject({ status: 'unknown', reason: 'greylisted' });
    expect(greylisted.cache).toEqual({ used: false, before: null, after: null });
    expect(formatProbe(greylisted)).toContain('(an unknown answer is never cached)');
  });

  it('reports a catch-all domain as risky, with the probe that showed it', async () => {
    const result = await runProbe(worldConfig(world, prefix), 'whoever@hooli.test');
    expect(result.verdict).toMatchObject({ status: 'risky', reason: 'catch_all' });
    expect(clientLines(result).some((c) => /^RCPT TO:<nx-[0-9a-f]+@hooli\.test>$/.test(c))).toBe(true);
  });

  it('labels the catch-all probe in the transcript (issue 16)', async () => {
    const result = await runProbe(worldConfig(world, prefix), 'jane@acme.test');
    expect(result.catchAllProbe).toMatch(/^nx-[0-9a-f]+@acme\.test$/);
    const labelled = result.transcript.filter((l) => l.role === 'catch-all probe');
    expect(labelled.find((l) => l.direction === 'client')?.text).toBe(`RCPT TO:<${result.catchAllProbe}>`);
    // The server's refusal names the probe address: labelled too. The real RCPT is not.
    expect(labelled.some((l) => l.direction === 'server' && l.text.startsWith('550 5.1.1'))).toBe(true);
    expect(result.transcript.find((l) => l.text === 'RCPT TO:<jane@acme.test>')?.role).toBeUndefined();
    const text = formatProbe(result);
    expect(text).toContain(`C: RCPT TO:<${result.catchAllProbe}>   [catch-all probe]`);
    expect(text).toContain(`[catch-all probe]: ${result.catchAllProbe} is made up not to exist`);
  });

  it('shows each MX host that could not be used and why, then the one that answered (issue 16)', async () => {
    const result = await runProbe(worldConfig(world, prefix), 'tony@stark.test');
    expect(result.verdict).toMatchObject({ status: 'deliverable', reason: 'accepted', mx: 'mx2.stark.test' });
    expect(result.mxAttempts).toEqual([
      { mx: 'mx1.stark.test', preference: 10, outcome: 'not-used', why: expect.stringMatching(/127\.0\.0\.15: .*ECONNREFUSED/) },
      { mx: 'mx2.stark.test', preference: 20, outcome: 'used' },
    ]);
    // In the transcript where it happened, and summed up after it.
    expect(result.transcript.find((l) => l.mx === 'mx1.stark.test')).toMatchObject({ direction: 'info', text: expect.stringMatching(/^not used: /) });
    const text = formatProbe(result);
    expect(text).toMatch(/MX hosts \(in the order tried\):\n +10 {2}mx1\.stark\.test {2}not used: .*ECONNREFUSED.*\n +20 {2}mx2\.stark\.test {2}used/);
    // A domain whose first MX answered has nothing refused to show.
    const plain = await runProbe(worldConfig(world, prefix), 'peter@initech.test');
    expect(plain.mxAttempts.map((a) => a.outcome)).toEqual(['used', 'not-tried']);
    expect(formatProbe(plain)).not.toContain('MX hosts (in the order tried)');
  });

  it('needs no conversation for a domain without mail servers, and says why', async () => {
    const result = await runProbe(worldConfig(world, prefix), 'x@no-such-domain.test');
    expect(result.mx.resolution.kind).toBe('none');
    expect(result.transcript).toEqual([]);
    expect(result.verdict).toMatchObject({ status: 'undeliverable', reason: 'no_such_domain' });
  });

  it('prints JSON for scripts and refuses a non-address with a usage error', async () => {
    const env = { ...demoEnvironment(world.dnsServers, world.smtpPort), REDIS_URL, HYGIENE_PREFIX: prefix, LOG_LEVEL: 'silent' };
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const errWrite = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['probe', 'sales@acme.test', '--json'], env)).toBe(0);
      expect(await main(['probe', 'not-an-address'], env)).toBe(2);
    } finally {
      write.mockRestore();
      errWrite.mockRestore();
    }
    const json = JSON.parse(out.join('')) as ProbeResult;
    expect(json.verdict.status).toBe('deliverable');
    expect(json.transcript.some((l) => l.text === 'RCPT TO:<sales@acme.test>')).toBe(true);
    expect(json.timings.totalMs).toBeGreaterThan(0);
  });
});
