import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { findEnhancedStatus, kindOfReply, kindOfStatus } from '../../src/bounces/bounce-event.ts';
import { parseDsnMessages } from '../../src/bounces/dsn-parser.ts';
import { parseMailLogLine } from '../../src/bounces/mail-log-parser.ts';

const fixture = (name: string) => readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('status judgement (RFC 3463)', () => {
  it('suppresses only permanent failures about the address', () => {
    expect(kindOfStatus('5.1.1')).toBe('hard');
    expect(kindOfStatus('5.1.10')).toBe('hard');
    expect(kindOfStatus('5.2.1')).toBe('hard');
    expect(kindOfStatus('5.2.2')).toBe('other');
    expect(kindOfStatus('5.7.1')).toBe('other');
    expect(kindOfStatus('4.2.0')).toBe('soft');
    expect(kindOfStatus('2.0.0')).toBeUndefined();
  });

  it('does not read the tail of an IPv4 address as a status code', () => {
    expect(findEnhancedStatus('H=mx.w.test [192.168.1.5]: SMTP error')).toBeUndefined();
    expect(findEnhancedStatus('[10.5.1.1] said: 550 5.1.1 <x@y>')).toBe('5.1.1');
  });

  it('judges replies without an enhanced code by their text', () => {
    expect(kindOfReply('550 No such user here')).toBe('hard');
    expect(kindOfReply('550 Administrative prohibition')).toBe('other');
    expect(kindOfReply('451 Temporary local problem')).toBe('soft');
  });
});

describe('Postfix log lines', () => {
  it('reads every delivery status line of a real-format log', async () => {
    const events = (await fixture('postfix-mail.log')).split('\n').map(parseMailLogLine).filter((e) => e !== null);
    expect(events.map((e) => [e.recipient, e.kind, e.status])).toEqual([
      ['gone@w.test', 'hard', '5.1.1'],
      ['Full@W.test', 'other', '5.2.2'],
      ['slow@w.test', 'soft', '4.2.0'],
      ['blocked@else.test', 'other', '5.7.1'],
      ['nodomain@nxdomain.test', 'hard', '5.1.2'],
    ]);
    expect(events[0]?.diagnostic).toMatch(/^host mx\.w\.test\[127\.0\.0\.61\] said: 550 5\.1\.1 <gone@w\.test>: Recipient address rejected: User unknown/);
    expect(events[0]?.source).toBe('postfix');
  });

  it('ignores sent, other daemons and garbage', () => {
    expect(parseMailLogLine('Jan 15 10:00:05 mail postfix/smtp[2212]: 5A1B2C3D4E: to=<ok@w.test>, relay=x[1.2.3.4]:25, delay=0.3, delays=0.1/0/0.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)')).toBeNull();
    expect(parseMailLogLine('Jan 15 10:00:07 mail postfix/bounce[2300]: 4F9D1C0A3B: sender non-delivery notification: 7C3D4E5F60')).toBeNull();
    expect(parseMailLogLine('\u0000\u0001binary\xff')).toBeNull();
    expect(parseMailLogLine('')).toBeNull();
  });

  it('cleans control characters out of the diagnostic', () => {
    const e = parseMailLogLine('Jan 15 10:00:03 mail postfix/smtp[1]: ABC123: to=<x@w.test>, relay=none, delay=1, delays=1/0/0/0, dsn=5.1.1, status=bounced (bad\u0007\u001b[31m user)');
    expect(e?.diagnostic).toBe('bad [31m user');
  });
});

describe('Exim main log lines', () => {
  it('reads ** failures and == deferrals', async () => {
    const events = (await fixture('exim-mainlog')).split('\n').map(parseMailLogLine).filter((e) => e !== null);
    expect(events.map((e) => [e.recipient, e.kind, e.status])).toEqual([
      ['left@w.test', 'hard', '5.1.1'],
      ['typo@nowhere.test', 'hard', undefined],
      ['later@w.test', 'soft', '4.7.1'],
      ['policy@w.test', 'other', '5.7.1'],
    ]);
    expect(events[0]?.source).toBe('exim');
  });
});

describe('RFC 3464 DSN messages', () => {
  it('reads each recipient group of the delivery-status part', async () => {
    const events = parseDsnMessages(await fixture('dsn-bounce.eml'));
    expect(events.map((e) => [e.recipient, e.kind, e.status])).toEqual([
      ['dsn.gone@w.test', 'hard', '5.1.1'],
      ['dsn.later@w.test', 'soft', '4.2.0'],
      ['dsn.full@w.test', 'other', '5.2.2'],
    ]);
    expect(events[0]?.diagnostic).toMatch(/^550 5\.1\.1 <dsn\.gone@w\.test>: Recipient address rejected: User unknown in virtual mailbox table$/);
  });

  it('reads every message of an mbox and ignores messages that are not DSNs', async () => {
    const dsn = await fixture('dsn-bounce.eml');
    const mbox = `From MAILER-DAEMON Mon Jan 15 10:00:07 2024\n${dsn}\nFrom someone@example.test Mon Jan 15 11:00:00 2024\nSubject: hello\n\nnot a bounce\n\nFrom MAILER-DAEMON Mon Jan 15 12:00:00 2024\n${dsn.replaceAll('dsn.gone', 'dsn.other')}`;
    const events = parseDsnMessages(mbox).filter((e) => e.kind === 'hard');
    expect(events.map((e) => e.recipient)).toEqual(['dsn.gone@w.test', 'dsn.other@w.test']);
  });

  it('reads a base64-encoded delivery-status part and survives hostile nesting', () => {
    const status = Buffer.from('Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; b64@w.test\nAction: failed\nStatus: 5.1.1\n').toString('base64');
    const msg = `Content-Type: multipart/report; boundary=B\n\n--B\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n${status}\n--B--\n`;
    expect(parseDsnMessages(msg).map((e) => e.recipient)).toEqual(['b64@w.test']);
    let nested = 'Content-Type: message/delivery-status\n\nA: b\n\nFinal-Recipient: rfc822; deep@w.test\nAction: failed\nStatus: 5.1.1\n';
    for (let i = 0; i < 50; i++) nested = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${nested}\n--b${i}--\n`;
    expect(parseDsnMessages(nested)).toEqual([]);
  });
});
