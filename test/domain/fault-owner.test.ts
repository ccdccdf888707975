/**
 * Whose fault a reply or a network outcome is (src/domain/fault-owner.ts), as tables of real reply
 * texts (Postfix anvil, postscreen and restrictions, Gmail, Yahoo, Microsoft, greylisting).
 */
import { describe, expect, it } from 'vitest';
import { cachePolicy, judgeNetwork, judgeReply, OUR_FAULT_REASONS, type ReplyStage } from '../../src/domain/fault-owner.ts';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { createReplyParser } from '../../src/smtp/reply-parser.ts';

/** The reply as the session builds it: through the real parser, from the wire text. */
function parseReplyText(wire: string): SmtpReply {
  const replies = createReplyParser().push(`${wire}\r\n`);
  expect(replies).toHaveLength(1);
  return replies[0] as SmtpReply;
}

type Row = [stage: ReplyStage, reply: string, owner: 'address' | 'remote' | 'us', pause: boolean, refusesUs: boolean];

const rows: Row[] = [
  // Rate limits aimed at our client: pause the MX fleet-wide.
  ['rcpt', '450 4.7.1 Error: too many recipients from 127.0.0.1', 'us', true, false],
  ['rcpt', '450 4.7.1 <a@d.test>: Recipient address rejected: Error: too many recipients from [192.0.2.1]', 'us', true, false],
  ['greeting', '421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1', 'us', true, false],
  ['ehlo', '421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1', 'us', true, false],
  ['rcpt', '421 4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp', 'us', true, false],
  ['rcpt', '421 4.7.0 Try again later, closing connection. (RCPT) - gsmtp', 'us', true, false],
  ['mail', '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', 'us', true, false],
  ['mail', '451 4.7.1 Please try again later', 'remote', true, false],
  ['mail', '450 4.7.1 Sending rate limit exceeded, try again later', 'us', true, false],
  ['rcpt', '550 5.7.1 Message rate limit exceeded', 'us', true, false],
  // A greeting or EHLO that says "busy, later" pauses the MX too (reconnecting at once is hammering).
  ['greeting', '421 Service not available, closing transmission channel', 'remote', true, false],
  ['greeting', '450 4.3.2 Service currently unavailable', 'remote', true, false],
  // Not a rate: the per-message recipient limit (new transaction), greylisting, per-mailbox rate.
  ['rcpt', '452 4.5.3 Error: too many recipients', 'remote', false, false],
  ['rcpt', '450 4.2.0 <a@d.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/d.test.html', 'remote', false, false],
  ['rcpt', '451 4.7.1 Please try again later', 'us', false, false],
  ['rcpt', '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. - gsmtp', 'remote', false, false],
  ['rcpt', '421 4.7.0 mx.d.test Error: too many errors', 'remote', false, false],
  ['rcpt', '452 4.2.2 <a@d.test>: mailbox full', 'remote', false, false],
  // Refusals of us: our IP, HELO name, sender.
  ['greeting', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'us', false, true],
  ['greeting', '554 mx.d.test ESMTP not accepting messages', 'us', false, true],
  ['ehlo', '550 5.7.1 <vm>: Helo command rejected: Host not found', 'us', false, true],
  ['mail', '553 5.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found', 'us', false, true],
  ['mail', '450 4.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found', 'us', false, false],
  ['rcpt', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1', 'us', false, true],
  ['rcpt', '504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname', 'us', false, true],
  ['rcpt', '550 5.7.606 Access denied, banned sending IP [192.0.2.1]', 'us', false, true],
  ['rcpt', '553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1', 'us', false, true],
  ['rcpt', '450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]', 'us', false, false],
  // About the domain's mail set-up, not us and not the mailbox.
  ['rcpt', '554 5.7.1 <a@elsewhere.test>: Relay access denied', 'remote', false, false],
  ['rcpt', '454 4.7.1 <a@elsewhere.test>: Relay access denied', 'remote', false, false],
  // About the mailbox: verdicts.
  ['rcpt', '550 5.1.1 <a@d.test>: Recipient address rejected: User unknown in virtual mailbox table', 'address', false, false],
  ['rcpt', '550 5.1.1 The email account that you tried to reach does not exist. - gsmtp', 'address', false, false],
  ['rcpt', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)', 'address', false, false],
  ['rcpt', '550 5.2.1 <a@d.test>: mailbox disabled', 'address', false, false],
  ['rcpt', '250 2.1.5 Ok', 'address', false, false],
];

describe('judgeReply', () => {
  it.each(rows)('%s %j → %s (pause %s, refuses us %s)', (stage, text, owner, pause, refusesUs) => {
    expect(judgeReply(stage, parseReplyText(text))).toEqual({ owner, pause, refusesUs });
  });
});

describe('judgeNetwork', () => {
  it.each([
    ['connect-timeout', 'remote', 'smtp-port'],
    ['connect-refused', 'remote', null],
    ['session-timeout', 'remote', null],
    ['dns-nxdomain', 'address', 'dns'],
    ['dns-nodata', 'address', null],
    ['dns-servfail', 'remote', 'dns'],
    ['dns-refused', 'remote', 'dns'],
    ['dns-timeout', 'remote', 'dns'],
  ] as const)('%s → %s, suspect %s', (outcome, owner, suspect) => {
    expect(judgeNetwork(outcome)).toEqual({ owner, suspect });
  });
});

describe('cachePolicy: the cache keeps facts only', () => {
  it.each([
    ['deliverable', 'accepted', 'fact'],
    ['risky', 'catch_all', 'fact'],
    ['risky', 'mailbox_full', 'fact'],
    ['undeliverable', 'mailbox_not_found', 'fact'],
    ['undeliverable', 'null_mx', 'fact'],
    ['undeliverable', 'no_such_domain', 'if-dns-healthy'],
    ['undeliverable', 'no_mail_server', 'if-dns-healthy'],
    ['undeliverable', 'suppressed', 'never'],
    ['unknown', 'timeout', 'never'],
    ['unknown', 'connection_failed', 'never'],
    ['unknown', 'policy_block', 'never'],
    ['unknown', 'dns_error', 'never'],
    ['unknown', 'greylisted', 'never'],
    ['unknown', 'throttled', 'never'],
    ['unknown', 'smtp_error', 'never'],
  ] as const)('%s/%s → %s', (status, reason, policy) => {
    expect(cachePolicy({ status, reason })).toBe(policy);
  });

  it('names policy_block and throttled as ours', () => {
    expect([...OUR_FAULT_REASONS].sort()).toEqual(['policy_block', 'throttled']);
  });
});
