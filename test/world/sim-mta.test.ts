import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimMta, type SimMta, type TranscriptEvent } from '../../src/world/sim-mta.ts';
import { parseWorldSpec, type MtaBehaviour } from '../../src/world/world-spec.ts';
import { connectRaw, type RawSmtpClient } from './raw-smtp-client.ts';

const HOST = 'mx.sim.test';
const IP = '127.0.9.1';
const running: SimMta[] = [];
const clients: RawSmtpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

async function start(behaviour: Partial<MtaBehaviour> = {}, extra: { now?: () => number; onTranscript?: (e: TranscriptEvent) => void; tls?: boolean } = {}) {
  const spec = parseWorldSpec({
    mxHosts: { [HOST]: { ip: IP, behaviour } },
    domains: {
      'acme.test': { mx: [{ host: HOST, preference: 10 }], mailboxes: ['john.doe', 'Jane'], disabled: ['old'], full: ['busy'] },
      'catchall.test': { mx: [{ host: HOST, preference: 10 }], catchAll: true, disabled: ['gone'] },
      'nullmx.test': { nullMx: true },
      'elsewhere.test': { mx: [{ host: 'mx.other.test', preference: 10 }], mailboxes: ['x'] },
    },
  });
  const tlsMaterial = extra.tls
    ? { cert: readFileSync('test/fixtures/tls/mx.test.cert.pem'), key: readFileSync('test/fixtures/tls/mx.test.key.pem') }
    : null;
  const mta = await startSimMta(spec, HOST, { now: extra.now, onTranscript: extra.onTranscript, tls: tlsMaterial });
  running.push(mta);
  return mta;
}

async function session(mta: SimMta, ehlo: 'EHLO' | 'HELO' = 'EHLO'): Promise<RawSmtpClient> {
  const c = await connectRaw(mta.ip, mta.port);
  clients.push(c);
  expect(await c.reply()).toMatch(/^220 /);
  c.send(`${ehlo} probe.example.test`);
  expect(await c.reply()).toMatch(/^250[ -]/);
  return c;
}

async function ask(c: RawSmtpClient, line: string): Promise<string> {
  c.send(line);
  return c.reply();
}

