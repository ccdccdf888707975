import { describe, expect, it } from 'vitest';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { createReplyParser } from '../../src/smtp/reply-parser.ts';
import { commandAddress, echoedAddress, replyMisfit, type SequenceContext } from '../../src/smtp/reply-sequence.ts';

function reply(wire: string): SmtpReply {
  const [parsed] = createReplyParser().push(wire.endsWith('\n') ? wire : `${wire}\r\n`);
  return parsed!;
}

const BASE: SequenceContext = { mailFrom: 'bounce@probe.example.org', rcptAnsweredWith215: false, pipelined: true, mailReply: reply('250 2.1.0 Ok') };

describe('replyMisfit: real replies fit their command', () => {
  const FITS: Array<[string, string, Partial<SequenceContext>?]> = [
    ['MAIL FROM:<bounce@probe.example.org>', '250 2.1.0 Ok'],
    ['MAIL FROM:<bounce@probe.example.org>', '250 OK'],
    ['MAIL FROM:<bounce@probe.example.org>', '250 2.1.0 <bounce@probe.example.org>... Sender ok'],
    ['MAIL FROM:<bounce@probe.example.org>', '553 5.1.8 <bounce@probe.example.org>: Sender address rejected: Domain not found'],
    ['MAIL FROM:<bounce@probe.example.org>', '421 4.7.0 mx Error: too many errors'],
    ['RCPT TO:<a@d.test>', '250 2.1.5 Ok'],
    ['RCPT TO:<a@d.test>', '250 Accepted'],
    ['RCPT TO:<a@d.test>', '250 2.1.5 <a@d.test>... Recipient ok'],
    ['RCPT TO:<A@D.test>', '550 5.1.1 <a@d.test>: Recipient address rejected: User unknown in local recipient table'],
    ['RCPT TO:<a@d.test>', '550 Unknown local part a in <a@d.test>'],
    ['RCPT TO:<a@d.test>', '550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp'],
    // Our sender, echoed at RCPT time (Postfix delays sender restrictions to RCPT).
    ['RCPT TO:<a@d.test>', '550 5.1.0 <bounce@probe.example.org>: Sender address rejected: User unknown in local recipient table'],
    // Address verification quotes the next hop: the first address is still ours.
    ['RCPT TO:<a@d.test>', '450 4.1.1 <a@d.test>: Recipient address rejected: unverified address: host mx[192.0.2.7] said: 550 5.1.1 <a.real@internal.test>: User unknown'],
    ['RCPT TO:<a@d.test>', '452 4.5.3 Error: too many recipients'],
    ['RCPT TO:<a@d.test>', '554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied'],
    // 2.1.0 to RCPT from a server not known to say 2.1.5, outside a pipelined group.
    ['RCPT TO:<a@d.test>', '250 2.1.0 Ok', { pipelined: false }],
    ['RSET', '250 2.0.0 Ok'],
    ['RSET', '250 Reset OK'],
    ['QUIT', '221 2.0.0 Bye'],
    ['QUIT', '221 mx closing connection'],
    ['EHLO probe.example.org', '250-mx\r\n250 PIPELINING'],
  ];
  it.each(FITS)('%s ← %s', (command, wire, extra) => {
    expect(replyMisfit(command, reply(wire), { ...BASE, ...extra })).toBeNull();
  });
});

describe('replyMisfit: replies that belong to another command', () => {
  const MISFITS: Array<[string, string, RegExp, Partial<SequenceContext>?]> = [
    ['RCPT TO:<a@d.test>', '354 End data with <CR><LF>.<CR><LF>', /intermediate reply/],
    ['MAIL FROM:<bounce@probe.example.org>', '354 Go ahead', /intermediate reply/],
    ['MAIL FROM:<bounce@probe.example.org>', '250 2.1.5 Ok', /recipient's reply/],
    ['MAIL FROM:<bounce@probe.example.org>', '550 5.1.1 <b@d.test>: Recipient address rejected: User unknown', /echoes <b@d\.test>/],
    ['MAIL FROM:<bounce@probe.example.org>', '550 5.1.1 Recipient address rejected: User unknown', /rejects a recipient/],
    ['RCPT TO:<a@d.test>', '550 5.1.1 <b@d.test>: Recipient address rejected: User unknown', /echoes <b@d\.test>, but came for RCPT TO:<a@d\.test>/],
    ['RCPT TO:<a@d.test>', '250 2.1.0 Ok', /repeats the reply to MAIL FROM/],
    ['RCPT TO:<a@d.test>', '250 2.1.0 Sender ok', /answers recipients with 2\.1\.5/, { rcptAnsweredWith215: true, pipelined: false }],
    ['RSET', '250 2.1.5 Ok', /address's reply/],
    ['RSET', '550 5.1.1 <b@d.test>: User unknown', /echoes/],
    ['QUIT', '550 5.1.1 User unknown', /not a reply to QUIT/],
    ['QUIT', '250 2.1.5 Ok', /address's reply/],
  ];
  it.each(MISFITS)('%s ← %s', (command, wire, why, extra) => {
    expect(replyMisfit(command, reply(wire), { ...BASE, ...extra })).toMatch(why);
  });
});

describe('addresses', () => {
  it('reads the address of a command and the first one a reply echoes, lower-cased', () => {
    expect(commandAddress('RCPT TO:<A@D.test>')).toBe('a@d.test');
    expect(commandAddress('MAIL FROM:<bounce@probe.example.org> SMTPUTF8')).toBe('bounce@probe.example.org');
    expect(commandAddress('RSET')).toBeUndefined();
    expect(echoedAddress(reply('550 5.1.1 <X@D.test>: ... <y@d.test>'))).toBe('x@d.test');
    expect(echoedAddress(reply('554 5.7.1 <unknown[192.0.2.1]>: Client host rejected'))).toBeUndefined();
  });
});
