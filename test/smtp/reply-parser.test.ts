import { describe, expect, it } from 'vitest';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { isHygieneError } from '../../src/errors.ts';
import { ReplyParser, createReplyParser } from '../../src/smtp/reply-parser.ts';

/** Parse the same bytes all at once and one byte at a time; both must agree. */
function parseBothWays(input: string): SmtpReply[] {
  const whole = createReplyParser().push(input);
  const bytes = Buffer.from(input, 'utf8');
  const parser = new ReplyParser();
  const single: SmtpReply[] = [];
  for (let i = 0; i < bytes.length; i += 1) single.push(...parser.push(bytes.subarray(i, i + 1)));
  expect(single).toEqual(whole);
  expect(parser.hasPartial).toBe(false);
  return whole;
}

function protocolError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isHygieneError(caught, 'SMTP_PROTOCOL')).toBe(true);
}

describe('ReplyParser', () => {
  it('parses a single-line reply with an enhanced code', () => {
    const replies = parseBothWays('550 5.1.1 <x@d>: Recipient address rejected: User unknown in local recipient table\r\n');
    expect(replies).toEqual([
      {
        code: 550,
        enhanced: '5.1.1',
        lines: ['<x@d>: Recipient address rejected: User unknown in local recipient table'],
        raw: '550 5.1.1 <x@d>: Recipient address rejected: User unknown in local recipient table',
      },
    ]);
  });

  it('parses a multi-line Gmail reply, stripping the repeated enhanced code', () => {
    const input =
      '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n' +
      '550-5.1.1 double-checking the recipient\'s email address for typos or\r\n' +
      '550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser a1-20020a05 - gsmtp\r\n';
    const [reply] = parseBothWays(input);
    expect(reply?.code).toBe(550);
    expect(reply?.enhanced).toBe('5.1.1');
    expect(reply?.lines).toEqual([
      'The email account that you tried to reach does not exist. Please try',
      "double-checking the recipient's email address for typos or",
      'unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser a1-20020a05 - gsmtp',
    ]);
    expect(reply?.raw).toBe(input.replace(/\r\n$/, '').replace(/\r\n/g, '\n'));
  });

  it('parses EHLO capabilities, a bare final code and several replies in one chunk', () => {
    const replies = parseBothWays('250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n250\r\n221 2.0.0 Bye\r\n');
    expect(replies.map((r) => r.code)).toEqual([250, 250, 221]);
    expect(replies[0]?.lines).toEqual(['mx.test Hello', 'PIPELINING', 'SIZE 1000']);
    expect(replies[0]?.enhanced).toBeUndefined();
    expect(replies[1]).toEqual({ code: 250, lines: [''], raw: '250' });
    expect(replies[2]?.enhanced).toBe('2.0.0');
    expect(replies[2]?.lines).toEqual(['Bye']);
  });

  it('accepts bare LF line endings and a multi-line greeting', () => {
    const replies = parseBothWays('220-mx.test ESMTP teaser\n220-please wait\n220 mx.test ESMTP ready\n');
    expect(replies).toHaveLength(1);
    expect(replies[0]?.lines).toEqual(['mx.test ESMTP teaser', 'please wait', 'mx.test ESMTP ready']);
    expect(replies[0]?.raw).toBe('220-mx.test ESMTP teaser\n220-please wait\n220 mx.test ESMTP ready');
  });

  it('keeps an enhanced code whose class does not match the basic code as text', () => {
    const [reply] = parseBothWays('550 4.1.1 odd\r\n');
    expect(reply?.enhanced).toBeUndefined();
    expect(reply?.lines).toEqual(['4.1.1 odd']);
    const [other] = parseBothWays('250 2.1.5 Ok\r\n');
    expect(other?.enhanced).toBe('2.1.5');
    const [notCode] = parseBothWays('250 2.1.5x Ok\r\n');
    expect(notCode?.enhanced).toBeUndefined();
  });

  it('returns nothing until the final line arrives', () => {
    const parser = new ReplyParser();
    expect(parser.push('220-teaser\r\n')).toEqual([]);
    expect(parser.hasPartial).toBe(true);
    expect(parser.push('220 rea')).toEqual([]);
    expect(parser.push('dy\r\n')).toHaveLength(1);
    expect(parser.hasPartial).toBe(false);
  });

  it('decodes UTF-8 split across chunks', () => {
    const bytes = Buffer.from('250 héllo wörld\r\n', 'utf8');
    const parser = new ReplyParser();
    const out: SmtpReply[] = [];
    for (let i = 0; i < bytes.length; i += 1) out.push(...parser.push(bytes.subarray(i, i + 1)));
    expect(out[0]?.lines).toEqual(['héllo wörld']);
  });

  it('rejects an overlong line even without a newline, fed byte by byte', () => {
    const parser = new ReplyParser({ maxLineBytes: 64 });
    protocolError(() => {
      for (let i = 0; i < 100; i += 1) parser.push('2');
    });
    // Failed for good.
    protocolError(() => parser.push('250 ok\r\n'));
    protocolError(() => createReplyParser({ maxLineBytes: 10 }).push(`250 ${'x'.repeat(20)}\r\n`));
    protocolError(() => createReplyParser().push(`250 ${'x'.repeat(5000)}`));
    // Exactly at the limit is fine.
    expect(createReplyParser({ maxLineBytes: 10 }).push(`250 ${'x'.repeat(6)}\r\n`)).toHaveLength(1);
  });

  it('rejects a flood of continuation lines', () => {
    protocolError(() => createReplyParser().push('250-x\r\n'.repeat(201)));
    expect(createReplyParser().push(`${'250-x\r\n'.repeat(199)}250 x\r\n`)).toHaveLength(1);
  });

  it('rejects garbage lines', () => {
    for (const bad of ['hello\r\n', '25 ok\r\n', '2500 ok\r\n', '250ok\r\n', '\r\n', '650 x\r\n', '250\tok\r\n', 'HTTP/1.1 400\r\n']) {
      protocolError(() => createReplyParser().push(bad));
    }
  });

  it('rejects a code change inside one multi-line reply', () => {
    protocolError(() => createReplyParser().push('250-a\r\n550 b\r\n'));
  });
});