describe('sim MTA: Postfix replies', () => {
  it('greets, advertises extensions and answers RCPT with the Postfix texts', async () => {
    const mta = await start({ smtputf8: true, pipelining: true });
    const c = await connectRaw(mta.ip, mta.port);
    clients.push(c);
    expect(await c.reply()).toBe(`220 ${HOST} ESMTP Postfix`);
    const ehlo = await ask(c, 'EHLO probe.example.test');
    expect(ehlo.split('\n')[0]).toBe(`250-${HOST}`);
    expect(ehlo).toContain('250-PIPELINING');
    expect(ehlo).toContain('SMTPUTF8');
    expect(ehlo).not.toContain('STARTTLS');
    expect(await ask(c, 'MAIL FROM:<probe@example.test>')).toBe('250 2.1.0 Ok');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'RCPT TO:<JANE@ACME.TEST>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'RCPT TO:<nobody@acme.test>')).toBe(
      '550 5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown in virtual mailbox table',
    );
    expect(await ask(c, 'RCPT TO:<old@acme.test>')).toMatch(/^550 5\.2\.1 <old@acme\.test>: /);
    expect(await ask(c, 'RCPT TO:<busy@acme.test>')).toMatch(/^552 5\.2\.2 <busy@acme\.test>: /);
    expect(await ask(c, 'RCPT TO:<anything-at-all@catchall.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'RCPT TO:<gone@catchall.test>')).toMatch(/^550 5\.2\.1 /);
    expect(await ask(c, 'RCPT TO:<x@nullmx.test>')).toBe(
      '556 5.1.10 <x@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)',
    );
    expect(await ask(c, 'RCPT TO:<x@elsewhere.test>')).toBe('554 5.7.1 <x@elsewhere.test>: Relay access denied');
    expect(await ask(c, 'RSET')).toBe('250 2.0.0 Ok');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe('503 5.5.1 Error: need MAIL command');
    expect(await ask(c, 'FOO bar')).toBe('502 5.5.2 Error: command not recognized');
    expect(await ask(c, 'QUIT')).toBe('221 2.0.0 Bye');
    await c.closed;
    expect(mta.stats.rcptCount).toBe(10);
    expect(mta.stats.commands.RCPT).toBe(10);
    expect(mta.stats.commands.EHLO).toBe(1);
    expect(mta.stats.sessionsOpened).toBe(1);
    expect(mta.stats.dataSeen).toBe(0);
  });

  it('records DATA as a violation and refuses it', async () => {
    const mta = await start();
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    await ask(c, 'RCPT TO:<john.doe@acme.test>');
    expect(await ask(c, 'DATA')).toMatch(/^554 /);
    expect(mta.stats.dataSeen).toBe(1);
  });

  it('answers the policy block on every RCPT', async () => {
    const mta = await start({ policyBlock: 'zen.spamhaus.org' });
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe(
      '554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org',
    );
  });

  it('applies the soft error limit penalty, then 421 at the hard limit', async () => {
    const mta = await start({ softErrorLimit: 3, hardErrorLimit: 5, errorSleepMs: 150 });
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      expect(await ask(c, `RCPT TO:<nobody${i}@acme.test>`)).toMatch(/^550 5\.1\.1 /);
      times.push(Date.now() - t);
    }
    // Errors 1 and 2 are immediate; from the 3rd error on every reply sleeps.
    expect(times[0]).toBeLessThan(100);
    expect(times[1]).toBeLessThan(100);
    expect(times[2]).toBeGreaterThanOrEqual(140);
    expect(mta.stats.penalties).toBe(3);
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe(`421 4.7.0 ${HOST} Error: too many errors`);
    await c.closed;
    expect(mta.stats.hardLimitHits).toBe(1);
  });

  it('greylists a triplet until the delay has passed, per (client, sender, recipient)', async () => {
    let now = 1_000_000;
    const mta = await start({ greylistDelayMs: 60_000 }, { now: () => now });
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe(
      '450 4.2.0 <john.doe@acme.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/acme.test.html',
    );
    now += 30_000;
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toMatch(/^450 4\.2\.0 /);
    now += 30_000;
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe('250 2.1.5 Ok');
    // Unknown users are greylisted first too (postgrey runs before reject_unlisted_recipient).
    expect(await ask(c, 'RCPT TO:<nobody@acme.test>')).toMatch(/^450 4\.2\.0 /);
    // Another sender is another triplet.
    await ask(c, 'RSET');
    await ask(c, 'MAIL FROM:<other@example.test>');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toMatch(/^450 4\.2\.0 /);
    expect(mta.stats.greylisted).toBe(4);
  });

  it('greylists for real time with a short delay', async () => {
    const mta = await start({ greylistDelayMs: 300 });
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    expect(await ask(c, 'RCPT TO:<jane@acme.test>')).toMatch(/^450 /);
    await new Promise((r) => setTimeout(r, 350));
    expect(await ask(c, 'RCPT TO:<jane@acme.test>')).toBe('250 2.1.5 Ok');
  });

  it('answers 452 4.5.3 past the recipient limit, and a new transaction starts over', async () => {
    const mta = await start({ recipientLimit: 2 });
    const c = await session(mta);
    await ask(c, 'MAIL FROM:<p@example.test>');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'RCPT TO:<jane@acme.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'RCPT TO:<jane@acme.test>')).toBe('452 4.5.3 Error: too many recipients');
    await ask(c, 'RSET');
    await ask(c, 'MAIL FROM:<p@example.test>');
    expect(await ask(c, 'RCPT TO:<jane@acme.test>')).toBe('250 2.1.5 Ok');
  });

  it('accepts pipelined MAIL/RCPT groups when PIPELINING was advertised', async () => {
    const mta = await start({ pipelining: true });
    const c = await session(mta);
    c.write('MAIL FROM:<p@example.test>\r\nRCPT TO:<john.doe@acme.test>\r\nRCPT TO:<nobody@acme.test>\r\n');
    expect(await c.reply()).toBe('250 2.1.0 Ok');
    expect(await c.reply()).toBe('250 2.1.5 Ok');
    expect(await c.reply()).toMatch(/^550 5\.1\.1 /);
    expect(mta.stats.syncViolations).toBe(0);
  });

  it('detects pipelining into a server that did not advertise it', async () => {
    const mta = await start({ pipelining: false });
    const c = await session(mta);
    c.write('MAIL FROM:<p@example.test>\r\nRCPT TO:<john.doe@acme.test>\r\n');
    expect(await c.reply()).toBe('554 5.5.0 Error: SMTP protocol synchronization');
    await c.closed;
    expect(mta.stats.syncViolations).toBe(1);
  });

  it('detects pipelining after HELO and behind EHLO', async () => {
    const mta = await start({ pipelining: true });
    const c1 = await session(mta, 'HELO');
    c1.write('MAIL FROM:<p@example.test>\r\nRCPT TO:<john.doe@acme.test>\r\n');
    expect(await c1.reply()).toBe('554 5.5.0 Error: SMTP protocol synchronization');
    const c2 = await connectRaw(mta.ip, mta.port);
    clients.push(c2);
    await c2.reply();
    c2.write('EHLO probe.example.test\r\nMAIL FROM:<p@example.test>\r\n');
    expect(await c2.reply()).toBe('554 5.5.0 Error: SMTP protocol synchronization');
    expect(mta.stats.syncViolations).toBe(2);
  });

  it('catches a client talking before the final 220 of a teaser greeting', async () => {
    const mta = await start({ greetingTeaserMs: 150 });
    const c = await connectRaw(mta.ip, mta.port);
    clients.push(c);
    c.send('EHLO too.early.test');
    expect(await c.reply()).toBe(`220-${HOST} ESMTP Postfix\n554 5.5.1 Error: no SMTP service here`);
    await c.closed;
    expect(mta.stats.pregreetViolations).toBe(1);
  });

  it('waits through a teaser greeting for a patient client', async () => {
    const mta = await start({ greetingTeaserMs: 100 });
    const c = await connectRaw(mta.ip, mta.port);
    clients.push(c);
    expect(await c.reply()).toBe(`220-${HOST} ESMTP Postfix\n220 ${HOST} ESMTP Postfix`);
    expect(await ask(c, 'EHLO probe.example.test')).toMatch(/^250-/);
  });

  it('drops or closes with 421 after N RCPTs (faults)', async () => {
    const drop = await start({ dropAfterRcpts: 2 });
    const c = await session(drop);
    await ask(c, 'MAIL FROM:<p@example.test>');
    await ask(c, 'RCPT TO:<john.doe@acme.test>');
    await ask(c, 'RCPT TO:<jane@acme.test>');
    c.send('RCPT TO:<john.doe@acme.test>');
    await expect(c.reply()).rejects.toThrow(/closed/);
    expect(drop.stats.faultDrops).toBe(1);
    await drop.stop();

    const close = await start({ closeAfterRcpts: 1 });
    const c2 = await session(close);
    await ask(c2, 'MAIL FROM:<p@example.test>');
    await ask(c2, 'RCPT TO:<john.doe@acme.test>');
    expect(await ask(c2, 'RCPT TO:<jane@acme.test>')).toMatch(/^421 4\.7\.0 /);
    await c2.closed;
    expect(close.stats.faultCloses).toBe(1);
  });

  it('never greets in silent mode, and slows every reply with replyDelayMs', async () => {
    const silent = await start({ silent: true });
    const c = await connectRaw(silent.ip, silent.port);
    clients.push(c);
    await expect(c.reply(200)).rejects.toThrow(/no reply/);
    expect(silent.stats.sessionsOpened).toBe(1);
    await silent.stop();

    const slow = await start({ replyDelayMs: 100 });
    const t = Date.now();
    const c2 = await session(slow);
    expect(Date.now() - t).toBeGreaterThanOrEqual(190);
    expect(await ask(c2, 'NOOP')).toBe('250 2.0.0 Ok');
  });

  it('refuses connections in refuse mode', async () => {
    const mta = await start({ refuse: true });
    await expect(connectRaw(mta.ip, mta.port || 1)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('limits concurrent sessions per client and tracks the maximum', async () => {
    const mta = await start({ maxConnectionsPerClient: 2 });
    await session(mta);
    await session(mta);
    const third = await connectRaw(mta.ip, mta.port);
    clients.push(third);
    expect(await third.reply()).toBe(`421 4.7.0 ${HOST} Error: too many connections from 127.0.0.1`);
    expect(mta.stats.connectionLimitHits).toBe(1);
    expect(mta.stats.maxConcurrentSessions).toBe(3);
  });

  it('upgrades to TLS with STARTTLS and forgets the session state', async () => {
    const transcript: TranscriptEvent[] = [];
    const mta = await start({ starttls: true }, { tls: true, onTranscript: (e) => transcript.push(e) });
    const c = await connectRaw(mta.ip, mta.port);
    clients.push(c);
    await c.reply();
    const ehlo = await ask(c, 'EHLO probe.example.test');
    expect(ehlo).toContain('250-STARTTLS');
    expect(await ask(c, 'MAIL FROM:<p@example.test>')).toBe('250 2.1.0 Ok');
    expect(await ask(c, 'STARTTLS')).toBe('220 2.0.0 Ready to start TLS');
    await c.startTls();
    // RFC 3207 §4.2: the server forgot the EHLO and the transaction.
    expect(await ask(c, 'MAIL FROM:<p@example.test>')).toBe('503 5.5.1 Error: send HELO/EHLO first');
    const again = await ask(c, 'EHLO probe.example.test');
    expect(again).not.toContain('STARTTLS');
    expect(await ask(c, 'MAIL FROM:<p@example.test>')).toBe('250 2.1.0 Ok');
    expect(await ask(c, 'RCPT TO:<john.doe@acme.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(c, 'STARTTLS')).toBe('554 5.5.1 Error: TLS already active');
    expect(mta.stats.tlsHandshakes).toBe(1);
    expect(transcript.some((e) => e.direction === 'C' && e.line === 'RCPT TO:<john.doe@acme.test>')).toBe(true);
  });

  it('rejects the whole session with a non-220 greeting, serving only QUIT', async () => {
    const mta = await start({ greeting: '554 5.7.1 mx.sim.test Service unavailable' });
    const c = await connectRaw(mta.ip, mta.port);
    clients.push(c);
    expect(await c.reply()).toBe('554 5.7.1 mx.sim.test Service unavailable');
    expect(await ask(c, 'EHLO probe.example.test')).toMatch(/^503 /);
    expect(await ask(c, 'QUIT')).toBe('221 2.0.0 Bye');
  });

  it('needs SMTPUTF8 for non-ASCII addresses and only offers it when configured', async () => {
    const mta = await start({ smtputf8: false });
    const c = await session(mta);
    expect(await ask(c, 'MAIL FROM:<p@example.test> SMTPUTF8')).toBe('555 5.5.4 Unsupported option: SMTPUTF8');
    expect(await ask(c, 'MAIL FROM:<p@example.test>')).toBe('250 2.1.0 Ok');
    expect(await ask(c, 'RCPT TO:<jürgen@acme.test>')).toBe('553 5.6.7 Must declare SMTPUTF8 to send unicode address');
  });
});
