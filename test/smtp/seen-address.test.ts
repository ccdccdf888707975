/** The address a server saw us at, read from its EHLO reply or greeting (seen-address.ts), table-tested on real wordings. */
import { describe, expect, it } from 'vitest';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { seenClientAddress } from '../../src/smtp/seen-address.ts';

const reply = (code: number, ...lines: string[]): SmtpReply => ({ code, lines, raw: lines.map((l, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\n') });
const POSTFIX_GREETING = reply(220, 'mx.example.com ESMTP Postfix (Debian/GNU)');

describe('seenClientAddress', () => {
  it.each([
    ['Gmail', reply(250, 'mx.google.com at your service, [203.0.113.5]', 'SIZE 157286400', 'PIPELINING'), '203.0.113.5'],
    ['Exim', reply(250, 'mx.example.com Hello verify.example.com [203.0.113.6]', 'SIZE 52428800'), '203.0.113.6'],
    ['Microsoft', reply(250, 'AM0PR01MB1234.eurprd01.prod.exchangelabs.com Hello [2001:db8::7]', 'SIZE 157286400'), '2001:db8::7'],
    ['an IPv6 literal', reply(250, 'mx.example.com Hello [IPv6:2001:DB8::8]'), '2001:db8::8'],
    ['Postfix (shows nothing)', reply(250, 'mx.example.com', 'PIPELINING', 'SIZE 10240000'), undefined],
  ])('%s', (_name, hello, expected) => {
    expect(seenClientAddress(POSTFIX_GREETING, hello, '192.0.2.25')).toBe(expected);
  });

  it('a greeting that shows the client is read when the EHLO reply does not; the server\'s own address never counts', () => {
    expect(seenClientAddress(reply(220, 'mx.example.com ESMTP ready, you are [203.0.113.9]'), reply(250, 'mx.example.com'), '192.0.2.25')).toBe('203.0.113.9');
    expect(seenClientAddress(reply(220, 'mx.example.com [192.0.2.25] ESMTP'), reply(250, 'mx.example.com'), '192.0.2.25')).toBeUndefined();
    expect(seenClientAddress(reply(220, 'mx [999.1.1.1] ESMTP'), undefined)).toBeUndefined();
  });
});
